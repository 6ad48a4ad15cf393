package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsAreValid(t *testing.T) {
	t.Chdir(t.TempDir()) // no preflight.yaml here
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatalf("Load with defaults: %v", err)
	}
	if c.HTTP.Addr != ":8080" || c.Probe.Port != 25 || !c.Probe.Enabled || c.Probe.AllowPrivate {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if len(c.DNS.Resolvers) != 0 {
		t.Fatalf("default resolvers = %v, want none (system)", c.DNS.Resolvers)
	}
}

func TestPrecedence(t *testing.T) {
	t.Chdir(t.TempDir())
	fs := Flags("test")
	if err := fs.Parse([]string{"--config", testdataPath(t, "preflight.yaml"), "--probe.port=2626"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs, env(map[string]string{
		"PREFLIGHT_DNS_RESOLVERS":       "127.0.0.53:53, 127.0.0.54:53",
		"PREFLIGHT_PROBE_ALLOW_PRIVATE": "true",
		"PREFLIGHT_PROBE_PORT":          "2727",
		"PREFLIGHT_DNS_TIMEOUT":         "750ms",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.HTTP.Addr != "127.0.0.1:9090" {
		t.Errorf("http.addr from file = %q", c.HTTP.Addr)
	}
	if got := strings.Join(c.DNS.Resolvers, ","); got != "127.0.0.53:53,127.0.0.54:53" {
		t.Errorf("env must override file for dns.resolvers, got %q", got)
	}
	if !c.Probe.AllowPrivate {
		t.Error("PREFLIGHT_PROBE_ALLOW_PRIVATE not applied")
	}
	if c.Probe.Port != 2626 {
		t.Errorf("flag must override env and file for probe.port, got %d", c.Probe.Port)
	}
	if c.DNS.Timeout != 750*time.Millisecond {
		t.Errorf("dns.timeout = %s", c.DNS.Timeout)
	}
	if c.Probe.HELO != "verify.example.net" || c.Probe.MailFrom != "probe@example.net" {
		t.Errorf("probe identity from file: %q %q", c.Probe.HELO, c.Probe.MailFrom)
	}
}

func TestInvalidValuesNameTheKey(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		env map[string]string
		key string
	}{
		{map[string]string{"PREFLIGHT_PROBE_PORT": "0"}, "probe.port"},
		{map[string]string{"PREFLIGHT_PROBE_PORT": "seventy"}, "probe.port"},
		{map[string]string{"PREFLIGHT_DNS_TIMEOUT": "soon"}, "dns.timeout"},
		{map[string]string{"PREFLIGHT_DNS_RESOLVERS": "127.0.0.1"}, "dns.resolvers"},
		{map[string]string{"PREFLIGHT_HTTP_ADDR": "8080"}, "http.addr"},
		{map[string]string{"PREFLIGHT_PROBE_HELO": "localhost"}, "probe.helo"},
		{map[string]string{"PREFLIGHT_PROBE_MAIL_FROM": "nobody"}, "probe.mail_from"},
		{map[string]string{"PREFLIGHT_PROBE_MAIL_FROM": "prüfung@example.com"}, "probe.mail_from"},
		{map[string]string{"PREFLIGHT_PROBE_HELO": "prüfung.example.com"}, "probe.helo"},
		{map[string]string{"PREFLIGHT_PROBE_BATCH_SIZE": "500"}, "probe.batch_size"},
		{map[string]string{"PREFLIGHT_STORE_URL": "mysql://x"}, "store.url"},
		{map[string]string{"PREFLIGHT_LOG_LEVEL": "loud"}, "log.level"},
		{map[string]string{"PREFLIGHT_LISTS_OVERRIDES": "/nonexistent/overrides.txt"}, "lists.overrides"},
		{map[string]string{"PREFLIGHT_CACHE_URL": "memcached://127.0.0.1"}, "cache.url"},
		{map[string]string{"PREFLIGHT_CACHE_TIMEOUT": "0s"}, "cache.timeout"},
		{map[string]string{"PREFLIGHT_CACHE_URL": "redis://127.0.0.1:6379/0", "PREFLIGHT_CACHE_PROVIDER_RCPT_RATES": "google.com=fast"}, "cache.provider_rcpt_rates"},
		{map[string]string{"PREFLIGHT_CACHE_URL": "redis://127.0.0.1:6379/0", "PREFLIGHT_CACHE_PROVIDER_RCPT_RATES": "google.com"}, "cache.provider_rcpt_rates"},
		{map[string]string{"PREFLIGHT_CACHE_URL": "redis://127.0.0.1:6379/0", "PREFLIGHT_CACHE_PROVIDER_RCPT_RATES": "google.com=-1"}, "cache.provider_rcpt_rates"},
		{map[string]string{"PREFLIGHT_CACHE_PROVIDER_RCPT_RATES": "google.com=20"}, "cache.provider_rcpt_rates"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, err := Load(nil, env(tt.env))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load(%v) error = %v, want ErrInvalid", tt.env, err)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error %q does not name key %s", err, tt.key)
			}
		})
	}
}

func TestUnknownKeyInFileIsRejected(t *testing.T) {
	t.Chdir(t.TempDir())
	fs := Flags("test")
	if err := fs.Parse([]string{"--config", testdataPath(t, "unknown-key.yaml")}); err != nil {
		t.Fatal(err)
	}
	_, err := Load(fs, env(nil))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "prot") {
		t.Fatalf("error = %v, want ErrInvalid naming the unknown key", err)
	}
}

func TestMissingConfigFile(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := Load(nil, env(map[string]string{"PREFLIGHT_CONFIG": "/nonexistent/preflight.yaml"}))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
}

func TestCacheKeys(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(nil, env(map[string]string{
		"PREFLIGHT_CACHE_URL":                 "redis://127.0.0.1:6379/0",
		"PREFLIGHT_CACHE_PROVIDER_RCPT_RATES": "google.com=20, outlook.com=2.5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cache.Prefix != "preflight:" || c.Cache.Timeout != 100*time.Millisecond {
		t.Errorf("cache defaults: %+v", c.Cache)
	}
	if got := strings.Join(c.Cache.ProviderRcptRates, ","); got != "google.com=20,outlook.com=2.5" {
		t.Errorf("cache.provider_rcpt_rates = %q", got)
	}
}

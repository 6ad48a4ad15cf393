// Package config reads Preflight's configuration once, at start-up: the file
// preflight.yaml (optional), then PREFLIGHT_* environment variables, then
// flags (STYLE.md habit 3). It is the only package that imports viper.
// Nothing reads viper after Load returns.
package config

import (
	"errors"
	"fmt"
	"github.com/preflight-email/preflight/egress"
	"github.com/preflight-email/preflight/internal/ascii"
	"github.com/preflight-email/preflight/internal/fleet"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/verify"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the whole configuration. Field tags are the keys of docs/design.md.
type Config struct {
	HTTP        HTTP        `mapstructure:"http"`
	DNS         DNS         `mapstructure:"dns"`
	Probe       Probe       `mapstructure:"probe"`
	Verify      Verify      `mapstructure:"verify"`
	Lists       Lists       `mapstructure:"lists"`
	Store       Store       `mapstructure:"store"`
	Jobs        Jobs        `mapstructure:"jobs"`
	Suppression Suppression `mapstructure:"suppression"`
	Log         Log         `mapstructure:"log"`
	Doctor      Doctor      `mapstructure:"doctor"`
	Auth        Auth        `mapstructure:"auth"`
	Cache       Cache       `mapstructure:"cache"`
}

// Cache configures what a fleet of instances shares through Redis: the
// result, DNS and catch-all caches as a second level behind the local ones,
// and RCPT rates per receiving provider for all instances together.
type Cache struct {
	// URL is redis://… or rediss://…; empty keeps everything in-process.
	URL string `mapstructure:"url"`
	// Prefix begins every key written to Redis.
	Prefix string `mapstructure:"prefix"`
	// Timeout bounds every Redis operation; past it the local caches and
	// limits answer alone.
	Timeout time.Duration `mapstructure:"timeout"`
	// ProviderRcptRates are "suffix=rate" items: at most rate RCPTs a
	// second from the whole fleet to the MX hosts whose name ends in
	// suffix ("google.com=20,outlook.com=10").
	ProviderRcptRates []string `mapstructure:"provider_rcpt_rates"`
}

// Auth configures API keys.
type Auth struct {
	// Required turns API keys on (the default). Off, anyone who can reach
	// the port may use the API: for a trusted network only.
	Required bool `mapstructure:"required"`
	// IPRate and IPBurst limit calls with publishable keys per client IP.
	IPRate  float64 `mapstructure:"ip_rate"`
	IPBurst int     `mapstructure:"ip_burst"`
}

// HTTP configures the API server.
type HTTP struct {
	Addr              string        `mapstructure:"addr"`
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`
	WriteTimeout      time.Duration `mapstructure:"write_timeout"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout   time.Duration `mapstructure:"shutdown_timeout"`
	MaxBodyBytes      int64         `mapstructure:"max_body_bytes"`
	// MaxConnsPerIP bounds the connections one client IP (IPv6: /64)
	// holds open; more get a 429 and are closed.
	MaxConnsPerIP int `mapstructure:"max_conns_per_ip"`
	// TrustedProxies are the proxies (addresses or CIDR ranges) whose
	// X-Forwarded-For names the client; empty: the peer is the client.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
}

// DNS configures the resolver.
type DNS struct {
	Resolvers []string      `mapstructure:"resolvers"`
	Timeout   time.Duration `mapstructure:"timeout"`
	Attempts  int           `mapstructure:"attempts"`
	CacheSize int           `mapstructure:"cache_size"`
}

// Probe configures the SMTP probe and its rules of conduct.
type Probe struct {
	Enabled            bool          `mapstructure:"enabled"`
	Port               int           `mapstructure:"port"`
	HELO               string        `mapstructure:"helo"`
	MailFrom           string        `mapstructure:"mail_from"`
	AllowPrivate       bool          `mapstructure:"allow_private"`
	ConnectTimeout     time.Duration `mapstructure:"connect_timeout"`
	BannerTimeout      time.Duration `mapstructure:"banner_timeout"`
	CommandTimeout     time.Duration `mapstructure:"command_timeout"`
	RatePerHost        float64       `mapstructure:"rate_per_host"`
	BurstPerHost       int           `mapstructure:"burst_per_host"`
	MaxSessionsPerHost int           `mapstructure:"max_sessions_per_host"`
	MaxSessions        int           `mapstructure:"max_sessions"`
	RcptRatePerHost    float64       `mapstructure:"rcpt_rate_per_host"`
	RcptBurstPerHost   int           `mapstructure:"rcpt_burst_per_host"`
	MaxRcptsPerSession int           `mapstructure:"max_rcpts_per_session"`
	BatchSize          int           `mapstructure:"batch_size"`
	IdleTimeout        time.Duration `mapstructure:"idle_timeout"`
	// KeepWarm and MaxWarm are probe.Config's fields of the same names:
	// one idle session per MX host with recent real-time traffic.
	KeepWarm    time.Duration `mapstructure:"keep_warm"`
	MaxWarm     int           `mapstructure:"max_warm"`
	CatchAllTTL time.Duration `mapstructure:"catch_all_ttl"`
	// MaxAttempts, BackoffMin, BackoffMax, MaxRefusalsPerSession and
	// MaxWait are probe.Config's fields of the same names.
	MaxAttempts           int           `mapstructure:"max_attempts"`
	BackoffMin            time.Duration `mapstructure:"backoff_min"`
	BackoffMax            time.Duration `mapstructure:"backoff_max"`
	MaxRefusalsPerSession int           `mapstructure:"max_refusals_per_session"`
	MaxWait               time.Duration `mapstructure:"max_wait"`
	MaxQueuePerHost       int           `mapstructure:"max_queue_per_host"`
	// Egress lists the routes out (package egress): source addresses to
	// bind and socks5:// proxies, each optionally with helo= and
	// public_ip=. Empty: the kernel's choice.
	Egress []string `mapstructure:"egress"`
	// RouteCooldown is how long a route a host refused is benched there.
	RouteCooldown time.Duration `mapstructure:"route_cooldown"`
}

// Doctor configures the checks of our sending identity.
type Doctor struct {
	TestDomain string        `mapstructure:"test_domain"`
	Blocklists []string      `mapstructure:"blocklists"`
	Interval   time.Duration `mapstructure:"interval"`
}

// Verify configures the pipeline around the stages.
type Verify struct {
	// Timeout bounds a real-time check when the caller gives none.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxTimeout caps the caller's ?timeout=.
	MaxTimeout time.Duration `mapstructure:"max_timeout"`
	// ProbeTimeout bounds a probe that goes on in the background after the
	// caller's own timeout has passed.
	ProbeTimeout time.Duration `mapstructure:"probe_timeout"`
	CacheTTL     time.Duration `mapstructure:"cache_ttl"`
	// UnknownCacheTTL is how long an unknown result (greylisted, timeout…)
	// is cached: short, so that a retry soon gets a fresh answer.
	UnknownCacheTTL time.Duration `mapstructure:"unknown_cache_ttl"`
	CacheSize       int           `mapstructure:"cache_size"`
	BatchMax        int           `mapstructure:"batch_max"`
	// MaxBackgroundProbes bounds the probes that go on after their callers
	// gave up, to fill the cache for the next call.
	MaxBackgroundProbes int `mapstructure:"max_background_probes"`
}

// Lists configures the disposable, free and role lists.
type Lists struct {
	// Overrides is a file that adds entries to the embedded lists or
	// removes them ("" for none).
	Overrides string `mapstructure:"overrides"`
}

// Store configures persistence.
type Store struct {
	URL string `mapstructure:"url"`
}

// Jobs configures bulk list verification.
type Jobs struct {
	MaxUploadBytes int64 `mapstructure:"max_upload_bytes"` // decompressed CSV size limit
	MaxRows        int   `mapstructure:"max_rows"`
	// Concurrency is how many addresses of all jobs are in the pipeline at
	// once; the probe's per-host caps and limiters still apply inside.
	Concurrency int `mapstructure:"concurrency"`
	// GreylistDelay and GreylistAttempts govern retries of greylisted
	// addresses before they settle on unknown.
	GreylistDelay    time.Duration `mapstructure:"greylist_delay"`
	GreylistAttempts int           `mapstructure:"greylist_attempts"`
	// WebhookSecret signs completion callbacks (X-Preflight-Signature,
	// HMAC-SHA256); WebhookAllowPrivate lifts the SSRF guard for tests.
	WebhookSecret       string        `mapstructure:"webhook_secret"`
	WebhookAllowPrivate bool          `mapstructure:"webhook_allow_private"`
	WebhookAttempts     int           `mapstructure:"webhook_attempts"`
	WebhookTimeout      time.Duration `mapstructure:"webhook_timeout"`
	// Retention is how long finished jobs are kept; MaxConcurrentUploads
	// and MaxStoredRows bound what uploads may take (429 and 507 past
	// them).
	Retention            time.Duration `mapstructure:"retention"`
	MaxConcurrentUploads int           `mapstructure:"max_concurrent_uploads"`
	MaxStoredRows        int64         `mapstructure:"max_stored_rows"`
	// A job's work is River jobs of ChunkSize addresses; a worker process
	// works Workers of them at once, each for at most ChunkTime before it
	// yields. A chunk running longer than RescueAfter (0: ChunkTime plus a
	// check's timeout plus a minute) is taken for one whose process died.
	ChunkSize   int           `mapstructure:"chunk_size"`
	Workers     int           `mapstructure:"workers"`
	ChunkTime   time.Duration `mapstructure:"chunk_time"`
	RescueAfter time.Duration `mapstructure:"rescue_after"`
}

// Suppression configures the suppression policy for ingested bounces.
type Suppression struct {
	// SoftLimit soft bounces within SoftWindow suppress an address; a hard
	// bounce suppresses it at once, and a block never does.
	SoftLimit  int           `mapstructure:"soft_limit"`
	SoftWindow time.Duration `mapstructure:"soft_window"`
}

// Log configures logging.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// defaults holds every key with its default (STYLE.md habit 3): the service
// runs on these alone.
func defaults() map[string]any {
	// The probe owns its defaults; the keys repeat them, not copy them.
	pd := probe.DefaultConfig()
	return map[string]any{
		"http.addr":                      ":8080",
		"http.read_header_timeout":       5 * time.Second,
		"http.read_timeout":              30 * time.Second,
		"http.write_timeout":             90 * time.Second,
		"http.idle_timeout":              120 * time.Second,
		"http.shutdown_timeout":          20 * time.Second,
		"http.max_body_bytes":            int64(1 << 20),
		"http.max_conns_per_ip":          128,
		"http.trusted_proxies":           []string{},
		"auth.required":                  true,
		"auth.ip_rate":                   2.0,
		"auth.ip_burst":                  10,
		"dns.resolvers":                  []string{},
		"dns.timeout":                    2 * time.Second,
		"dns.attempts":                   2,
		"dns.cache_size":                 100000,
		"probe.enabled":                  true,
		"probe.port":                     pd.Port,
		"probe.helo":                     "",
		"probe.mail_from":                "",
		"probe.allow_private":            false,
		"probe.connect_timeout":          pd.ConnectTimeout,
		"probe.banner_timeout":           pd.BannerTimeout,
		"probe.command_timeout":          pd.CommandTimeout,
		"probe.rate_per_host":            pd.RatePerHost,
		"probe.burst_per_host":           pd.BurstPerHost,
		"probe.max_sessions_per_host":    pd.MaxSessionsPerHost,
		"probe.max_sessions":             pd.MaxSessions,
		"probe.batch_size":               pd.BatchSize,
		"probe.rcpt_rate_per_host":       pd.RcptRatePerHost,
		"probe.rcpt_burst_per_host":      pd.RcptBurstPerHost,
		"probe.max_rcpts_per_session":    pd.MaxRcptsPerSession,
		"probe.idle_timeout":             pd.IdleTimeout,
		"probe.keep_warm":                pd.KeepWarm,
		"probe.max_warm":                 pd.MaxWarm,
		"probe.catch_all_ttl":            pd.CatchAllTTL,
		"probe.max_attempts":             pd.MaxAttempts,
		"probe.backoff_min":              pd.BackoffMin,
		"probe.backoff_max":              pd.BackoffMax,
		"probe.max_refusals_per_session": pd.MaxRefusalsPerSession,
		"probe.max_wait":                 time.Duration(0),
		"probe.max_queue_per_host":       pd.MaxQueuePerHost,
		"probe.egress":                   []string{},
		"probe.route_cooldown":           pd.RouteCooldown,
		"doctor.test_domain":             "gmail.com",
		"doctor.blocklists":              []string{"zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net"},
		"doctor.interval":                time.Hour,
		"verify.timeout":                 10 * time.Second,
		"verify.max_timeout":             60 * time.Second,
		"verify.probe_timeout":           90 * time.Second,
		"verify.cache_ttl":               24 * time.Hour,
		"verify.unknown_cache_ttl":       5 * time.Minute,
		"verify.cache_size":              100000,
		"verify.batch_max":               100,
		"verify.max_background_probes":   verify.DefaultMaxBackground,
		"lists.overrides":                "",
		"store.url":                      "sqlite://preflight.db",
		"jobs.max_upload_bytes":          int64(1 << 30),
		"jobs.max_rows":                  5000000,
		"jobs.concurrency":               256,
		"jobs.greylist_delay":            5 * time.Minute,
		"jobs.greylist_attempts":         3,
		"jobs.webhook_secret":            "",
		"jobs.webhook_allow_private":     false,
		"jobs.webhook_attempts":          5,
		"jobs.webhook_timeout":           10 * time.Second,
		"jobs.retention":                 30 * 24 * time.Hour,
		"jobs.max_concurrent_uploads":    2,
		"jobs.max_stored_rows":           int64(20_000_000),
		"jobs.chunk_size":                500,
		"jobs.workers":                   8,
		"jobs.chunk_time":                30 * time.Second,
		"jobs.rescue_after":              time.Duration(0),
		"suppression.soft_limit":         3,
		"suppression.soft_window":        30 * 24 * time.Hour,
		"log.level":                      "info",
		"log.format":                     "text",
		"cache.url":                      "",
		"cache.prefix":                   fleet.DefaultPrefix,
		"cache.timeout":                  fleet.DefaultTimeout,
		"cache.provider_rcpt_rates":      []string{},
	}
}

// Keys returns every configuration key with its default, for help texts and
// the README.
func Keys() map[string]any { return defaults() }

// Flags returns a flag set with one flag per key (--probe.port=2525 …) and
// --config for the file. Parse it, then pass it to Load.
func Flags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.String("config", "", "configuration file (default: ./preflight.yaml when present)")
	for k, v := range defaults() {
		usage := "config key " + k
		switch v := v.(type) {
		case string:
			fs.String(k, v, usage)
		case bool:
			fs.Bool(k, v, usage)
		case int:
			fs.Int(k, v, usage)
		case int64:
			fs.Int64(k, v, usage)
		case float64:
			fs.Float64(k, v, usage)
		case time.Duration:
			fs.Duration(k, v, usage)
		case []string:
			fs.StringSlice(k, v, usage)
		}
	}
	return fs
}

// ErrInvalid marks a configuration the service must not start with.
var ErrInvalid = errors.New("invalid configuration")

// Load reads the file, the environment (through getenv, so tests need not
// touch the process environment) and the flags that were set, decodes them
// into a Config and validates it. fs may be nil.
func Load(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	v := viper.New()
	for k, d := range defaults() {
		v.SetDefault(k, d)
	}
	file := ""
	if fs != nil {
		if f := fs.Lookup("config"); f != nil {
			file = f.Value.String()
		}
	}
	if file == "" {
		file = getenv("PREFLIGHT_CONFIG")
	}
	switch {
	case file != "":
		v.SetConfigFile(file)
		if err := v.MergeInConfig(); err != nil {
			return Config{}, fmt.Errorf("%w: reading %s: %v", ErrInvalid, file, err)
		}
	default:
		if _, err := os.Stat("preflight.yaml"); err == nil {
			v.SetConfigFile("preflight.yaml")
			if err := v.MergeInConfig(); err != nil {
				return Config{}, fmt.Errorf("%w: reading preflight.yaml: %v", ErrInvalid, err)
			}
		}
	}
	// Environment: PREFLIGHT_PROBE_MAIL_FROM for probe.mail_from. We look the
	// keys up ourselves with getenv rather than with viper.AutomaticEnv, so
	// the process environment is read in exactly one place: the caller.
	// v.Set outranks the file in viper's precedence.
	for k := range defaults() {
		env := "PREFLIGHT_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		if val := getenv(env); val != "" {
			v.Set(k, val)
		}
	}
	// Flags override both, but only those the user actually set.
	if fs != nil {
		keys := defaults()
		fs.Visit(func(f *pflag.Flag) {
			// Commands add flags of their own (--json); only keys are config.
			if _, ok := keys[f.Name]; ok {
				v.Set(f.Name, flagValue(f))
			}
		})
	}
	var c Config
	err := v.UnmarshalExact(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)))
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c.DNS.Resolvers = trimAll(c.DNS.Resolvers)
	c.HTTP.TrustedProxies = trimAll(c.HTTP.TrustedProxies)
	c.Cache.ProviderRcptRates = trimAll(c.Cache.ProviderRcptRates)
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func flagValue(f *pflag.Flag) any {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	return f.Value.String()
}

func trimAll(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Validate checks every value and names the key of the first bad one.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...)))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be a positive duration, got %s", d)
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", "must be host:port, got %q", c.HTTP.Addr)
	}
	positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	if c.HTTP.MaxConnsPerIP < 1 {
		bad("http.max_conns_per_ip", "must be at least 1, got %d", c.HTTP.MaxConnsPerIP)
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes", "must be at least 1024, got %d", c.HTTP.MaxBodyBytes)
	}
	for _, r := range c.DNS.Resolvers {
		host, port, err := net.SplitHostPort(r)
		if err != nil || host == "" {
			bad("dns.resolvers", "each entry must be host:port, got %q", r)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			bad("dns.resolvers", "bad port in %q", r)
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("http.trusted_proxies", "each entry must be an IP address or a CIDR range, got %q", p)
			}
		}
	}
	if c.Auth.IPRate <= 0 {
		bad("auth.ip_rate", "must be positive, got %g", c.Auth.IPRate)
	}
	if c.Auth.IPBurst < 1 {
		bad("auth.ip_burst", "must be at least 1, got %d", c.Auth.IPBurst)
	}
	positive("dns.timeout", c.DNS.Timeout)
	if c.DNS.Attempts < 1 {
		bad("dns.attempts", "must be at least 1, got %d", c.DNS.Attempts)
	}
	if c.DNS.CacheSize < 0 {
		bad("dns.cache_size", "must not be negative, got %d", c.DNS.CacheSize)
	}
	if c.Probe.Port < 1 || c.Probe.Port > 65535 {
		bad("probe.port", "must be 1-65535, got %d", c.Probe.Port)
	}
	if c.Probe.HELO != "" && (strings.ContainsAny(c.Probe.HELO, " \t\r\n@") || !strings.Contains(c.Probe.HELO, ".") || !ascii.Is(c.Probe.HELO)) {
		bad("probe.helo", "must be a fully qualified host name (RFC 5321 §4.1.1.1), got %q", c.Probe.HELO)
	}
	if c.Probe.MailFrom != "" {
		at := strings.LastIndexByte(c.Probe.MailFrom, '@')
		if at < 1 || at == len(c.Probe.MailFrom)-1 || strings.ContainsAny(c.Probe.MailFrom, " \t\r\n<>") || !ascii.Is(c.Probe.MailFrom) {
			bad("probe.mail_from", "must be an address like verify@example.com, got %q", c.Probe.MailFrom)
		}
	}
	positive("probe.connect_timeout", c.Probe.ConnectTimeout)
	positive("probe.banner_timeout", c.Probe.BannerTimeout)
	positive("probe.command_timeout", c.Probe.CommandTimeout)
	if c.Probe.RatePerHost <= 0 {
		bad("probe.rate_per_host", "must be positive, got %g", c.Probe.RatePerHost)
	}
	if c.Probe.BurstPerHost < 1 {
		bad("probe.burst_per_host", "must be at least 1, got %d", c.Probe.BurstPerHost)
	}
	if c.Probe.MaxSessionsPerHost < 1 {
		bad("probe.max_sessions_per_host", "must be at least 1, got %d", c.Probe.MaxSessionsPerHost)
	}
	if c.Probe.MaxSessions < c.Probe.MaxSessionsPerHost {
		bad("probe.max_sessions", "must be at least probe.max_sessions_per_host (%d), got %d", c.Probe.MaxSessionsPerHost, c.Probe.MaxSessions)
	}
	if c.Probe.RcptRatePerHost <= 0 {
		bad("probe.rcpt_rate_per_host", "must be positive, got %g", c.Probe.RcptRatePerHost)
	}
	if c.Probe.RcptBurstPerHost < 1 {
		bad("probe.rcpt_burst_per_host", "must be at least 1, got %d", c.Probe.RcptBurstPerHost)
	}
	if c.Probe.MaxRcptsPerSession < 2 {
		// One catch-all test and one real recipient at the least.
		bad("probe.max_rcpts_per_session", "must be at least 2, got %d", c.Probe.MaxRcptsPerSession)
	}
	if c.Probe.BatchSize < 1 || c.Probe.BatchSize > 100 {
		// RFC 5321 §4.5.3.1.8: servers must take at least 100 recipients.
		bad("probe.batch_size", "must be 1-100, got %d", c.Probe.BatchSize)
	}
	positive("probe.idle_timeout", c.Probe.IdleTimeout)
	if c.Probe.KeepWarm < 0 || c.Probe.KeepWarm > probe.MaxKeepWarm {
		// RFC 5321 §4.5.3.2.7: a server waits 5 minutes for a command.
		bad("probe.keep_warm", "must be 0-%v (no longer than probe.idle_timeout: no warm sessions), got %v", probe.MaxKeepWarm, c.Probe.KeepWarm)
	}
	if c.Probe.MaxWarm < 1 {
		bad("probe.max_warm", "must be at least 1, got %d", c.Probe.MaxWarm)
	}
	positive("probe.catch_all_ttl", c.Probe.CatchAllTTL)
	if c.Probe.MaxAttempts < 1 {
		bad("probe.max_attempts", "must be at least 1, got %d", c.Probe.MaxAttempts)
	}
	positive("probe.backoff_min", c.Probe.BackoffMin)
	if c.Probe.BackoffMax < c.Probe.BackoffMin {
		bad("probe.backoff_max", "must not be below probe.backoff_min (%v), got %v", c.Probe.BackoffMin, c.Probe.BackoffMax)
	}
	if c.Probe.MaxRefusalsPerSession < 1 {
		bad("probe.max_refusals_per_session", "must be at least 1, got %d", c.Probe.MaxRefusalsPerSession)
	}
	if _, err := egress.ParseAll(c.Probe.Egress); err != nil {
		bad("probe.egress", "%v", err)
	}
	positive("doctor.interval", c.Doctor.Interval)
	positive("probe.route_cooldown", c.Probe.RouteCooldown)
	if c.Doctor.TestDomain == "" {
		bad("doctor.test_domain", "must not be empty")
	}
	if c.Probe.MaxQueuePerHost < 1 {
		bad("probe.max_queue_per_host", "must be at least 1, got %d", c.Probe.MaxQueuePerHost)
	}
	if c.Verify.MaxBackgroundProbes < 1 {
		bad("verify.max_background_probes", "must be at least 1, got %d", c.Verify.MaxBackgroundProbes)
	}
	if c.Probe.MaxWait < 0 {
		bad("probe.max_wait", "must not be negative (0: no limit), got %v", c.Probe.MaxWait)
	}
	positive("verify.timeout", c.Verify.Timeout)
	positive("verify.max_timeout", c.Verify.MaxTimeout)
	positive("verify.probe_timeout", c.Verify.ProbeTimeout)
	if c.Verify.Timeout > c.Verify.MaxTimeout {
		bad("verify.timeout", "must not exceed verify.max_timeout (%s), got %s", c.Verify.MaxTimeout, c.Verify.Timeout)
	}
	if c.Verify.CacheTTL < 0 || c.Verify.UnknownCacheTTL < 0 {
		bad("verify.cache_ttl", "must not be negative")
	}
	if c.Verify.CacheSize < 0 {
		bad("verify.cache_size", "must not be negative, got %d", c.Verify.CacheSize)
	}
	if c.Verify.BatchMax < 1 || c.Verify.BatchMax > 1000 {
		bad("verify.batch_max", "must be 1-1000, got %d", c.Verify.BatchMax)
	}
	if c.Lists.Overrides != "" {
		if _, err := os.Stat(c.Lists.Overrides); err != nil {
			bad("lists.overrides", "cannot read %q", c.Lists.Overrides)
		}
	}
	if c.Store.URL != "" {
		u, err := url.Parse(c.Store.URL)
		if err != nil || (u.Scheme != "sqlite" && u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("store.url", "must be sqlite://PATH or postgres://…, got %q", c.Store.URL)
		}
	}
	if c.Jobs.MaxUploadBytes < 1024 {
		bad("jobs.max_upload_bytes", "must be at least 1024, got %d", c.Jobs.MaxUploadBytes)
	}
	if c.Jobs.MaxRows < 1 {
		bad("jobs.max_rows", "must be at least 1, got %d", c.Jobs.MaxRows)
	}
	if c.Jobs.Concurrency < 1 || c.Jobs.Concurrency > 10000 {
		bad("jobs.concurrency", "must be 1-10000, got %d", c.Jobs.Concurrency)
	}
	positive("jobs.greylist_delay", c.Jobs.GreylistDelay)
	if c.Jobs.GreylistAttempts < 1 {
		bad("jobs.greylist_attempts", "must be at least 1, got %d", c.Jobs.GreylistAttempts)
	}
	if c.Jobs.WebhookAttempts < 1 {
		bad("jobs.webhook_attempts", "must be at least 1, got %d", c.Jobs.WebhookAttempts)
	}
	positive("jobs.webhook_timeout", c.Jobs.WebhookTimeout)
	positive("jobs.retention", c.Jobs.Retention)
	if c.Jobs.MaxConcurrentUploads < 1 {
		bad("jobs.max_concurrent_uploads", "must be at least 1, got %d", c.Jobs.MaxConcurrentUploads)
	}
	if c.Jobs.ChunkSize < 1 || c.Jobs.ChunkSize > 100000 {
		bad("jobs.chunk_size", "must be 1-100000, got %d", c.Jobs.ChunkSize)
	}
	if c.Jobs.Workers < 1 || c.Jobs.Workers > 1000 {
		bad("jobs.workers", "must be 1-1000, got %d", c.Jobs.Workers)
	}
	positive("jobs.chunk_time", c.Jobs.ChunkTime)
	if c.Jobs.RescueAfter < 0 {
		bad("jobs.rescue_after", "must not be negative (0 derives it), got %v", c.Jobs.RescueAfter)
	}
	if c.Jobs.MaxStoredRows < int64(c.Jobs.MaxRows) {
		bad("jobs.max_stored_rows", "must be at least jobs.max_rows (%d), got %d", c.Jobs.MaxRows, c.Jobs.MaxStoredRows)
	}
	if c.Suppression.SoftLimit < 1 {
		bad("suppression.soft_limit", "must be at least 1, got %d", c.Suppression.SoftLimit)
	}
	positive("suppression.soft_window", c.Suppression.SoftWindow)
	if c.Cache.URL != "" {
		u, err := url.Parse(c.Cache.URL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("cache.url", "must be redis://HOST:PORT/DB or rediss://…, got %q", c.Cache.URL)
		}
	}
	positive("cache.timeout", c.Cache.Timeout)
	if _, err := fleet.ParseRates(c.Cache.ProviderRcptRates); err != nil {
		bad("cache.provider_rcpt_rates", "%v", err)
	} else if len(c.Cache.ProviderRcptRates) > 0 && c.Cache.URL == "" {
		bad("cache.provider_rcpt_rates", "needs cache.url: a fleet-wide rate is kept in Redis")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

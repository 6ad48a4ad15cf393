// Package config reads Preflight's configuration once, at start-up: the file
// preflight.yaml (optional), then PREFLIGHT_* environment variables, then
// flags (STYLE.md habit 3). It is the only package that imports viper.
// Nothing reads viper after Load returns.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/preflight-email/preflight/internal/fleet"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/verify"

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

package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/preflight-email/preflight/egress"
	"github.com/preflight-email/preflight/internal/ascii"
	"github.com/preflight-email/preflight/probe/internal/smtpwire"
)

// Config holds the probe's knobs. The zero value of every field but HELO
// and MailFrom means its default, so a Config with only those two set works.
type Config struct {
	// Port is the SMTP port of every MX host (default 25). Tests point it at
	// their fake servers.
	Port int
	// HELO is the name we greet with. Use a host name you control, whose
	// address has a matching PTR record (RFC 5321 §4.1.1.1); receivers
	// distrust "localhost" and bare names.
	HELO string
	// MailFrom is the reverse path, an address at a domain you control with
	// an SPF record that allows this host.
	MailFrom string
	// AllowPrivate lets the probe connect to loopback, private, link-local,
	// multicast and unspecified addresses. Tests set it; production never
	// does, so the API cannot be used to scan internal networks.
	AllowPrivate bool

	// Every network step has its own limit (docs/design.md "Rules of conduct").
	// RFC 5321 §4.5.3.2 asks an MTA to wait 5 minutes for a greeting and
	// for RCPT replies. An MTA has a message to deliver; we only ask a
	// question, and an answer that slow is worth less than a prompt
	// "unknown", so the defaults are shorter: 10s, 30s, 30s.
	ConnectTimeout time.Duration
	BannerTimeout  time.Duration
	CommandTimeout time.Duration

	// RatePerHost is how many new sessions per second we open to one MX
	// host (default 1), with bursts of BurstPerHost (default 3). Limits are
	// per MX host, not per recipient domain: thousands of domains share
	// Google's or Microsoft's MX hosts. A host is known by the address we
	// dial (an IPv6 address by its /64), not by its name, so the MX names
	// Microsoft 365 or Proofpoint give each tenant on shared addresses
	// share one limit.
	RatePerHost  float64
	BurstPerHost int
	// RcptRatePerHost is how many RCPT TO commands per second, catch-all
	// tests included, we send to one MX host, per address dialled like
	// RatePerHost (default 20), with bursts of RcptBurstPerHost (default
	// 40). Sessions are reused, so RCPTs, not sessions, are the load a
	// server sees; a reused session is not a licence to ask about
	// hundreds of addresses a second.
	RcptRatePerHost  float64
	RcptBurstPerHost int
	// MaxRcptsPerSession is how many RCPTs, catch-all tests included, one
	// session sends before it QUITs; the recipients still waiting get a
	// new session, through the session limiter (default 100, at least 2:
	// a catch-all test and an address).
	MaxRcptsPerSession int
	// MaxSessionsPerHost caps concurrent sessions to one MX host, again
	// per address dialled (default 2); MaxSessions caps them in total
	// (default 100).
	MaxSessionsPerHost int
	MaxSessions        int
	// BatchSize is how many real recipients one batch asks about (default
	// 20); the transaction stays open for the next batch while the server's
	// per-transaction limit leaves room. RFC 5321 §4.5.3.1.8 makes servers accept at
	// least 100 recipients per transaction; we ask for far fewer, since
	// many servers count rejected recipients against a client.
	BatchSize int
	// IdleTimeout is how long a session stays open, after its queue has
	// emptied, waiting for more recipients (default 5s). An idle session
	// closes sooner when another session waits for its place under
	// MaxSessions.
	IdleTimeout time.Duration
	// KeepWarm is how long one idle session per MX host that saw
	// real-time traffic (a caller waiting 30s or less) in the last
	// KeepWarm stays open, with a NOOP every 30s (or KeepWarm/2), so that
	// the next signup at a provider pays one round trip rather than a new
	// session (default 60s, at most 5 minutes: RFC 5321 §4.5.3.2.7 has
	// servers wait that long for a command, no longer). MaxWarm caps such
	// sessions in all (default 20). A warm session holds its places under
	// MaxSessionsPerHost and MaxSessions like any open one, and gives them
	// up as soon as another session waits for them. A KeepWarm no longer
	// than IdleTimeout keeps no session warm.
	KeepWarm time.Duration
	MaxWarm  int
	// CatchAllTTL is how long a domain's catch-all status is cached
	// (default 24h). CatchAllCacheSize bounds the cache (default 100000).
	CatchAllTTL       time.Duration
	CatchAllCacheSize int
	// MaxAttempts bounds how many sessions may lose a recipient (server
	// hung up, 421) before it gets the last failure as its result
	// (default 3). A host that rate-limits us and is the recipient's last
	// MX host is not bounded by it but by the caller's deadline: the
	// recipient waits out the host's pauses while the deadline leaves
	// room for a session after them, and gets rate_limited once it does
	// not.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the pause after a host answered 421
	// or refused a connection, or contradicted itself (anti-harvest); it
	// doubles on each failure and resets on success (defaults 5s and
	// 5min).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// MaxRefusalsPerSession is how many unknown recipients (catch-all
	// tests included) one session may have refused before it QUITs and
	// the rest go to a new session (default 8). Anti-harvest defences
	// change their answers after a few unknown recipients from one client;
	// short runs trip them less often. 8 stays under Postfix's
	// smtpd_soft_error_limit (10), past which it slows every reply, while a
	// list with 10% unknown addresses still gets some 70 recipients a
	// session: with 5, sessions were so short that the per-host session
	// rate, not the RCPT rate, set the pace (a 20,000-address list took
	// 199 s instead of 50).
	MaxRefusalsPerSession int
	// MaxWait, when positive, bounds the time one Check may take, queueing
	// included; past it the result is timeout. Zero leaves it to the
	// caller's context.
	MaxWait time.Duration
	// MaxQueuePerHost bounds the recipients waiting for one MX host
	// (default 2000); past it Check answers ErrSaturated at once. A host
	// that answers slowly (a tarpit) or rate-limits us must not make the
	// queue, and memory, grow without end.
	MaxQueuePerHost int
	// Routes are the ways out (probe.egress): source addresses and SOCKS5
	// proxies. Empty: one route, the kernel's choice. RouteCooldown is
	// how long a route a host refused (blocklist, reputation, PTR) is
	// benched for that host (default 30 minutes).
	Routes        []egress.Route
	RouteCooldown time.Duration

	// Shared, when set, is a second level behind the catch-all cache that
	// a fleet of instances shares (Redis): a domain one instance tested is
	// not tested again by another while the answer lasts.
	Shared SharedCache
	// Fleet, when set, limits the RCPTs of all instances together per
	// receiving provider, on top of the per-IP RcptRatePerHost, which
	// stays per instance since each has its own egress addresses.
	Fleet FleetLimiter
}

// SharedCache is a cache shared by a fleet of instances. Get is asked only
// after a local miss and gives the value's expiry; LocalHit counts a
// lookup the local cache answered. A failed Get is a miss, a failed Set is
// forgotten.
type SharedCache interface {
	Get(ctx context.Context, key string) (val []byte, expires time.Time, ok bool)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration)
	LocalHit()
}

// FleetLimiter is a rate limit shared by a fleet of instances.
// AllowRcpt takes one RCPT to the MX host from its provider's budget and
// returns 0 when it may go now, or how long to wait before asking again.
// A host without a fleet-wide limit, or a limiter that cannot be reached,
// gets 0.
type FleetLimiter interface {
	AllowRcpt(ctx context.Context, host string) time.Duration
}

// Defaults of Config.
const (
	DefaultPort               = 25
	DefaultConnectTimeout     = 10 * time.Second
	DefaultBannerTimeout      = 30 * time.Second
	DefaultCommandTimeout     = 30 * time.Second
	DefaultRatePerHost        = 1.0
	DefaultBurstPerHost       = 3
	DefaultRcptRatePerHost    = 20.0
	DefaultRcptBurstPerHost   = 40
	DefaultMaxRcptsPerSession = 100
	DefaultMaxSessionsPerHost = 2
	DefaultMaxSessions        = 100
	DefaultBatchSize          = 20
	DefaultIdleTimeout        = 5 * time.Second
	DefaultKeepWarm           = 60 * time.Second
	MaxKeepWarm               = 5 * time.Minute
	DefaultMaxWarm            = 20
	DefaultCatchAllTTL        = 24 * time.Hour
	DefaultCatchAllCacheSize  = 100_000
	DefaultMaxAttempts        = 3
	DefaultMaxRefusals        = 8
	DefaultBackoffMin         = 5 * time.Second
	DefaultBackoffMax         = 5 * time.Minute
	DefaultMaxQueuePerHost    = 2000
	DefaultRouteCooldown      = 30 * time.Minute
)

// DefaultConfig returns the Config New uses: every knob at its default,
// HELO and MailFrom empty (they have none; set them). Zero fields of a
// Config given to New mean these defaults too, so configuration code may
// start from DefaultConfig, or leave a field at zero, to the same effect.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&c.Port, DefaultPort)
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	setDur(&c.BannerTimeout, DefaultBannerTimeout)
	setDur(&c.CommandTimeout, DefaultCommandTimeout)
	if c.RatePerHost == 0 {
		c.RatePerHost = DefaultRatePerHost
	}
	setInt(&c.BurstPerHost, DefaultBurstPerHost)
	if c.RcptRatePerHost == 0 {
		c.RcptRatePerHost = DefaultRcptRatePerHost
	}
	setInt(&c.RcptBurstPerHost, DefaultRcptBurstPerHost)
	setInt(&c.MaxRcptsPerSession, DefaultMaxRcptsPerSession)
	setInt(&c.MaxSessionsPerHost, DefaultMaxSessionsPerHost)
	setInt(&c.MaxSessions, DefaultMaxSessions)
	setInt(&c.BatchSize, DefaultBatchSize)
	setDur(&c.IdleTimeout, DefaultIdleTimeout)
	setDur(&c.KeepWarm, DefaultKeepWarm)
	setInt(&c.MaxWarm, DefaultMaxWarm)
	setDur(&c.CatchAllTTL, DefaultCatchAllTTL)
	setInt(&c.CatchAllCacheSize, DefaultCatchAllCacheSize)
	setInt(&c.MaxAttempts, DefaultMaxAttempts)
	setInt(&c.MaxRefusalsPerSession, DefaultMaxRefusals)
	setDur(&c.BackoffMin, DefaultBackoffMin)
	setDur(&c.BackoffMax, DefaultBackoffMax)
	setInt(&c.MaxQueuePerHost, DefaultMaxQueuePerHost)
	setDur(&c.RouteCooldown, DefaultRouteCooldown)
	return c
}

// validate checks a Config after defaults were filled.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port must be 1-65535, got %d", c.Port)
	}
	// RFC 5321 §4.1.1.1: the HELO argument is the client's fully qualified
	// domain name (or an address literal, which we don't offer).
	if c.HELO == "" || !smtpwire.SafeArgument(c.HELO) || strings.ContainsAny(c.HELO, " @<>") || !strings.Contains(c.HELO, ".") {
		bad("HELO must be a fully qualified host name, got %q", c.HELO)
	}
	at := strings.LastIndexByte(c.MailFrom, '@')
	if at < 1 || at == len(c.MailFrom)-1 || !smtpwire.SafeArgument(c.MailFrom) || strings.ContainsAny(c.MailFrom, " <>") || !ascii.Is(c.MailFrom) {
		bad("MailFrom must be an ASCII address like verify@example.com, got %q", c.MailFrom)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ConnectTimeout", c.ConnectTimeout}, {"BannerTimeout", c.BannerTimeout},
		{"CommandTimeout", c.CommandTimeout}, {"IdleTimeout", c.IdleTimeout},
		{"CatchAllTTL", c.CatchAllTTL}, {"BackoffMin", c.BackoffMin}, {"BackoffMax", c.BackoffMax},
	} {
		if d.v < 0 {
			bad("%s must not be negative, got %v", d.name, d.v)
		}
	}
	if c.KeepWarm < 0 || c.KeepWarm > MaxKeepWarm {
		bad("KeepWarm must be 0-%v, got %v", MaxKeepWarm, c.KeepWarm)
	}
	if c.MaxWait < 0 {
		bad("MaxWait must not be negative, got %v", c.MaxWait)
	}
	if c.BackoffMax < c.BackoffMin {
		bad("BackoffMax (%v) must not be below BackoffMin (%v)", c.BackoffMax, c.BackoffMin)
	}
	// Zero took the default; NaN and negative rates are refused.
	if !(c.RatePerHost > 0) {
		bad("RatePerHost must be positive, got %g", c.RatePerHost)
	}
	if !(c.RcptRatePerHost > 0) {
		bad("RcptRatePerHost must be positive, got %g", c.RcptRatePerHost)
	}
	if c.MaxRcptsPerSession < 2 {
		bad("MaxRcptsPerSession must be at least 2 (a catch-all test and an address), got %d", c.MaxRcptsPerSession)
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"BurstPerHost", c.BurstPerHost}, {"RcptBurstPerHost", c.RcptBurstPerHost},
		{"MaxSessionsPerHost", c.MaxSessionsPerHost},
		{"MaxSessions", c.MaxSessions}, {"CatchAllCacheSize", c.CatchAllCacheSize},
		{"MaxAttempts", c.MaxAttempts}, {"MaxRefusalsPerSession", c.MaxRefusalsPerSession}, {"MaxQueuePerHost", c.MaxQueuePerHost},
		{"MaxWarm", c.MaxWarm},
	} {
		if n.v < 1 {
			bad("%s must be at least 1, got %d", n.name, n.v)
		}
	}
	// RFC 5321 §4.5.3.1.8: servers must accept 100 recipients per
	// transaction; more is not guaranteed.
	if c.BatchSize < 1 || c.BatchSize > maxRcptsPerTransaction {
		bad("BatchSize must be 1-%d, got %d", maxRcptsPerTransaction, c.BatchSize)
	}
	if c.MaxSessions < c.MaxSessionsPerHost {
		bad("MaxSessions (%d) must be at least MaxSessionsPerHost (%d)", c.MaxSessions, c.MaxSessionsPerHost)
	}
	return errors.Join(errs...)
}

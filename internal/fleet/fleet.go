// Package fleet is what a fleet of Preflight instances shares through
// Redis (cache.url): a second cache level behind the local result, DNS and
// catch-all caches, and RCPT rate limits per receiving provider that hold
// for all instances together.
//
// Redis is optional and never required for an answer. When it cannot be
// reached, at start or later, every operation fails fast (cache.timeout, no
// retries), callers carry on with their local caches and local limits, one
// warning is logged for the outage, and a background ping brings the
// shared layer back (one info record on recovery).
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of Config.
const (
	DefaultPrefix       = "preflight:"
	DefaultTimeout      = 100 * time.Millisecond
	DefaultPingInterval = time.Second
)

// Config holds the knobs of a Client.
type Config struct {
	// URL is redis://[user:password@]host:port/db (or rediss://).
	URL string
	// Prefix begins every key, so several services may share one Redis
	// (default "preflight:").
	Prefix string
	// Timeout bounds every operation, dial included (default 100ms): a
	// shared cache slower than that is worth less than a local miss.
	Timeout time.Duration
	// PingInterval is how often a degraded client checks whether Redis is
	// back (default 1s).
	PingInterval time.Duration
	// Rates are the fleet-wide RCPT rates per receiving provider.
	Rates []Rate
	// Logger receives the outage warning and the recovery record.
	Logger *slog.Logger
}

// Rate is a fleet-wide limit on RCPT commands to the MX hosts whose name
// ends in Suffix (a whole label: "google.com" matches
// "gmail-smtp-in.l.google.com", not "notgoogle.com").
type Rate struct {
	Suffix    string
	PerSecond float64
}

// ParseRates reads "google.com=20,outlook.com=10" style items.
func ParseRates(items []string) ([]Rate, error) {
	var out []Rate
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		suffix, num, ok := strings.Cut(it, "=")
		suffix = strings.Trim(strings.ToLower(strings.TrimSpace(suffix)), ".")
		if !ok || suffix == "" || strings.ContainsAny(suffix, " /:@") {
			return nil, fmt.Errorf("%q is not provider=rate", it)
		}
		var r float64
		if _, err := fmt.Sscanf(strings.TrimSpace(num), "%g", &r); err != nil || !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("%q: the rate must be a positive number of RCPTs a second", it)
		}
		out = append(out, Rate{Suffix: suffix, PerSecond: r})
	}
	return out, nil
}

// Client is the shared layer. It is safe for concurrent use; one serves
// the process.
type Client struct {
	cfg     Config
	rdb     *redis.Client
	limiter *redis_rate.Limiter
	log     *slog.Logger

	down  atomic.Bool
	mu    sync.Mutex // serializes outage transitions, so each is logged once
	stats counters

	cachesMu sync.Mutex
	caches   map[string]*Cache

	stop context.CancelFunc
	done chan struct{}
}

type counters struct {
	errors, outages, rcptWaits atomic.Uint64
}

// Open connects to cfg.URL. Only a malformed URL is an error: a Redis that
// cannot be reached leaves the client degraded until it answers.
func Open(cfg Config) (*Client, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Fail fast, never retry: the caller has a local answer to fall back on,
	// and retries against a Redis in trouble only make a storm.
	opt.DialTimeout = cfg.Timeout
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	opt.PoolTimeout = cfg.Timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DisableIdentity = true // no CLIENT SETINFO round trips
	// Nor the maintenance-notification handshake (Redis Cloud's
	// connection hand-off): a reconnect is cheap here, a surprise is not.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// go-redis logs each failed dial itself, through a logger that only
	// its package-level SetLogger changes: those records go to ours at
	// debug level, since the one outage warning says it all. With several
	// clients in a process (tests), the last one opened receives them.
	redis.SetLogger(debugLog{cfg.Logger})
	c := &Client{cfg: cfg, rdb: redis.NewClient(opt), log: cfg.Logger, done: make(chan struct{}),
		caches: make(map[string]*Cache)}
	c.limiter = redis_rate.NewLimiter(c.rdb)
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	if err := c.ping(ctx); err != nil {
		c.fail(err)
	}
	go c.watch(ctx)
	return c, nil
}

// Close stops the background ping and closes the connections.
func (c *Client) Close() error {
	c.stop()
	<-c.done
	return c.rdb.Close()
}

// Health is "ok" or "degraded"; "" for a nil Client (no Redis configured).
func (c *Client) Health() string {
	switch {
	case c == nil:
		return ""
	case c.down.Load():
		return "degraded"
	}
	return "ok"
}

// Prefix is the prefix of every key the client writes; redis_rate adds
// "rate:" before the limiter's keys.
func (c *Client) Prefix() string { return c.cfg.Prefix }

func (c *Client) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.rdb.Ping(ctx).Err()
}

// watch pings while degraded, and brings the client back when Redis
// answers.
func (c *Client) watch(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !c.down.Load() {
			continue
		}
		if err := c.ping(ctx); err == nil {
			c.mu.Lock()
			if c.down.Load() {
				c.down.Store(false)
				c.log.Info("redis is back: the shared caches and fleet limits are on again", "url", c.cfg.URL)
			}
			c.mu.Unlock()
		}
	}
}

// usable reports whether an operation should try Redis at all: while
// degraded, everything fails at once and the ping decides.
func (c *Client) usable() bool { return !c.down.Load() }

// failed records err of an operation under caller ctx. A miss, or the
// caller giving up, is not Redis' failure.
func (c *Client) failed(ctx context.Context, err error) {
	if err == nil || errors.Is(err, redis.Nil) || ctx.Err() != nil {
		return
	}
	c.fail(err)
}

func (c *Client) fail(err error) {
	c.stats.errors.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down.Load() {
		return
	}
	c.down.Store(true)
	c.stats.outages.Add(1)
	c.log.Warn("redis unreachable: carrying on with local caches and per-instance limits", "url", c.cfg.URL, "error", err)
}

// op derives the context of one operation.
func (c *Client) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

// Stats are the client's counters since Open, for metrics.
type Stats struct {
	Up        bool
	Errors    uint64 // failed operations, pings at start included
	Outages   uint64 // times the client went degraded
	RcptWaits uint64 // RCPTs held back by a fleet-wide rate
	// Caches per layer name ("result", "mx", "catchall").
	Caches map[string]CacheStats
}

// CacheStats count one cache's lookups by level.
type CacheStats struct {
	LocalHits, LocalMisses, SharedHits, SharedMisses uint64
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	s := Stats{Up: !c.down.Load(), Errors: c.stats.errors.Load(), Outages: c.stats.outages.Load(),
		RcptWaits: c.stats.rcptWaits.Load(), Caches: map[string]CacheStats{}}
	c.cachesMu.Lock()
	for name, l := range c.caches {
		s.Caches[name] = CacheStats{LocalHits: l.localHits.Load(), LocalMisses: l.localMisses.Load(),
			SharedHits: l.sharedHits.Load(), SharedMisses: l.sharedMisses.Load()}
	}
	c.cachesMu.Unlock()
	return s
}

// debugLog passes go-redis' own records to a slog.Logger at debug level.
type debugLog struct{ l *slog.Logger }

func (d debugLog) Printf(ctx context.Context, format string, v ...any) {
	d.l.DebugContext(ctx, fmt.Sprintf(format, v...))
}

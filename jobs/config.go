package jobs

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes bulk verification. The zero value of every field means its
// default, so Config{} works.
type Config struct {
	// MaxUploadBytes bounds the decompressed CSV (default 1 GiB), MaxRows
	// its data rows (default 5,000,000).
	MaxUploadBytes int64
	MaxRows        int
	// Concurrency is how many distinct addresses, over all jobs, are being
	// checked at once (default 256). The probe's per-host session caps and
	// limiters still apply inside; a wide window only lets its per-MX-host
	// dispatchers pack many recipients into each session.
	Concurrency int
	// CheckTimeout bounds one check (default 2 minutes). It should exceed
	// the verifier's own probe timeout, so that a slow server's answer is
	// waited for rather than recorded as a timeout.
	CheckTimeout time.Duration
	// GreylistDelay is the pause before a greylisted (or, after the probe's
	// own backoff, still rate-limited) address is asked again (default 5
	// minutes); GreylistAttempts is how many times it is asked again
	// (default 3) before it settles on unknown.
	GreylistDelay    time.Duration
	GreylistAttempts int
	// FlushRows and FlushInterval batch result writes: a transaction
	// commits after FlushRows results or FlushInterval, whichever comes
	// first (defaults 100 and 200ms). Results not yet committed when the
	// process dies are checked again after the restart.
	FlushRows     int
	FlushInterval time.Duration

	// WebhookSecret signs completion callbacks (HMAC-SHA256 of the body in
	// X-Preflight-Signature). Empty sends them unsigned.
	WebhookSecret string
	// WebhookAllowPrivate lifts the SSRF guard that refuses loopback,
	// private, link-local, multicast and unspecified targets. Tests set it.
	WebhookAllowPrivate bool
	// WebhookAttempts bounds deliveries of one callback (default 5), with
	// exponential backoff from WebhookBackoff (default 2s) up to
	// WebhookBackoffMax (default 5 minutes). WebhookTimeout bounds one
	// delivery (default 10s).
	WebhookAttempts   int
	WebhookTimeout    time.Duration
	WebhookBackoff    time.Duration
	WebhookBackoffMax time.Duration

	// Retention is how long a finished job (done, failed or canceled) is
	// kept before it and its rows are deleted (default 30 days).
	Retention time.Duration
	// MaxConcurrentUploads bounds the uploads being stored at once
	// (default 2); one more gets ErrBusy. MaxStoredRows bounds the rows of
	// all jobs kept (default 20,000,000); an upload that would pass it
	// gets ErrFull and leaves nothing behind.
	MaxConcurrentUploads int
	MaxStoredRows        int64

	// The work of a job goes through River (queue.go). ChunkSize is how
	// many addresses one River job checks (default 500); Chunks is how
	// many of them one process works at once (default 8). A chunk hands
	// out addresses for ChunkTime (default 30s), then snoozes and is
	// taken up again by whichever process has room. RescueAfter (default
	// ChunkTime + CheckTimeout + 1 minute) is how long a River job may run
	// before it is taken for one whose process died and given to another.
	ChunkSize   int
	Chunks      int
	ChunkTime   time.Duration
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for work (default
	// 100ms: River's nudge when work is queued in this process can be
	// missed while a fetch is under way, and a poll is one indexed query).
	PollInterval time.Duration
	// SweepInterval is how often a worker repairs what a crash between
	// two steps left (default 1 minute); WatchInterval how often a
	// running chunk looks whether its job was deleted elsewhere (2s).
	SweepInterval time.Duration
	WatchInterval time.Duration
	// UploadGrace: at Start, an upload begun before the process started
	// is taken for one cut short by a crash and removed; with a shared
	// store, only once it is older than this too, since another process
	// may still be receiving it (default 0 on SQLite, which one process
	// owns, and DefaultSharedUploadGrace on PostgreSQL).
	UploadGrace time.Duration
	// NoWorker makes a Manager that creates, reports on and exports jobs
	// but works none (preflight serve --no-worker).
	NoWorker bool
}

// Defaults of Config.
const (
	DefaultMaxUploadBytes    = 1 << 30
	DefaultMaxRows           = 5_000_000
	DefaultConcurrency       = 256
	DefaultCheckTimeout      = 2 * time.Minute
	DefaultGreylistDelay     = 5 * time.Minute
	DefaultGreylistAttempts  = 3
	DefaultFlushRows         = 100
	DefaultFlushInterval     = 200 * time.Millisecond
	DefaultWebhookAttempts   = 5
	DefaultWebhookTimeout    = 10 * time.Second
	DefaultWebhookBackoff    = 2 * time.Second
	DefaultWebhookBackoffMax = 5 * time.Minute
	DefaultRetention         = 30 * 24 * time.Hour
	DefaultConcurrentUploads = 2
	DefaultMaxStoredRows     = 20_000_000
	DefaultChunkSize         = 500
	DefaultChunks            = 8
	DefaultChunkTime         = 30 * time.Second
	DefaultPollInterval      = 100 * time.Millisecond
	DefaultSweepInterval     = time.Minute
	DefaultWatchInterval     = 2 * time.Second
	DefaultSharedUploadGrace = 6 * time.Hour
)

// ErrConfig marks a Config that cannot work.
var ErrConfig = errors.New("jobs: invalid config")

func (c Config) withDefaults() Config {
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
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
	setInt(&c.MaxRows, DefaultMaxRows)
	setInt(&c.Concurrency, DefaultConcurrency)
	setDur(&c.CheckTimeout, DefaultCheckTimeout)
	setDur(&c.GreylistDelay, DefaultGreylistDelay)
	setInt(&c.GreylistAttempts, DefaultGreylistAttempts)
	setInt(&c.FlushRows, DefaultFlushRows)
	setDur(&c.FlushInterval, DefaultFlushInterval)
	setInt(&c.WebhookAttempts, DefaultWebhookAttempts)
	setDur(&c.WebhookTimeout, DefaultWebhookTimeout)
	setDur(&c.WebhookBackoff, DefaultWebhookBackoff)
	setDur(&c.WebhookBackoffMax, DefaultWebhookBackoffMax)
	setDur(&c.Retention, DefaultRetention)
	setInt(&c.MaxConcurrentUploads, DefaultConcurrentUploads)
	if c.MaxStoredRows == 0 {
		c.MaxStoredRows = DefaultMaxStoredRows
	}
	setInt(&c.ChunkSize, DefaultChunkSize)
	setInt(&c.Chunks, DefaultChunks)
	setDur(&c.ChunkTime, DefaultChunkTime)
	setDur(&c.RescueAfter, c.ChunkTime+c.CheckTimeout+time.Minute)
	setDur(&c.PollInterval, DefaultPollInterval)
	setDur(&c.SweepInterval, DefaultSweepInterval)
	setDur(&c.WatchInterval, DefaultWatchInterval)
	return c
}

func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.MaxUploadBytes < 0 {
		bad("MaxUploadBytes must not be negative, got %d", c.MaxUploadBytes)
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"MaxRows", c.MaxRows}, {"Concurrency", c.Concurrency}, {"GreylistAttempts", c.GreylistAttempts},
		{"FlushRows", c.FlushRows}, {"WebhookAttempts", c.WebhookAttempts}, {"MaxConcurrentUploads", c.MaxConcurrentUploads},
		{"ChunkSize", c.ChunkSize}, {"Chunks", c.Chunks},
	} {
		if n.v < 0 {
			bad("%s must not be negative, got %d", n.name, n.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"CheckTimeout", c.CheckTimeout}, {"GreylistDelay", c.GreylistDelay}, {"FlushInterval", c.FlushInterval},
		{"WebhookTimeout", c.WebhookTimeout}, {"WebhookBackoff", c.WebhookBackoff}, {"WebhookBackoffMax", c.WebhookBackoffMax},
		{"ChunkTime", c.ChunkTime}, {"PollInterval", c.PollInterval}, {"SweepInterval", c.SweepInterval},
		{"WatchInterval", c.WatchInterval}, {"UploadGrace", c.UploadGrace},
	} {
		if d.v < 0 {
			bad("%s must not be negative, got %v", d.name, d.v)
		}
	}
	if c.RescueAfter <= c.ChunkTime+c.CheckTimeout {
		bad("RescueAfter (%v) must exceed ChunkTime + CheckTimeout (%v), or running chunks would be taken for dead ones", c.RescueAfter, c.ChunkTime+c.CheckTimeout)
	}
	return errors.Join(errs...)
}

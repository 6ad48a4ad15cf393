// Package verify assembles Preflight's pipeline: syntax, lists, DNS, SMTP
// probe and scoring (docs/design.md "The pipeline"). Each stage adds typed
// evidence to one assessment and may stop the pipeline early; scoring reads
// the evidence at the end. The pipeline is assembled once, in New.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/scoring"
	"github.com/preflight-email/preflight/syntax"
)

// Resolver finds the mail servers of a domain.
type Resolver interface {
	Lookup(ctx context.Context, domain string) (mx.Result, error)
}

// Prober asks a domain's mail servers about one recipient.
type Prober interface {
	Check(ctx context.Context, req probe.Request) (probe.Result, error)
}

// Lists tells whether an address is disposable, a role account or at a free
// provider.
type Lists interface {
	Lookup(local, domain string) disposable.Flags
}

// Suppressions is the suppression list of earlier bounces. key is the
// address's syntax.Address.Key.
type Suppressions interface {
	Lookup(ctx context.Context, key string) (Suppression, bool, error)
}

// Suggester proposes a fix for a mistyped domain.
type Suggester interface {
	Suggest(domain string) string
}

// DefaultMaxBackground is Config.MaxBackground's default.
const DefaultMaxBackground = 1000

// Config tunes the pipeline around its stages.
type Config struct {
	ProbeEnabled bool
	// ProbeTimeout bounds a probe, including one that goes on in the
	// background after the caller stopped waiting.
	ProbeTimeout time.Duration
	// CacheTTL is how long a definite result is reused; UnknownTTL is for
	// unknown results, which a later call may well improve on.
	CacheTTL   time.Duration
	UnknownTTL time.Duration
	CacheSize  int
	// MaxBackground bounds the probes that go on after every caller of
	// theirs gave up (default 1000). Past it, such a probe is stopped.
	MaxBackground int
}

// Deps are the stages' collaborators. Prober may be nil when the probe is
// disabled.
type Deps struct {
	Lists     Lists
	Resolver  Resolver
	Prober    Prober
	Suggester Suggester
	// Suppressions, when set, turns addresses that bounced before into
	// undeliverable/suppressed without any network check.
	Suppressions Suppressions
	Logger       *slog.Logger
	// OnTimings, when set, is given the timings of every answer a caller
	// got that was not cached (metrics).
	OnTimings func(Timings)
	// Shared, when set, is a second level behind the result cache that a
	// fleet of instances shares (Redis): read on a local miss, written
	// through by conclude with the same TTL.
	Shared SharedCache
}

// SharedCache is a cache shared by a fleet of instances. Get is asked only
// after a local miss and gives the value's expiry; LocalHit counts a
// lookup the local cache answered. Its failures are its own: a failed Get
// is a miss, a failed Set is forgotten.
type SharedCache interface {
	Get(ctx context.Context, key string) (val []byte, expires time.Time, ok bool)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration)
	LocalHit()
}

// Verifier runs the pipeline. It is safe for concurrent use; build one per
// process, not one per request.
type Verifier struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	cache  *cache
	stages []stage

	// Probes run detached from the caller so that a caller who times out
	// still leaves a cached answer for the next call.
	bg       context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	inflight map[string]*call
	// background counts the calls that no caller waits for any more.
	background int
}

// New assembles the pipeline.
func New(cfg Config, deps Deps) *Verifier {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBackground <= 0 {
		cfg.MaxBackground = DefaultMaxBackground
	}
	bg, stop := context.WithCancel(context.Background())
	v := &Verifier{
		cfg:      cfg,
		deps:     deps,
		log:      deps.Logger,
		cache:    newCache(cfg.CacheSize),
		bg:       bg,
		stop:     stop,
		inflight: make(map[string]*call),
	}
	v.stages = []stage{v.syntaxStage, v.listStage}
	if deps.Suppressions != nil {
		v.stages = append(v.stages, v.suppressionStage)
	}
	v.stages = append(v.stages, v.cacheStage, v.dnsStage, v.disposableStage)
	if cfg.ProbeEnabled && deps.Prober != nil {
		v.stages = append(v.stages, v.probeStage)
	}
	return v
}

// Background returns the probes going on now that no caller waits for.
func (v *Verifier) Background() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.background
}

// Close stops background probes and waits for them to return.
func (v *Verifier) Close() error {
	v.stop()
	v.wg.Wait()
	return nil
}

// Verify checks one address. It never fails: when ctx ends before the
// answer is known, the result is unknown/timeout with the evidence so far,
// and the probe carries on in the background to fill the cache.
func (v *Verifier) Verify(ctx context.Context, email string) Result {
	return v.run(ctx, email, false)
}

// Recheck is Verify without reading the result cache: bulk jobs use it to
// retry a greylisted address after a delay. A fresh answer replaces the
// cached one.
func (v *Verifier) Recheck(ctx context.Context, email string) Result {
	return v.run(ctx, email, true)
}

func (v *Verifier) run(ctx context.Context, email string, fresh bool) Result {
	a := assessment{input: email, fresh: fresh, start: time.Now()}
	for _, s := range v.stages {
		if s(ctx, &a) {
			break
		}
	}
	if a.cached != nil {
		// The cache is keyed by the address's Key: the entry may have
		// been made for another spelling of the same mailbox.
		r := *a.cached
		r.Email, r.Normalized = email, a.addr.Normalized
		r.DurationMS = time.Since(a.start).Milliseconds()
		r.Timings = Timings{}
		return r
	}
	r := v.conclude(&a)
	if v.deps.OnTimings != nil {
		v.deps.OnTimings(r.Timings)
	}
	return r
}

// conclude scores the evidence of a and caches the result when it may be
// reused. It is the only place that does either: run calls it for every
// answer, and a probe that outlives its caller calls it from the
// background, so that the next call finds the answer.
func (v *Verifier) conclude(a *assessment) Result {
	r := a.result()
	r.DurationMS = time.Since(a.start).Milliseconds()
	if a.cacheable() {
		key, ttl := a.mailboxKey(), v.ttl(r)
		v.cache.put(key, r, ttl, time.Now())
		if v.deps.Shared != nil && ttl > 0 {
			if b, err := json.Marshal(r); err == nil {
				v.deps.Shared.Set(v.bg, key, b, ttl)
			}
		}
	}
	return r
}

// Offline runs only the stages that need no I/O: syntax, lists and
// scoring. It gives what the pipeline knows before any DNS or SMTP, at a
// few hundred nanoseconds an address (BenchmarkOffline).
func (v *Verifier) Offline(email string) Result {
	a := assessment{input: email}
	if !v.syntaxStage(context.Background(), &a) {
		v.listStage(context.Background(), &a)
	}
	return a.result()
}

func (v *Verifier) ttl(r Result) time.Duration {
	switch {
	case r.Reason == outcome.DNSError:
		// The resolver layer already remembers a temporary failure for a
		// few seconds; caching it per address would outlive the outage.
		return 0
	case r.Reason == outcome.DomainNotFound || r.Reason == outcome.NoMailServer:
		// A domain may be registered or get its MX at any time: keep such
		// answers no longer than negative DNS answers (RFC 2308 §5).
		return min(v.cfg.CacheTTL, mx.MaxNegativeTTL)
	case r.Verdict == outcome.Unknown:
		return v.cfg.UnknownTTL
	}
	return v.cfg.CacheTTL
}

// stage adds evidence to a and reports whether the pipeline is done.
type stage func(ctx context.Context, a *assessment) (done bool)

func (v *Verifier) syntaxStage(_ context.Context, a *assessment) bool {
	addr, err := syntax.Parse(a.input)
	if err != nil {
		a.detail = err.Error()
		return true
	}
	a.addr = addr
	a.ev.SyntaxValid = true
	if v.deps.Suggester != nil {
		a.suggestion = v.deps.Suggester.Suggest(addr.Domain)
	}
	return false
}

func (v *Verifier) listStage(_ context.Context, a *assessment) bool {
	if v.deps.Lists != nil {
		f := v.deps.Lists.Lookup(a.addr.Local, a.addr.Domain)
		a.ev.Disposable, a.ev.Role, a.ev.Free = f.Disposable, f.Role, f.Free
	}
	return false
}

// suppressionStage stops at an address that bounced before. It runs before
// the result cache, so a new suppression takes effect at once.
func (v *Verifier) suppressionStage(ctx context.Context, a *assessment) bool {
	e, ok, err := v.deps.Suppressions.Lookup(ctx, a.mailboxKey())
	if err != nil {
		// Fail closed: a verdict that ignores the list could send to an
		// address that bounced before.
		v.log.Warn("suppression lookup failed", "domain", a.addr.Domain, "err", err)
		a.ev.SuppressionUnread = true
		a.detail = "the suppression list could not be read; try again"
		a.interrupted = true
		return true
	}
	if !ok {
		return false
	}
	a.ev.Suppressed = true
	a.suppression = &e
	a.detail = "suppressed after an earlier bounce: " + string(e.Reason)
	return true
}

// disposableStage stops at a disposable address once DNS has spoken: it is
// risky whatever its mailbox says today, so it is never probed. The DNS
// look-up is cheap and matters, because disposable lists also hold typo
// domains (gmial.com) that do not exist: NXDOMAIN or a null MX ends the
// pipeline before this stage and makes the address undeliverable.
func (v *Verifier) disposableStage(_ context.Context, a *assessment) bool {
	return a.ev.Disposable
}

func (v *Verifier) cacheStage(ctx context.Context, a *assessment) bool {
	if a.fresh {
		return false
	}
	key := a.mailboxKey()
	if r, ok := v.cache.get(key, time.Now()); ok {
		if v.deps.Shared != nil {
			v.deps.Shared.LocalHit()
		}
		a.cached = &r
		return true
	}
	if v.deps.Shared == nil {
		return false
	}
	// Another instance may have checked the address: its answer saves a
	// probe here, and is kept locally until it expires there.
	b, expires, ok := v.deps.Shared.Get(ctx, key)
	if !ok {
		return false
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return false
	}
	now := time.Now()
	v.cache.put(key, r, expires.Sub(now), now)
	a.cached = &r
	return true
}

func (v *Verifier) dnsStage(ctx context.Context, a *assessment) bool {
	defer a.timeDNS(time.Now())
	res, err := v.deps.Resolver.Lookup(ctx, a.addr.Domain)
	if errors.Is(err, mx.ErrDomain) {
		// Syntax let it through, but it cannot be a DNS name: it cannot exist.
		a.ev.DNS = scoring.DNSNXDomain
		return true
	}
	if err != nil {
		// Our own deadline ran out: no evidence, an honest timeout.
		a.ev.SMTP = outcome.Timeout
		a.detail = "DNS lookup did not finish in time"
		a.interrupted = true
		return true
	}
	a.mx = res
	switch res.Status {
	case mx.StatusOK, mx.StatusImplicit:
		a.ev.DNS = scoring.DNSFound
		// Never suggest changing a domain that has its own mail server.
		a.suggestion = ""
	case mx.StatusNXDomain:
		a.ev.DNS = scoring.DNSNXDomain
		return true
	case mx.StatusNullMX, mx.StatusNoMailServer:
		a.ev.DNS = scoring.DNSNoMailServer
		return true
	default:
		a.ev.DNS = scoring.DNSTempFail
		a.detail = res.Detail
		return true
	}
	if (!v.cfg.ProbeEnabled || v.deps.Prober == nil) && !a.ev.Disposable {
		// No SMTP evidence: scoring falls back to what the lists say.
		a.detail = "SMTP probe disabled (probe.enabled=false)"
	}
	return false
}

func (v *Verifier) probeStage(ctx context.Context, a *assessment) bool {
	patience, _ := ctx.Deadline()
	c := v.probeAsync(a, patience)
	select {
	case <-c.done:
		a.setProbe(c.res, c.failed)
	case <-ctx.Done():
		a.ev.SMTP = outcome.Timeout
		a.interrupted = true
		if v.leave(c) {
			a.detail = "SMTP probe still running; the next call gets its answer"
		} else {
			a.detail = "SMTP probe stopped: too many checks are finishing in the background (verify.max_background_probes); try again with a longer timeout"
		}
	}
	return true
}

// call is one probe in flight, shared by every caller asking for the same
// address meanwhile. res is its evidence; failed means our own deadline or
// shutdown ended it, so the answer must not be cached. waiters counts the
// callers still waiting; a call nobody waits for any more is background
// work, and counts against Config.MaxBackground. All but done and res are
// guarded by the Verifier's mu.
type call struct {
	done       chan struct{}
	res        probe.Result
	failed     bool
	waiters    int
	background bool
	cancel     context.CancelFunc
}

// leave takes a caller whose deadline passed off c. When it was the last
// one, the probe goes on in the background to fill the cache if fewer than
// Config.MaxBackground probes do so already; else it is stopped, so that
// callers who give up early cannot pile up probes without end. leave
// reports whether the probe goes on.
func (v *Verifier) leave(c *call) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	c.waiters--
	if c.waiters > 0 || c.background {
		return true
	}
	if v.background >= v.cfg.MaxBackground {
		c.cancel()
		return false
	}
	c.background = true
	v.background++
	return true
}

// probeAsync starts the probe for a, or joins the one already running. The
// probe finishes in the background and, whether or not anybody still waits
// for it, concludes its own copy of the assessment, which caches the answer
// for the next call.
//
// patience is the first caller's deadline: the probe waits out a
// rate-limited host only for a caller who would wait that long (a bulk
// job), and gives a real-time caller "rate_limited" at once.
func (v *Verifier) probeAsync(a *assessment, patience time.Time) *call {
	key := a.mailboxKey()
	v.mu.Lock()
	if c, ok := v.inflight[key]; ok {
		c.waiters++
		v.mu.Unlock()
		return c
	}
	ctx, cancel := context.WithTimeout(v.bg, v.cfg.ProbeTimeout)
	c := &call{done: make(chan struct{}), waiters: 1, cancel: cancel}
	v.inflight[key] = c
	v.wg.Add(1)
	v.mu.Unlock()

	bgA := *a // the goroutine owns its copy; the caller may return early
	go func() {
		defer v.wg.Done()
		defer cancel()
		res, failed := v.probe(ctx, &bgA, patience)
		bgA.setProbe(res, failed)
		v.conclude(&bgA)
		v.mu.Lock()
		c.res, c.failed = res, failed
		delete(v.inflight, key)
		if c.background {
			v.background--
		}
		v.mu.Unlock()
		close(c.done)
	}()
	return c
}

// probe asks the prober about a's address. failed reports that the probe
// ended without an answer because of us (deadline, shutdown).
func (v *Verifier) probe(ctx context.Context, a *assessment, patience time.Time) (res probe.Result, failed bool) {
	res, err := v.deps.Prober.Check(ctx, probe.Request{
		Address:  a.addr.Normalized,
		Domain:   a.addr.Domain,
		Targets:  targets(a.mx.Hosts),
		SMTPUTF8: a.addr.SMTPUTF8,
		Patience: patience,
	})
	switch {
	case errors.Is(err, probe.ErrBadRequest):
		// Valid RFC 5322 syntax that cannot be put in an SMTP path
		// (a quoted local part with < or >): nothing to ask.
		return probe.Result{Reason: outcome.SMTPRejected, Message: "the address cannot be sent in an SMTP RCPT command"}, false
	case errors.Is(err, probe.ErrSaturated):
		return probe.Result{Reason: outcome.Timeout, Message: "the service is saturated: too many checks are waiting for this mail server; try again later"}, true
	case err != nil:
		return probe.Result{Reason: outcome.Timeout, Message: "probe did not finish"}, true
	}
	// The probe alone says what a reply means (a 4xx "user unknown" is
	// already smtp_rejected there: probe's rcptReason).
	return res, false
}

func targets(hosts []mx.Host) []probe.Target {
	t := make([]probe.Target, len(hosts))
	for i, h := range hosts {
		t[i] = probe.Target{Host: h.Name, Addrs: h.Addrs}
	}
	return t
}

func catchAll(c probe.CatchAll) scoring.CatchAll {
	switch c {
	case probe.CatchAllYes:
		return scoring.CatchAllYes
	case probe.CatchAllNo:
		return scoring.CatchAllNo
	}
	return scoring.CatchAllUnknown
}

package probe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/preflight-email/preflight/internal/ascii"

	"github.com/preflight-email/preflight/internal/netguard"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe/internal/smtpwire"
)

// maxAddrsPerHost is how many addresses of one MX host we try before
// moving to the next host (RFC 5321 §5.1: "at least two").
const maxAddrsPerHost = 2

// maxRcptsPerTransaction is the most RCPTs, catch-all tests included, we
// send in one transaction: the minimum every server must accept
// (RFC 5321 §4.5.3.1.8).
const maxRcptsPerTransaction = 100

// maxAddressLen is the longest address that fits a path (RFC 5321
// §4.5.3.1.3: 256 octets including the angle brackets).
const maxAddressLen = 254

// Engine probes addresses over SMTP. One Engine serves the whole process:
// real-time checks and bulk jobs share its per-MX-host dispatchers, so the
// rate limits hold for both (docs/design.md "Probe architecture").
type Engine struct {
	cfg Config
	log *slog.Logger
	// dialer is the one guarded dialer (netguard): it refuses loopback,
	// private and special-purpose addresses unless AllowPrivate.
	dialer *netguard.Dialer
	cache  *catchAllCache
	slots  *pool // one place per open session, MaxSessions in all
	// testKey keys the HMAC that makes each domain's catch-all test local
	// part (see testLocal). It comes from crypto/rand and never leaves
	// the engine.
	testKey [32]byte

	// stopCtx ends at Close: no new work, idle sessions QUIT. killCtx
	// ends a grace period later and closes every connection.
	stopCtx context.Context
	stop    context.CancelFunc
	killCtx context.Context
	kill    context.CancelFunc

	spawnMu sync.Mutex // guards closing and wg.Add against Close's wg.Wait
	closing bool
	wg      sync.WaitGroup

	mu    sync.Mutex
	hosts map[string]*dispatcher

	gateMu sync.Mutex
	gates  map[gateID]*gate // per route and address dialled (IPv6: per /64)

	// routes are the ways out (Config.Routes), each with its own
	// dispatchers and limiters; benched holds the routes a host refused,
	// until when.
	routes   []route
	benchMu  sync.Mutex
	benched  map[benchKey]time.Time
	refusals []refusal // the last day's sender-side refusals, oldest first

	closeOnce sync.Once
	stats     counters
	warm      atomic.Int32 // idle sessions kept warm, at most cfg.MaxWarm
}

// counters back Stats.
type counters struct {
	checks, sessions, connectFailures, tlsSessions, tlsFallbacks,
	transactions, rcpts, catchAllProbes, catchAllCached,
	replies421, backoffs, requeued, idleYields, rateLimitWaits,
	canaries, contradictions, fleetWaits atomic.Uint64
	saturated    atomic.Uint64
	routeBenches atomic.Uint64
}

// Stats are the engine's counters since New, for metrics and benchmarks.
type Stats struct {
	Checks          uint64 // calls of Check that got past validation
	Sessions        uint64 // SMTP sessions opened (greeted, after STARTTLS if any)
	ConnectFailures uint64 // attempts to open a session to a host that failed
	TLSSessions     uint64 // sessions encrypted with STARTTLS
	TLSFallbacks    uint64 // TLS handshakes that failed and were retried in plain text
	Transactions    uint64 // MAIL FROM commands
	Rcpts           uint64 // RCPT TO commands, catch-all tests included
	CatchAllProbes  uint64 // RCPT TO a random local part
	CatchAllCached  uint64 // catch-all tests saved by the cache
	Replies421      uint64 // 421 replies in the middle of a session
	Backoffs        uint64 // times a host was paused
	Requeued        uint64 // recipients put back in a queue after a session was lost
	IdleYields      uint64 // idle sessions closed early because another session waited for their place
	RateLimitWaits  uint64 // times a recipient was kept waiting for a rate-limited host rather than answered rate_limited
	Canaries        uint64 // catch-all tests asked again to check answers given after refusals
	Contradictions  uint64 // sessions whose answers contradicted each other (anti-harvest switches)
	Saturated       uint64 // checks refused at once because the host's queue was full (ErrSaturated)
	RouteBenches    uint64 // times a host refused a route and it was benched there
	FleetWaits      uint64 // RCPTs held back by a fleet-wide provider limit (Config.Fleet)
	Queued          int    // recipients waiting in the hosts' queues now
	Dispatchers     int    // MX hosts with a live dispatcher now
	Gates           int    // addresses (IPv6: /64s) whose shared limits are in use or refilling now
}

// New returns an Engine. Zero fields of cfg take their defaults; a nil
// logger discards.
func New(cfg Config, logger *slog.Logger) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg:     cfg,
		log:     logger,
		dialer:  &netguard.Dialer{AllowPrivate: cfg.AllowPrivate},
		cache:   newCatchAllCache(cfg.CatchAllCacheSize),
		slots:   newPool(cfg.MaxSessions),
		hosts:   make(map[string]*dispatcher),
		gates:   make(map[gateID]*gate),
		benched: make(map[benchKey]time.Time),
	}
	rand.Read(e.testKey[:]) // never fails (crypto/rand, Go 1.24+)
	routes, err := newRoutes(cfg)
	if err != nil {
		return nil, err
	}
	e.routes = routes
	e.stopCtx, e.stop = context.WithCancel(context.Background())
	e.killCtx, e.kill = context.WithCancel(context.Background())
	return e, nil
}

// errMaxWait is the cause of a Check's context when Config.MaxWait ran out.
var errMaxWait = errors.New("probe: MaxWait exceeded")

// Check asks the MX hosts of req about its address, in MX order, and returns
// what the first host that could be reached said. A host that cannot be
// reached (connection refused or timed out, banner 421 or 5xx, TLS and
// plain text both failed) passes the address on to the next one; when none
// could be reached, the result is connection_failed or timeout, or the
// banner's reply when one refused us.
//
// The error is for our own failures only: a bad request, a closed engine,
// or ctx done. With ctx done, the Result may still carry the last transient
// reply seen (a 421, say), for the caller to report.
func (e *Engine) Check(ctx context.Context, req Request) (Result, error) {
	if e.stopCtx.Err() != nil {
		return Result{}, ErrClosed
	}
	req, err := normalize(req)
	if err != nil {
		return Result{}, err
	}
	e.stats.checks.Add(1)
	parent := ctx
	if e.cfg.MaxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, e.cfg.MaxWait, errMaxWait)
		defer cancel()
	}
	e.sharedCatchAll(ctx, req.Domain)
	failures := make([]Result, 0, len(req.Targets))
	for i, t := range req.Targets {
		host := canonicalHost(t.Host)
		addrs, refused := e.allowed(t.Addrs)
		if len(addrs) == 0 {
			msg := "no address to connect to"
			if refused.IsValid() {
				msg = fmt.Sprintf("refusing to connect to non-public address %s (probe.allow_private is false)", refused)
			}
			failures = append(failures, Result{Reason: outcome.ConnectionFailed, Host: host, Message: msg})
			continue
		}
		j := &job{
			ctx:      ctx,
			patience: req.Patience,
			address:  req.Address,
			domain:   req.Domain,
			utf8:     req.SMTPUTF8,
			done:     make(chan answer, 1),
			// A rate-limited host is waited out only when there is no
			// other MX host to move on to (RFC 5321 §5.1).
			lastHost: !slices.ContainsFunc(req.Targets[i+1:], func(t Target) bool {
				ok, _ := e.allowed(t.Addrs)
				return len(ok) > 0
			}),
		}
		a, err := e.viaRoutes(ctx, host, addrs, j)
		if err != nil {
			if parent.Err() == nil && errors.Is(context.Cause(ctx), errMaxWait) {
				res := a.res
				if res.Reason == "" {
					res = Result{Reason: outcome.Timeout, Host: host, Message: "no answer within the probe's time limit"}
				}
				return res, nil
			}
			if parent.Err() != nil {
				return a.res, parent.Err()
			}
			return a.res, err
		}
		if !a.moveOn {
			return a.res, nil
		}
		failures = append(failures, a.res)
	}
	return pickFailure(failures), nil
}

// viaRoutes asks host about j on the host's routes in turn (routeOrder):
// a route the host refuses (a sender-side refusal: our IP is blocklisted,
// has no PTR, ...) is benched for that host, and the next route asks
// again, within the caller's budget. Each route is tried at most once per
// recipient, so a host that refuses every client, or refuses the address
// itself, cannot make us hop for ever. When every route was refused, the
// answer is blocked and names what each route was told.
func (e *Engine) viaRoutes(ctx context.Context, host string, addrs []netip.Addr, j *job) (answer, error) {
	var first netip.Addr
	if len(addrs) > 0 {
		first = addrs[0]
	}
	order := e.routeOrder(host, first)
	var tried []string
	for n, ri := range order {
		if n > 0 {
			// A fresh job for the next route: the last one belongs to
			// the previous dispatcher.
			j = j.again()
		}
		a, err := e.submit(ctx, ri, host, addrs, j)
		a.res.Route = e.routes[ri].r.Name()
		if err == nil && senderRefusal(a.res) && len(order) == 1 {
			e.noteRefusal(ri, host)
		}
		if err != nil || !senderRefusal(a.res) || len(order) == 1 {
			return a, err
		}
		e.noteRefusal(ri, host)
		e.bench(ri, host)
		tried = append(tried, fmt.Sprintf("%s: %s", a.res.Route, strings.TrimSpace(fmt.Sprintf("%d %s %s", a.res.Code, a.res.Enhanced, a.res.Message))))
	}
	return answer{res: allRefused(host, tried)}, nil
}

// pickFailure chooses the result when no host answered the RCPT: a reply
// from a server that refused us says most, then a timeout of ours, then the
// plain connection failure of the last host.
func pickFailure(fs []Result) Result {
	for _, f := range fs {
		if f.Code != 0 {
			return f
		}
	}
	for _, f := range fs {
		if f.Reason == outcome.Timeout {
			return f
		}
	}
	return fs[len(fs)-1]
}

// submit hands j to the dispatcher of host on route ri and waits for its
// answer.
func (e *Engine) submit(ctx context.Context, ri int, host string, addrs []netip.Addr, j *job) (answer, error) {
	var d *dispatcher
	for {
		d = e.dispatcher(ri, host)
		if d == nil {
			return answer{}, ErrClosed
		}
		ok, now := d.enqueue(j, addrs)
		if !ok {
			continue // d was removed as idle just now; take a new one
		}
		if now != nil {
			return *now, now.err
		}
		break
	}
	select {
	case a := <-j.done:
		return a, nil
	case <-ctx.Done():
		d.abandon(j)
		var last Result
		if p := j.last.Load(); p != nil {
			last = *p
		}
		return answer{res: last}, ctx.Err()
	case <-e.stopCtx.Done():
		return answer{}, ErrClosed
	}
}

// dispatcher returns the dispatcher of host on route ri, creating it, or
// nil after Close.
func (e *Engine) dispatcher(ri int, host string) *dispatcher {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopCtx.Err() != nil {
		return nil
	}
	key := dispatcherKey(ri, host)
	d, ok := e.hosts[key]
	if !ok {
		d = newDispatcher(e, ri, host)
		e.hosts[key] = d
	}
	return d
}

// removeIfIdle drops d from the map when it has nothing left to do, so the
// map does not grow with every MX host ever seen. A host in backoff is kept
// until the pause is over, so the pause is not forgotten.
func (e *Engine) removeIfIdle(d *dispatcher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removed || d.running > 0 || len(d.queue) > 0 {
		return
	}
	if wait := time.Until(d.pauseUntil); wait > 0 {
		if d.removeTimer == nil && e.stopCtx.Err() == nil {
			d.removeTimer = time.AfterFunc(wait, func() { e.removeIfIdle(d) })
		}
		return
	}
	if d.removeTimer != nil {
		d.removeTimer.Stop()
		d.removeTimer = nil
	}
	d.removed = true
	if e.hosts[d.key] == d {
		delete(e.hosts, d.key)
	}
}

// spawn starts a session goroutine for d, unless the engine is closing.
func (e *Engine) spawn(d *dispatcher) bool {
	e.spawnMu.Lock()
	defer e.spawnMu.Unlock()
	if e.closing {
		return false
	}
	e.wg.Add(1)
	go d.run()
	return true
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	n := len(e.hosts)
	queued := 0
	for _, d := range e.hosts {
		d.mu.Lock()
		queued += len(d.queue)
		d.mu.Unlock()
	}
	e.mu.Unlock()
	e.gateMu.Lock()
	gates := len(e.gates)
	e.gateMu.Unlock()
	return Stats{
		Checks:          e.stats.checks.Load(),
		Sessions:        e.stats.sessions.Load(),
		ConnectFailures: e.stats.connectFailures.Load(),
		TLSSessions:     e.stats.tlsSessions.Load(),
		TLSFallbacks:    e.stats.tlsFallbacks.Load(),
		Transactions:    e.stats.transactions.Load(),
		Rcpts:           e.stats.rcpts.Load(),
		CatchAllProbes:  e.stats.catchAllProbes.Load(),
		CatchAllCached:  e.stats.catchAllCached.Load(),
		Replies421:      e.stats.replies421.Load(),
		Backoffs:        e.stats.backoffs.Load(),
		Requeued:        e.stats.requeued.Load(),
		IdleYields:      e.stats.idleYields.Load(),
		RateLimitWaits:  e.stats.rateLimitWaits.Load(),
		Canaries:        e.stats.canaries.Load(),
		Contradictions:  e.stats.contradictions.Load(),
		Saturated:       e.stats.saturated.Load(),
		RouteBenches:    e.stats.routeBenches.Load(),
		FleetWaits:      e.stats.fleetWaits.Load(),
		Queued:          queued,
		Dispatchers:     n,
		Gates:           gates,
	}
}

// Close stops the engine: waiting Checks return ErrClosed, sessions finish
// the command in flight, send QUIT and close. Sessions still busy after a
// short grace period have their connections closed. Close returns when every
// session goroutine has ended.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.spawnMu.Lock()
		e.closing = true
		e.spawnMu.Unlock()
		e.stop()
		e.mu.Lock()
		for _, d := range e.hosts {
			d.mu.Lock()
			if d.removeTimer != nil {
				d.removeTimer.Stop()
				d.removeTimer = nil
			}
			d.mu.Unlock()
		}
		e.mu.Unlock()
		e.stopGates()

		done := make(chan struct{})
		go func() {
			e.wg.Wait()
			close(done)
		}()
		grace := time.NewTimer(min(e.cfg.CommandTimeout, 5*time.Second))
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
			e.kill()
			<-done
		}
		e.kill()
	})
	return nil
}

// normalize checks a request and fills Domain and SMTPUTF8.
func normalize(req Request) (Request, error) {
	bad := func(format string, args ...any) (Request, error) {
		return req, fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
	}
	a := req.Address
	at := strings.LastIndexByte(a, '@')
	switch {
	case at < 1 || at == len(a)-1:
		return bad("address %q has no local part or no domain", a)
	case len(a) > maxAddressLen:
		return bad("address is %d octets, more than %d (RFC 5321 §4.5.3.1.3)", len(a), maxAddressLen)
	case !utf8.ValidString(a) || !smtpwire.SafeArgument(a) || strings.ContainsAny(a, "<>"):
		// A CR or LF here could smuggle a command onto the wire.
		return bad("address contains a control character, an angle bracket or invalid UTF-8")
	case !ascii.Is(a[at+1:]):
		return bad("domain of %q is not ASCII; convert it with IDNA first", a)
	case len(req.Targets) == 0:
		return bad("no MX targets")
	}
	if req.Domain == "" {
		req.Domain = a[at+1:]
	}
	req.Domain = canonicalHost(req.Domain)
	if !ascii.Is(a[:at]) {
		req.SMTPUTF8 = true
	}
	for _, t := range req.Targets {
		if canonicalHost(t.Host) == "" {
			return bad("MX target without a host name")
		}
	}
	return req, nil
}

// canonicalHost lowercases a host name and drops the root dot, so that
// "MX.Example.com." and "mx.example.com" share one dispatcher.
func canonicalHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// allowed returns the addresses we may dial and, if some were refused, one
// of them for the message.
func (e *Engine) allowed(addrs []netip.Addr) (ok []netip.Addr, refused netip.Addr) {
	ok = make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() {
			continue
		}
		if !e.dialer.Allowed(a) {
			refused = a
			continue
		}
		ok = append(ok, a)
	}
	return ok, refused
}

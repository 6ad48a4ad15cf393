package probe

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preflight-email/preflight/outcome"
)

// job is one recipient waiting for an answer from one MX host.
type job struct {
	ctx       context.Context // the caller's; once done, nobody wants the answer
	patience  time.Time       // Request.Patience; zero: ctx's deadline
	address   string
	domain    string
	utf8      bool
	lastHost  bool                   // no other MX host is left to try after this one
	rechecked bool                   // a contradicted answer sent it back once; guarded by the dispatcher's mu
	attempts  int                    // sessions lost while holding it; guarded by the dispatcher's mu
	last      atomic.Pointer[Result] // last transient failure, for a caller who gives up
	queued    time.Time              // when it joined the dispatcher's queue, for Timings
	on        *client                // the session that took it last, for Timings
	done      chan answer            // buffered (1); receives exactly one answer
}

// again is a copy of j for another route: the same caller and address,
// with its per-dispatcher state reset.
func (j *job) again() *job {
	return &job{ctx: j.ctx, patience: j.patience, address: j.address, domain: j.domain, utf8: j.utf8,
		lastHost: j.lastHost, done: make(chan answer, 1)}
}

// rateLimitMargin is the time a caller must have left after a
// rate-limited host's pause for waiting it out to be worth it: enough to
// connect, greet and ask.
const rateLimitMargin = time.Second

// waitsOut reports whether j waits until t, the end of a rate-limited
// host's pause, rather than take rate_limited as its answer. It does when
// the host is the last MX host left to try (before that, the next MX host
// is the better bet, RFC 5321 §5.1) and its caller's deadline leaves time
// for a session after the pause: a bulk job with a long budget waits, a
// real-time check with a short one does not. A caller without a deadline
// does not either; it is charged attempts as for any failure.
func (j *job) waitsOut(t time.Time) bool {
	dl, ok := j.deadline()
	return j.lastHost && ok && dl.Sub(t) >= rateLimitMargin
}

// urgent reports whether j's caller waits in real time (realtimeBudget):
// it is served before bulk work and keeps its host's session warm.
func (j *job) urgent(now time.Time) bool {
	dl, ok := j.deadline()
	return ok && dl.Sub(now) <= realtimeBudget
}

// insertByUrgency queues j: a real-time caller goes ahead of every bulk
// one (after the real-time callers already waiting), a bulk caller at the
// end. Real-time checks on a host that a big list keeps busy then still
// get their answer within their budget.
func insertByUrgency(q []*job, j *job) []*job {
	now := time.Now()
	if !j.urgent(now) {
		return append(q, j)
	}
	i := 0
	for i < len(q) && q[i].urgent(now) {
		i++
	}
	return slices.Insert(q, i, j)
}

// deadline is how long j's caller would wait for a real answer.
func (j *job) deadline() (time.Time, bool) {
	if !j.patience.IsZero() {
		return j.patience, true
	}
	return j.ctx.Deadline()
}

// answer is a dispatcher's reply to one job.
type answer struct {
	res    Result
	moveOn bool  // the host could not be used: try the next MX host
	err    error // ErrSaturated: the host's queue is full
}

// dispatcher owns everything about one MX host name: its sessions and the
// queue of recipients waiting for them. Callers enqueue and wait; only
// session goroutines talk SMTP (docs/design.md "Probe architecture: one
// dispatcher per MX host"). The limits on sessions belong to the address
// a session goes to, and are shared with every other name on it (see
// gate).
type dispatcher struct {
	e     *Engine
	route int    // index in Engine.routes: the way out its sessions take
	key   string // dispatcherKey(route, host)
	host  string
	wake  chan struct{} // nudges idle sessions when work arrives

	mu           sync.Mutex
	addrs        []netip.Addr
	queue        []*job
	running      int // session goroutines: waiting, connecting or connected
	connected    int // of which hold an open session
	connecting   map[*int]context.CancelFunc
	fails        int             // consecutive failures (connects, 421s); drives the backoff
	pauseUntil   time.Time       // no new session before this
	down         *Result         // the last connect failure, while no session is up
	plainOnly    bool            // a TLS handshake failed here: skip STARTTLS
	rcptLimit    int             // RCPTs per transaction the server accepted before 452 4.5.3
	sessionLimit int             // RCPTs per session the server took before 452 4.5.3, 0 if none seen
	refusalLimit int             // unknown recipients per session before an anti-harvest switch, learnt; 0 if none seen
	probing      map[string]bool // domains whose catch-all test a session is running
	removed      bool
	removeTimer  *time.Timer
	lastRealtime time.Time // the last real-time caller's arrival (see realtimeBudget)
	warm         bool      // one of its sessions is idle and kept warm
}

func newDispatcher(e *Engine, route int, host string) *dispatcher {
	return &dispatcher{
		e:          e,
		route:      route,
		key:        dispatcherKey(route, host),
		host:       host,
		wake:       make(chan struct{}, e.cfg.MaxSessionsPerHost),
		connecting: make(map[*int]context.CancelFunc),
		probing:    make(map[string]bool),
	}
}

// enqueue adds j to the queue and makes sure a session will take it. It
// returns ok=false when d was removed (the caller takes a fresh dispatcher),
// and an immediate answer when the host failed a moment ago and is still in
// its pause: the caller moves on to the next MX host at once rather than
// hammering a host that is down.
func (d *dispatcher) enqueue(j *job, addrs []netip.Addr) (bool, *answer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removed {
		return false, nil
	}
	if d.removeTimer != nil {
		d.removeTimer.Stop()
		d.removeTimer = nil
	}
	if d.down != nil && d.connected == 0 && time.Now().Before(d.pauseUntil) &&
		!(d.down.Reason == outcome.RateLimited && j.waitsOut(d.pauseUntil)) {
		// A host that is down, or rate-limiting us beyond this caller's
		// budget: move on at once. A caller who can wait out the pause
		// joins the queue.
		a := answer{res: *d.down, moveOn: true}
		return true, &a
	}
	if max := d.e.cfg.MaxQueuePerHost; len(d.queue) >= max && d.liveLocked() >= max {
		d.e.stats.saturated.Add(1)
		return true, &answer{err: ErrSaturated}
	}
	d.addrs = addrs
	j.queued = time.Now()
	d.queue = insertByUrgency(d.queue, j)
	if j.urgent(time.Now()) {
		d.lastRealtime = time.Now()
	}
	d.spawnLocked()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// spawnLocked starts a session when none runs, and another one (up to
// MaxSessionsPerHost) when the queue holds more than the running sessions
// take in one transaction each.
func (d *dispatcher) spawnLocked() {
	cfg := &d.e.cfg
	if d.running == 0 || (d.running < cfg.MaxSessionsPerHost && len(d.queue) >= d.running*cfg.BatchSize) {
		if d.e.spawn(d) {
			d.running++
		}
	}
}

// abandon drops j, whose caller gave up. When nobody is left waiting,
// sessions still connecting are stopped: no point in a banner nobody needs.
func (d *dispatcher) abandon(j *job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i := slices.Index(d.queue, j); i >= 0 {
		d.queue = slices.Delete(d.queue, i, i+1)
	}
	if d.liveLocked() == 0 {
		for _, cancel := range d.connecting {
			cancel()
		}
	}
}

// liveLocked drops queued jobs whose callers are gone and counts the rest.
func (d *dispatcher) liveLocked() int {
	d.queue = slices.DeleteFunc(d.queue, func(j *job) bool { return j.ctx.Err() != nil })
	return len(d.queue)
}

// answer delivers a to j. A job is held by one session at a time, so it
// is answered once; the channel's buffer means this never blocks.
func (d *dispatcher) answer(j *job, a answer) {
	a.res.Timings = j.timings()
	select {
	case j.done <- a:
	default:
	}
}

// timings splits the time since j was queued: the connection and TLS
// count when the session that took it last was opened for it.
func (j *job) timings() Timings {
	var t Timings
	if j.queued.IsZero() {
		return t
	}
	total := time.Since(j.queued)
	if c := j.on; c != nil && c.ready.After(j.queued) {
		t.Connect, t.TLS = c.connect, c.tlsTook
	}
	t.SMTP = max(0, total-t.Connect-t.TLS)
	return t
}

// run is one session goroutine: wait for the host's turn, connect, serve
// transactions until the queue stays empty for IdleTimeout, reconnect when
// the server drops us while work remains.
func (d *dispatcher) run() {
	e := d.e
	defer e.wg.Done()
	defer d.exit()
	for {
		if !d.waitTurn() {
			return
		}
		c, h, err := d.connect()
		if err != nil {
			return
		}
		again := d.serve(c, h)
		c.close()
		e.leave(h)
		if !again {
			return
		}
	}
}

// exit accounts for a finished session goroutine. If work arrived after it
// decided to stop and no other session is left, it starts a new one.
func (d *dispatcher) exit() {
	d.mu.Lock()
	d.running--
	if d.running == 0 && d.liveLocked() > 0 && d.e.stopCtx.Err() == nil {
		d.spawnLocked()
	}
	idle := d.running == 0 && len(d.queue) == 0
	d.mu.Unlock()
	if idle {
		d.e.removeIfIdle(d)
	}
}

package probe

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preflight-email/preflight/internal/netguard"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// catchAllUnknownTTL is how long an unclear catch-all test (the random
// RCPT was greylisted, say) is remembered, so that a burst of addresses at
// one domain does not test it once per transaction.
const catchAllUnknownTTL = 5 * time.Minute

// job is one recipient waiting for an answer from one MX host.
type job struct {
	ctx      context.Context // the caller's; once done, nobody wants the answer
	address  string
	domain   string
	utf8     bool
	attempts int                    // sessions lost while holding it; guarded by the dispatcher's mu
	last     atomic.Pointer[Result] // last transient failure, for a caller who gives up
	done     chan answer            // buffered (1); receives exactly one answer
}

// answer is a dispatcher's reply to one job.
type answer struct {
	res    Result
	moveOn bool // the host could not be used: try the next MX host
}

// dispatcher owns everything about one MX host name: its sessions and the
// queue of recipients waiting for them. Callers enqueue and wait; only
// session goroutines talk SMTP (DESIGN.md "Probe architecture: one
// dispatcher per MX host"). The limits on sessions belong to the address
// a session goes to, and are shared with every other name on it (see
// gate).
type dispatcher struct {
	e    *Engine
	host string
	wake chan struct{} // nudges idle sessions when work arrives

	mu          sync.Mutex
	addrs       []netip.Addr
	queue       []*job
	running     int // session goroutines: waiting, connecting or connected
	connected   int // of which hold an open session
	connecting  map[*int]context.CancelFunc
	fails       int             // consecutive failures (connects, 421s); drives the backoff
	pauseUntil  time.Time       // no new session before this
	down        *Result         // the last connect failure, while no session is up
	plainOnly   bool            // a TLS handshake failed here: skip STARTTLS
	rcptLimit   int             // RCPTs per transaction the server accepted before 452 4.5.3
	probing     map[string]bool // domains whose catch-all test a session is running
	removed     bool
	removeTimer *time.Timer
}

func newDispatcher(e *Engine, host string) *dispatcher {
	return &dispatcher{
		e:          e,
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
	if d.down != nil && d.connected == 0 && time.Now().Before(d.pauseUntil) {
		a := answer{res: *d.down, moveOn: true}
		return true, &a
	}
	d.addrs = addrs
	d.queue = append(d.queue, j)
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
	select {
	case j.done <- a:
	default:
	}
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

// waitTurn waits out the host's pause. It returns false when no caller is
// waiting any more or the engine is closing.
func (d *dispatcher) waitTurn() bool {
	stop := d.e.stopCtx
	for {
		d.mu.Lock()
		live := d.liveLocked()
		wait := time.Until(d.pauseUntil)
		d.mu.Unlock()
		if live == 0 || stop.Err() != nil {
			return false
		}
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop.Done():
			t.Stop()
			return false
		}
	}
	return true
}

// connect opens a session: the host's addresses in order (at most
// maxAddrsPerHost), each once its gate lets us in, STARTTLS when offered,
// and once more in plain text when the TLS handshake fails, as MTAs do. A
// failure is recorded on the dispatcher.
func (d *dispatcher) connect() (*client, *hold, error) {
	e := d.e
	// ctx is the connection's: it ends when every caller has left, or a
	// grace period after Close. wait bounds the waits for places and
	// tokens, which end at Close itself.
	ctx, cancel := context.WithCancel(e.killCtx)
	wait, stopWait := context.WithCancel(e.stopCtx)
	key := new(int)
	d.mu.Lock()
	d.connecting[key] = func() { cancel(); stopWait() }
	addrs := slices.Clone(d.addrs)
	plainOnly := d.plainOnly
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.connecting, key)
		d.mu.Unlock()
		stopWait()
	}()

	var err error = &hostError{Host: d.host, Step: stepConnect, Err: errNoAddress}
	for i, a := range addrs {
		if i == maxAddrsPerHost {
			break
		}
		if !e.cfg.AllowPrivate && !netguard.Public(a) {
			// Check filtered these already; this is the last line of
			// defence (DESIGN.md "Rules of conduct").
			continue
		}
		var h *hold
		h, err = d.enter(wait, a)
		if err != nil {
			break // closing, or nobody waits any more
		}
		ap := netip.AddrPortFrom(a, uint16(e.cfg.Port))
		var c *client
		c, err = d.open(ctx, ap, !plainOnly)
		if errors.Is(err, errTLSHandshake) && ctx.Err() == nil {
			e.stats.tlsFallbacks.Add(1)
			e.log.Debug("probe: TLS handshake failed, retrying without TLS", "host", d.host, "addr", ap.String())
			d.mu.Lock()
			d.plainOnly = true
			d.mu.Unlock()
			plainOnly = true
			c, err = d.open(ctx, ap, false)
		}
		if err == nil {
			c.release = cancel
			e.stats.sessions.Add(1)
			if c.tls {
				e.stats.tlsSessions.Add(1)
			}
			e.log.Debug("probe: session open", "host", d.host, "addr", ap.String(), "tls", c.tls, "esmtp", c.esmtp)
			return c, h, nil
		}
		e.leave(h)
		if ctx.Err() != nil || !isDialError(err) {
			break
		}
	}
	abandoned := ctx.Err() != nil || wait.Err() != nil || errors.Is(err, errNobodyWaits)
	cancel()
	if abandoned {
		// Closing, or every caller left while we waited or connected: not
		// the host's fault.
		return nil, nil, context.Canceled
	}
	d.connectFailed(err)
	return nil, nil, err
}

// open dials one address and greets it.
func (d *dispatcher) open(ctx context.Context, ap netip.AddrPort, useTLS bool) (*client, error) {
	cfg := &d.e.cfg
	c, err := dial(ctx, d.host, ap, timeouts{connect: cfg.ConnectTimeout, banner: cfg.BannerTimeout, command: cfg.CommandTimeout})
	if err != nil {
		return nil, err
	}
	if err := c.hello(cfg.HELO); err != nil {
		c.close()
		return nil, err
	}
	if useTLS && c.has("STARTTLS") {
		ok, err := c.startTLS()
		if err != nil {
			c.close()
			return nil, err
		}
		if ok {
			if err := c.hello(cfg.HELO); err != nil {
				c.close()
				return nil, err
			}
		}
	}
	return c, nil
}

// connectFailed records a host that could not be used. When no session to
// it is up, everyone waiting for it moves on to the next MX host, and so do
// new callers until the pause is over.
func (d *dispatcher) connectFailed(err error) {
	e := d.e
	e.stats.connectFailures.Add(1)
	res := failureResult(d.host, err)
	d.mu.Lock()
	pause := d.pauseLocked()
	var moved int
	if d.connected == 0 {
		d.down = &res
		for _, j := range d.queue {
			if j.ctx.Err() == nil {
				d.answer(j, answer{res: res, moveOn: true})
				moved++
			}
		}
		d.queue = nil
	}
	d.mu.Unlock()
	e.log.Info("probe: MX host unavailable", "host", d.host, "reason", string(res.Reason),
		"code", res.Code, "detail", res.Message, "pause", pause, "moved_on", moved)
}

// pauseLocked backs the host off: BackoffMin, doubling with each failure
// in a row, at most BackoffMax.
func (d *dispatcher) pauseLocked() time.Duration {
	cfg := &d.e.cfg
	d.fails++
	p := cfg.BackoffMin
	for i := 1; i < d.fails && p < cfg.BackoffMax; i++ {
		p *= 2
	}
	p = min(p, cfg.BackoffMax)
	if until := time.Now().Add(p); until.After(d.pauseUntil) {
		d.pauseUntil = until
	}
	d.e.stats.backoffs.Add(1)
	return p
}

// healthy records a normal answer: the backoff starts over.
func (d *dispatcher) healthy() {
	d.mu.Lock()
	d.fails = 0
	d.down = nil
	d.mu.Unlock()
}

// hold is what an open session holds besides its connection: a place in
// its gate and one under MaxSessions.
type hold struct {
	g         *gate
	slotYield bool // it let go of its global place for a waiting session
	gateYield bool // it let go of its place in the gate for a waiting session
}

// session is the state of one open connection.
type session struct {
	g       *gate               // of the address it is connected to
	probed  map[string]CatchAll // catch-all tests done on this connection
	rcptMax int                 // the server's RCPTMAX (RFC 9422), 0 if none
	rcpts   int                 // RCPTs sent, catch-all tests included
}

// batch is the work of one transaction.
type batch struct {
	jobs  []*job
	probe []string // domains to test for catch-all first
	full  bool     // the next job does not fit in what MaxRcptsPerSession leaves
	split bool     // one RCPT per transaction: the test has a transaction of its own
}

// serve runs transactions on c until the queue has stayed empty for
// IdleTimeout. It returns true when the session ended early (the server
// dropped us, or asked us to slow down) and work may remain.
func (d *dispatcher) serve(c *client, h *hold) (again bool) {
	d.mu.Lock()
	d.connected++
	d.down = nil
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.connected--
		d.mu.Unlock()
	}()
	s := &session{g: h.g, probed: make(map[string]CatchAll), rcptMax: c.rcptMax()}
	for {
		if d.e.stopCtx.Err() != nil {
			return false
		}
		if s.rcpts >= d.e.cfg.MaxRcptsPerSession {
			// Enough for one connection: QUIT, and let the next session
			// go through the host's session limiter like any other.
			d.e.log.Debug("probe: session reached MaxRcptsPerSession", "host", d.host, "rcpts", s.rcpts)
			return true
		}
		b := d.take(s)
		if b.full {
			return true
		}
		if len(b.jobs) == 0 {
			if !d.idle(h) {
				return false
			}
			continue
		}
		if !d.transaction(c, s, b) {
			return true
		}
	}
}

// idle waits up to IdleTimeout for new work, keeping the session open so
// the next callers skip the TCP, TLS and EHLO round trips. It gives up at
// once when another session, of any host, waits for a place the idle one
// holds: reuse saves round trips, but not at the price of a host that
// cannot get a session at all.
func (d *dispatcher) idle(h *hold) bool {
	e := d.e
	t := time.NewTimer(e.cfg.IdleTimeout)
	defer t.Stop()
	for {
		// Take the channels before asking, so a waiter who arrives in
		// between still wakes us.
		slotWanted, gateWanted := e.slots.wantedCh(), h.g.sessions.wantedCh()
		if e.slots.yield() {
			h.slotYield = true
		} else if h.g.sessions.yield() {
			h.gateYield = true
		}
		if h.slotYield || h.gateYield {
			e.stats.idleYields.Add(1)
			e.log.Debug("probe: idle session makes way for a waiting one", "host", d.host, "global", h.slotYield)
			return false
		}
		expired := false
		select {
		case <-d.wake:
		case <-slotWanted:
		case <-gateWanted:
		case <-t.C:
			expired = true
		case <-e.stopCtx.Done():
			return false
		}
		d.mu.Lock()
		live := d.liveLocked()
		d.mu.Unlock()
		if live > 0 {
			return true
		}
		if expired {
			return false
		}
	}
}

// take removes the next transaction's jobs from the queue: up to
// BatchSize, and no more RCPTs (catch-all tests included) than the server
// takes in one transaction or the session has left under
// MaxRcptsPerSession.
func (d *dispatcher) take(s *session) batch {
	e := d.e
	limit := maxRcptsPerTransaction
	if s.rcptMax > 0 {
		limit = min(limit, s.rcptMax)
	}
	left := e.cfg.MaxRcptsPerSession - s.rcpts // at least 1: serve checks
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rcptLimit > 0 {
		limit = min(limit, d.rcptLimit)
	}
	var b batch
	var rest []*job // left in the queue: their domain is being tested elsewhere
	rcpts, i := 0, 0
	for ; i < len(d.queue) && len(b.jobs) < e.cfg.BatchSize; i++ {
		j := d.queue[i]
		if j.ctx.Err() != nil {
			continue
		}
		if d.probing[j.domain] && !slices.Contains(b.probe, j.domain) {
			// Another session is testing this domain right now; wait for
			// its answer rather than test the domain twice.
			rest = append(rest, j)
			continue
		}
		probe := !slices.Contains(b.probe, j.domain) && !d.tested(s, j.domain, now)
		need := 1
		if probe {
			need = 2
		}
		if rcpts+need > min(limit, left) {
			if rcpts > 0 {
				break
			}
			// The first job, and it needs a test: limit and left are at
			// least 1, so need is 2.
			if need > left {
				// The test and the address no longer fit in this
				// session; a new one has room for both.
				b.full = true
				break
			}
			// The server takes one RCPT per transaction (RCPTMAX=1, or it
			// said 452 4.5.3 after one): test the domain in a transaction
			// of its own, then ask about the address in the next, rather
			// than never test a new domain on this host again.
			b.split = true
			b.probe = append(b.probe, j.domain)
			d.probing[j.domain] = true
			b.jobs = append(b.jobs, j)
			i++ // taken
			break
		}
		if probe {
			b.probe = append(b.probe, j.domain)
			d.probing[j.domain] = true
		}
		b.jobs = append(b.jobs, j)
		rcpts += need
	}
	clear(d.queue[:i])
	d.queue = append(rest, d.queue[i:]...)
	return b
}

// tested reports whether the catch-all status of domain is known well
// enough not to test it: found on this session, or cached. An unclear
// answer on this session (the test was greylisted, say) counts only while
// the cache keeps it: after that the test is worth repeating, and with the
// same local part it gets through the greylisting.
func (d *dispatcher) tested(s *session, domain string, now time.Time) bool {
	if st, ok := s.probed[domain]; ok && st != CatchAllUnknown {
		return true
	}
	if _, ok := d.e.cache.get(domain, now); ok {
		d.e.stats.catchAllCached.Add(1)
		return true
	}
	return false
}

// probed ends the catch-all test of domain: jobs held back for it may go.
func (d *dispatcher) probed(domains ...string) {
	if len(domains) == 0 {
		return
	}
	d.mu.Lock()
	for _, dom := range domains {
		delete(d.probing, dom)
	}
	n := len(d.queue)
	d.mu.Unlock()
	for ; n > 0; n-- {
		select {
		case d.wake <- struct{}{}:
		default:
			return
		}
	}
}

// transaction runs MAIL FROM, the catch-all tests, the RCPTs of b, and
// RSET. It returns false when the session cannot go on; the jobs that got
// no answer are back in the queue by then.
func (d *dispatcher) transaction(c *client, s *session, b batch) bool {
	e := d.e
	// However the transaction ends, the catch-all tests it claimed end
	// with it.
	pending := slices.Clone(b.probe)
	defer func() { d.probed(pending...) }()
	// RFC 6531 §3.4: a non-ASCII address may only be given after MAIL FROM
	// with the SMTPUTF8 parameter, which needs the server's SMTPUTF8
	// extension. Without it, asking would be a protocol violation.
	smtputf8 := false
	jobs := b.jobs[:0]
	for _, j := range b.jobs {
		if j.utf8 && !c.has("SMTPUTF8") {
			d.answer(j, answer{res: Result{
				Reason: outcome.SMTPRejected, CatchAll: d.catchAll(s, j.domain), Host: d.host,
				Message: "server does not support SMTPUTF8", TLS: c.tls,
			}})
			continue
		}
		smtputf8 = smtputf8 || j.utf8
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return true
	}
	if ok, cont := d.mail(c, s, jobs, smtputf8); !ok {
		return cont
	}

	accepted := 0 // RCPTs the server took in this transaction
	for _, domain := range b.probe {
		if !slices.ContainsFunc(jobs, func(j *job) bool { return j.domain == domain }) {
			continue
		}
		if !d.rcptTurn(s.g, nil) {
			return false // closing: the callers got ErrClosed already
		}
		s.rcpts++
		e.stats.rcpts.Add(1)
		e.stats.catchAllProbes.Add(1)
		r, err := c.rcpt(e.testLocal(domain) + "@" + domain)
		if err != nil {
			d.lost(jobs, failureResult(d.host, err), false)
			return false
		}
		if r.Code == 421 {
			d.dropped(jobs, r, c, false)
			return false
		}
		if r.Code/100 == 2 {
			accepted++
		}
		state := catchAllFrom(r)
		s.probed[domain] = state
		ttl := e.cfg.CatchAllTTL
		if state == CatchAllUnknown {
			ttl = min(ttl, catchAllUnknownTTL)
		}
		e.cache.put(domain, state, ttl, time.Now())
		e.log.Debug("probe: catch-all test", "host", d.host, "domain", domain, "catch_all", state.String(), "code", r.Code)
	}
	// The tests are done: let other sessions take this domain's jobs.
	d.probed(pending...)
	pending = nil
	if b.split {
		// RFC 5321 §4.1.1.5: RSET ends the test's transaction; the
		// address gets a transaction of its own.
		r, err := c.rset()
		if err != nil {
			d.lost(jobs, failureResult(d.host, err), false)
			return false
		}
		if r.Code != 250 {
			d.lost(jobs, d.sessionResult(r, c), false)
			return false
		}
		if ok, cont := d.mail(c, s, jobs, smtputf8); !ok {
			return cont
		}
		accepted = 0
	}

	for i, j := range jobs {
		if e.stopCtx.Err() != nil {
			break // the callers got ErrClosed already
		}
		if j.ctx.Err() != nil {
			continue
		}
		if !d.rcptTurn(s.g, j.ctx.Done()) {
			if e.stopCtx.Err() != nil {
				break
			}
			continue // the caller left while we waited
		}
		s.rcpts++
		e.stats.rcpts.Add(1)
		r, err := c.rcpt(j.address)
		if err != nil {
			d.lost(jobs[i:], failureResult(d.host, err), true)
			return false
		}
		switch {
		case r.Code == 421:
			d.dropped(jobs[i:], r, c, true)
			return false
		case tooManyRecipients(r):
			// RFC 5321 §4.5.3.1.10: the rest go in a new transaction.
			d.mu.Lock()
			if accepted > 0 {
				d.rcptLimit = accepted
			}
			d.mu.Unlock()
			e.log.Debug("probe: too many recipients", "host", d.host, "accepted", accepted)
			counted := 0
			if accepted == 0 {
				counted = 1 // no progress at all: make sure it ends
			}
			d.requeue(jobs[i:], d.sessionResult(r, c), counted)
			return d.reset(c)
		}
		res := d.rcptResult(r, c, s, j)
		if res.Reason == outcome.RateLimited {
			d.slowDown(jobs[i:], res, true)
			c.rset()
			return false
		}
		if r.Code/100 == 2 {
			accepted++
		}
		d.answer(j, answer{res: res})
		d.healthy()
	}
	return d.reset(c)
}

// mail starts a transaction for jobs with MAIL FROM. When it fails, ok is
// false, the jobs are answered or back in the queue, and cont is what
// transaction returns: whether the session can go on.
func (d *dispatcher) mail(c *client, s *session, jobs []*job, smtputf8 bool) (ok, cont bool) {
	e := d.e
	e.stats.transactions.Add(1)
	r, err := c.mail(e.cfg.MailFrom, smtputf8)
	if err != nil {
		d.lost(jobs, failureResult(d.host, err), false)
		return false, false
	}
	if r.Code == 421 {
		d.dropped(jobs, r, c, false)
		return false, false
	}
	if r.Code != 250 {
		// A refused MAIL FROM is about us, not about any recipient.
		res := d.sessionResult(r, c)
		if res.Reason == outcome.RateLimited {
			d.slowDown(jobs, res, false)
			c.rset()
			return false, false
		}
		for _, j := range jobs {
			res.CatchAll = d.catchAll(s, j.domain)
			d.answer(j, answer{res: res})
		}
		e.log.Info("probe: MAIL FROM refused", "host", d.host, "code", r.Code, "enhanced", r.Enhanced, "reason", string(res.Reason))
		return false, true
	}
	return true, true
}

// reset ends a transaction with RSET. Every job has its answer by now, so a
// failure only ends the session.
func (d *dispatcher) reset(c *client) bool {
	r, err := c.rset()
	return err == nil && r.Code == 250
}

// lost puts back the jobs of a session that broke (connection closed,
// timeout, garbage). See blame for who is charged an attempt.
func (d *dispatcher) lost(jobs []*job, res Result, inflight bool) {
	d.e.log.Debug("probe: session lost", "host", d.host, "detail", res.Message, "pending", len(jobs))
	d.requeue(jobs, res, blame(jobs, inflight))
}

// blame is how many of jobs are charged an attempt when a session is lost:
// the one whose RCPT was in flight, or, when the session was lost before
// any real RCPT (at MAIL FROM or a catch-all test), all of them, since no
// progress was made. Jobs that merely waited their turn are not charged:
// a server that hangs up after every 20 RCPTs must still get through a
// long queue.
func blame(jobs []*job, inflight bool) int {
	if inflight {
		return min(1, len(jobs))
	}
	return len(jobs)
}

// dropped handles a 421 in the middle of a session (RFC 5321 §3.8: the
// server is closing the channel): the host is paused and the jobs go back
// in the queue, except when the reply says we are blocked, which no retry
// will change.
func (d *dispatcher) dropped(jobs []*job, r reply.Reply, c *client, inflight bool) {
	d.e.stats.replies421.Add(1)
	c.broken = true // the server is hanging up; QUIT would only wait
	res := d.sessionResult(r, c)
	d.mu.Lock()
	pause := d.pauseLocked()
	d.mu.Unlock()
	d.e.log.Info("probe: host said 421, pausing it", "host", d.host, "enhanced", r.Enhanced, "reason", string(res.Reason), "pause", pause)
	if res.Reason == outcome.Blocked {
		n := blame(jobs, inflight)
		for _, j := range jobs[:n] {
			d.answer(j, answer{res: res, moveOn: true})
		}
		d.requeue(jobs[n:], res, 0)
		return
	}
	d.requeue(jobs, res, blame(jobs, inflight))
}

// slowDown handles a rate-limit reply that does not close the session:
// pause the host and put the jobs back.
func (d *dispatcher) slowDown(jobs []*job, res Result, inflight bool) {
	d.mu.Lock()
	pause := d.pauseLocked()
	d.mu.Unlock()
	d.e.log.Info("probe: host is rate-limiting us, pausing it", "host", d.host, "code", res.Code, "enhanced", res.Enhanced, "pause", pause)
	d.requeue(jobs, res, blame(jobs, inflight))
}

// requeue puts jobs back at the front of the queue, charging the first
// counted of them an attempt. A job charged MaxAttempts times gets res as
// its answer and moves on to the next MX host.
func (d *dispatcher) requeue(jobs []*job, res Result, counted int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	back := make([]*job, 0, len(jobs))
	for i, j := range jobs {
		if j.ctx.Err() != nil {
			continue
		}
		if i < counted {
			j.attempts++
		}
		r := res
		j.last.Store(&r)
		if j.attempts >= d.e.cfg.MaxAttempts {
			d.answer(j, answer{res: res, moveOn: true})
			continue
		}
		back = append(back, j)
	}
	d.e.stats.requeued.Add(uint64(len(back)))
	d.queue = append(back, d.queue...)
	if len(d.queue) > 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// rcptResult turns a RCPT reply into a Result with the shared classifier
// (DESIGN.md "Reading SMTP replies"); the probe keeps no list of its own.
func (d *dispatcher) rcptResult(r reply.Reply, c *client, s *session, j *job) Result {
	reason := reply.Classify(r).Reason
	switch reason {
	case outcome.Accepted, outcome.MailboxNotFound, outcome.MailboxDisabled, outcome.MailboxFull,
		outcome.Greylisted, outcome.RateLimited, outcome.Blocked, outcome.SMTPRejected:
	default:
		if r.Code/100 == 2 {
			reason = outcome.Accepted
		} else {
			reason = outcome.SMTPRejected
		}
	}
	return Result{
		Reason: reason, CatchAll: d.catchAll(s, j.domain), Host: d.host,
		Code: r.Code, Enhanced: r.Enhanced, Message: r.Text, TLS: c.tls,
	}
}

// sessionResult turns a reply outside RCPT (banner, greeting, MAIL FROM,
// a 421) into a Result. Such a reply says nothing about the mailbox, so a
// mailbox reason is not taken from it.
func (d *dispatcher) sessionResult(r reply.Reply, c *client) Result {
	res := replyFailure(d.host, r)
	res.TLS = c.tls
	return res
}

func replyFailure(host string, r reply.Reply) Result {
	reason := reply.Classify(r).Reason
	switch reason {
	case outcome.Greylisted, outcome.RateLimited, outcome.Blocked, outcome.SMTPRejected:
	default:
		reason = outcome.SMTPRejected
	}
	return Result{Reason: reason, Host: host, Code: r.Code, Enhanced: r.Enhanced, Message: r.Text}
}

// failureResult turns a failure to use a host into a Result.
func failureResult(host string, err error) Result {
	var he *hostError
	if !errors.As(err, &he) {
		return Result{Reason: outcome.ConnectionFailed, Host: host, Message: err.Error()}
	}
	if he.Reply != nil {
		return replyFailure(host, *he.Reply)
	}
	if he.Timeout() {
		return Result{Reason: outcome.Timeout, Host: host, Message: he.message()}
	}
	return Result{Reason: outcome.ConnectionFailed, Host: host, Message: he.message()}
}

// catchAll is the domain's status as known to this session or the cache.
func (d *dispatcher) catchAll(s *session, domain string) CatchAll {
	if st, ok := s.probed[domain]; ok {
		return st
	}
	st, _ := d.e.cache.get(domain, time.Now())
	return st
}

// catchAllFrom reads the reply to RCPT TO a random local part: accepted
// means the domain takes anything; "no such mailbox" means it checks.
// Anything else (greylisting, a block) tells us nothing.
func catchAllFrom(r reply.Reply) CatchAll {
	switch reply.Classify(r).Reason {
	case outcome.Accepted:
		return CatchAllYes
	case outcome.MailboxNotFound:
		return CatchAllNo
	}
	return CatchAllUnknown
}

// tooManyRecipients recognises RFC 5321 §4.5.3.1.10's "452 Too many
// recipients" (RFC 3463 4.5.3).
func tooManyRecipients(r reply.Reply) bool {
	if r.Code != 452 && r.Code != 451 {
		return false
	}
	return r.Enhanced == "4.5.3" || (r.Enhanced == "" && strings.Contains(strings.ToLower(r.Text), "too many recipients"))
}

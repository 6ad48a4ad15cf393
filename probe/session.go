package probe

import (
	"slices"
	"time"
)

// session is the state of one open connection.
type session struct {
	g       *gate               // of the address it is connected to
	probed  map[string]CatchAll // catch-all tests done on this connection
	rcptMax int                 // the server's RCPTMAX (RFC 9422), 0 if none
	rcpts   int                 // RCPTs sent, catch-all tests included
	refused int                 // of which got "too many recipients"
	// refusals counts unknown recipients refused on this session, tests
	// and canaries included, for the anti-harvest checks (see switched
	// and canary).
	refusals int
	lastNo   string // the last domain this session found not catch-all
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
		if s.rcpts >= d.sessionCap() {
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
			if !d.idle(c, h) {
				return false
			}
			continue
		}
		if !d.transaction(c, s, b) {
			return true
		}
	}
}

// sessionCap is how many RCPTs one session sends: MaxRcptsPerSession, or
// less when the host said "too many recipients" after fewer (see tooMany).
func (d *dispatcher) sessionCap() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sessionCapLocked()
}

func (d *dispatcher) sessionCapLocked() int {
	if d.sessionLimit > 0 {
		return min(d.e.cfg.MaxRcptsPerSession, d.sessionLimit)
	}
	return d.e.cfg.MaxRcptsPerSession
}

// idle waits up to IdleTimeout for new work, keeping the session open so
// the next callers skip the TCP, TLS and EHLO round trips. It gives up at
// once when another session, of any host, waits for a place the idle one
// holds: reuse saves round trips, but not at the price of a host that
// cannot get a session at all.
//
// A host with real-time traffic in the last KeepWarm keeps one idle
// session warm (at most MaxWarm in all) for up to KeepWarm, with a NOOP
// every warmNoop so that the server does not time it out (see keepWarm).
// It holds its places like any open session, and yields them the same way.
func (d *dispatcher) idle(c *client, h *hold) bool {
	e := d.e
	limit := e.cfg.IdleTimeout
	warm := d.warmUp()
	if warm {
		defer d.coolDown()
		limit = max(limit, e.cfg.KeepWarm)
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	var noop <-chan time.Time
	if warm {
		nt := time.NewTicker(warmNoopEvery(e.cfg.KeepWarm))
		defer nt.Stop()
		noop = nt.C
	}
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
		case <-noop:
			// RFC 5321 §4.1.1.9: NOOP asks for a reply and nothing else;
			// servers reset their idle timer on it.
			if r, err := c.noop(); err != nil || r.Code != 250 {
				return false
			}
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

// warmNoop is how often a warm session says NOOP: well within the five
// minutes RFC 5321 §4.5.3.2.7 asks servers to wait, and within the
// shorter timeouts of busy servers.
const warmNoop = 30 * time.Second

func warmNoopEvery(keepWarm time.Duration) time.Duration {
	return max(min(warmNoop, keepWarm/2), time.Millisecond)
}

// realtimeBudget: a caller who waits no longer than this for its answer is
// a real-time check (a signup form), not a bulk job, and makes its host
// worth keeping warm.
const realtimeBudget = 30 * time.Second

// warmUp makes the caller's idle session the host's warm one when the host
// saw real-time traffic within KeepWarm, no other session of it is warm,
// and fewer than MaxWarm are warm in all.
func (d *dispatcher) warmUp() bool {
	e := d.e
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.cfg.KeepWarm <= e.cfg.IdleTimeout || d.warm || d.lastRealtime.IsZero() || time.Since(d.lastRealtime) > e.cfg.KeepWarm {
		return false
	}
	if e.warm.Add(1) > int32(e.cfg.MaxWarm) {
		e.warm.Add(-1)
		return false
	}
	d.warm = true
	return true
}

// coolDown ends warmUp.
func (d *dispatcher) coolDown() {
	d.mu.Lock()
	d.warm = false
	d.mu.Unlock()
	d.e.warm.Add(-1)
}

// take removes the next transaction's jobs from the queue: up to
// BatchSize, and no more RCPTs (catch-all tests included) than the server
// takes in one transaction or the session has left under
// MaxRcptsPerSession, less one for a canary when the batch could need
// one (an accepted answer after holdRefusals refusals): without room for
// it, the accepted answers would have to be asked again in another
// session (see canary).
func (d *dispatcher) take(s *session) batch {
	e := d.e
	limit := d.txnLimit(s)
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	left := d.sessionCapLocked() - s.rcpts // at least 1: serve checks
	if left > holdRefusals-s.refusals {
		left-- // 0 when a canary may be needed and nothing else fits: a new session
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
	b.jobs = interleave(b.jobs)
	return b
}

// interleave orders jobs round-robin by domain, each domain's jobs in
// their order: a run of unknown recipients at one domain is what
// anti-harvest defences count, so the runs are kept short.
func interleave(jobs []*job) []*job {
	if len(jobs) < 3 {
		return jobs
	}
	var order []string
	by := make(map[string][]*job)
	for _, j := range jobs {
		if _, ok := by[j.domain]; !ok {
			order = append(order, j.domain)
		}
		by[j.domain] = append(by[j.domain], j)
	}
	if len(order) == 1 {
		return jobs
	}
	out := make([]*job, 0, len(jobs))
	for len(out) < len(jobs) {
		for _, dom := range order {
			if q := by[dom]; len(q) > 0 {
				out = append(out, q[0])
				by[dom] = q[1:]
			}
		}
	}
	return out
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

package probe

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"golang.org/x/time/rate"
)

// gate holds the limits of one receiving server: the cap on its
// concurrent sessions, its session rate limiter and its RCPT rate limiter. A server is known by
// the IP address we dial, not by its MX host name: Microsoft 365 and
// Proofpoint give each customer its own MX name
// (example-com.mail.protection.outlook.com) on a few shared addresses, so
// limits per name would let a thousand tenants' dispatchers open a
// thousand sessions to one machine. Dispatchers stay per name, since a
// session is greeted as, and reused for, one name; every dispatcher whose
// session goes to one address passes through that address's gate.
//
// An IPv6 gate covers the whole /64: one server may answer on many
// addresses of its subnet, and a /64 is the smallest block one network
// is given (RFC 4291 §2.5.1).
type gate struct {
	key      gateID
	sessions *pool         // MaxSessionsPerHost places
	connect  *rate.Limiter // new sessions per second
	rcpt     *rate.Limiter // RCPT TO commands per second, over all its sessions
	refs     int           // sessions holding or waiting for it; guarded by Engine.gateMu
	timer    *time.Timer   // forgets the gate once unused and refilled; guarded by Engine.gateMu
}

// gateKey is the address, or its /64 for IPv6.
func gateKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // cannot fail: bits fits the address
	return p
}

// gate returns the gate of a, creating it, and counts one more user.
// Every gate call is matched by an unref.
func (e *Engine) gate(route int, a netip.Addr) *gate {
	k := gateID{route: route, prefix: gateKey(a)}
	e.gateMu.Lock()
	defer e.gateMu.Unlock()
	g := e.gates[k]
	if g == nil {
		g = &gate{
			key:      k,
			sessions: newPool(e.cfg.MaxSessionsPerHost),
			connect:  rate.NewLimiter(rate.Limit(e.cfg.RatePerHost), e.cfg.BurstPerHost),
			rcpt:     rate.NewLimiter(rate.Limit(e.cfg.RcptRatePerHost), e.cfg.RcptBurstPerHost),
		}
		e.gates[k] = g
	}
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.refs++
	return g
}

// unref counts one user less, and forgets the gate when it was the last.
func (e *Engine) unref(g *gate) {
	e.gateMu.Lock()
	defer e.gateMu.Unlock()
	g.refs--
	e.forgetLocked(g)
}

// forgetLocked drops an unused gate from the map, so the map does not grow
// with every address ever dialled. Limiters still paying back a burst are
// kept until they are full again: fresh ones would give the next session a
// new burst.
func (e *Engine) forgetLocked(g *gate) {
	if g.refs > 0 || e.gates[g.key] != g {
		return
	}
	now := time.Now()
	wait := max(untilFull(g.connect, now), untilFull(g.rcpt, now))
	if wait <= 0 || e.stopCtx.Err() != nil {
		delete(e.gates, g.key)
		return
	}
	var t *time.Timer
	t = time.AfterFunc(wait, func() {
		e.gateMu.Lock()
		defer e.gateMu.Unlock()
		if g.timer == t {
			g.timer = nil
			e.forgetLocked(g)
		}
	})
	g.timer = t
}

// untilFull is how long l takes to refill its burst, a millisecond more
// so that a timer set for it finds it full.
func untilFull(l *rate.Limiter, now time.Time) time.Duration {
	missing := float64(l.Burst()) - l.TokensAt(now)
	if missing <= 0 || l.Limit() == rate.Inf || l.Limit() <= 0 {
		return 0
	}
	return time.Duration(missing/float64(l.Limit())*float64(time.Second)) + time.Millisecond
}

// stopGates stops the gates' timers, at Close.
func (e *Engine) stopGates() {
	e.gateMu.Lock()
	defer e.gateMu.Unlock()
	for _, g := range e.gates {
		if g.timer != nil {
			g.timer.Stop()
			g.timer = nil
		}
	}
}

// errNobodyWaits ends a session start whose callers all left, or were
// served by another session, while it waited for its turn.
var errNobodyWaits = errors.New("nobody waits for the session any more")

// rcptTurn waits for a token of g's RCPT limiter. It gives up, handing
// the token back, when the engine closes or gone is closed (the caller of
// a real recipient has left; nil for a catch-all test).
func (d *dispatcher) rcptTurn(g *gate, gone <-chan struct{}) bool {
	r := g.rcpt.Reserve() // n=1 never exceeds the burst, so r is OK
	if wait := r.Delay(); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.e.stopCtx.Done():
			t.Stop()
			r.Cancel()
			return false
		case <-gone:
			t.Stop()
			r.Cancel()
			return false
		}
	}
	return d.fleetTurn(gone)
}

// fleetTurn waits for the fleet-wide RCPT budget of the host's provider
// (Config.Fleet), after the local per-IP limiter let the RCPT go. It asks
// again after each wait the limiter names, and gives up like rcptTurn.
// Without a fleet limiter, or with Redis unreachable, it lets the RCPT go
// at once: the local limits still hold.
func (d *dispatcher) fleetTurn(gone <-chan struct{}) bool {
	f := d.e.cfg.Fleet
	if f == nil {
		return true
	}
	counted := false
	for {
		wait := f.AllowRcpt(d.e.stopCtx, d.host)
		if wait <= 0 {
			return true
		}
		if !counted {
			d.e.stats.fleetWaits.Add(1)
			counted = true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.e.stopCtx.Done():
			t.Stop()
			return false
		case <-gone:
			t.Stop()
			return false
		}
	}
}

// fleetAllow reports whether the fleet-wide budget lets one more RCPT go
// now, taking it if so (for RCPTs sent ahead in a pipelined flight).
func (d *dispatcher) fleetAllow() bool {
	return d.e.cfg.Fleet == nil || d.e.cfg.Fleet.AllowRcpt(d.e.stopCtx, d.host) <= 0
}

// enter waits for the right to open a session to a: a place under the
// address's MaxSessionsPerHost, a token of its session limiter, then a
// place under MaxSessions. Every session takes its places in this order,
// so no two wait for each other's. The hold is given back with leave.
func (d *dispatcher) enter(ctx context.Context, a netip.Addr) (*hold, error) {
	e := d.e
	g := e.gate(d.route, a)
	if err := g.sessions.acquire(ctx); err != nil {
		e.unref(g)
		return nil, err
	}
	if err := g.connect.Wait(ctx); err != nil {
		g.sessions.release(false)
		e.unref(g)
		return nil, err
	}
	if err := e.slots.acquire(ctx); err != nil {
		g.sessions.release(false)
		e.unref(g)
		return nil, err
	}
	h := &hold{g: g}
	d.mu.Lock()
	live := d.liveLocked()
	d.mu.Unlock()
	if live == 0 {
		e.leave(h)
		return nil, errNobodyWaits
	}
	return h, nil
}

// leave gives back what enter took.
func (e *Engine) leave(h *hold) {
	e.slots.release(h.slotYield)
	h.g.sessions.release(h.gateYield)
	e.unref(h.g)
}

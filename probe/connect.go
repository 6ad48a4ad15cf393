package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe/internal/smtpwire"
)

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

// connect opens a session: the host's addresses (at most
// maxAddrsPerHost, families interleaved), raced as RFC 8305 §5 has it (see
// race), STARTTLS when offered, and once more in plain text when the TLS
// handshake fails, as MTAs do. A failure is recorded on the dispatcher.
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

	// Check filtered the forbidden addresses already, and the dialer
	// refuses them too; skipping them here spares the host's rate limiter.
	addrs = slices.DeleteFunc(addrs, func(a netip.Addr) bool { return !e.dialer.Allowed(a) })
	addrs = eyeballOrder(addrs)
	addrs = addrs[:min(len(addrs), maxAddrsPerHost)]

	var err error = &hostError{Host: d.host, Step: stepConnect, Err: errNoAddress}
	if len(addrs) > 0 {
		var w won
		w, err = d.race(ctx, wait, addrs)
		if err == nil {
			h, ap := w.h, w.ap
			var c *client
			c, err = d.open(ctx, ap, !plainOnly, &w)
			if errors.Is(err, smtpwire.ErrTLSHandshake) && ctx.Err() == nil {
				e.stats.tlsFallbacks.Add(1)
				e.log.Debug("probe: TLS handshake failed, retrying without TLS", "host", d.host, "addr", ap.String())
				d.mu.Lock()
				d.plainOnly = true
				d.mu.Unlock()
				c, err = d.open(ctx, ap, false, nil)
			}
			if err == nil {
				c.release = cancel
				c.ready = time.Now()
				e.stats.sessions.Add(1)
				if c.tls() {
					e.stats.tlsSessions.Add(1)
				}
				e.log.Debug("probe: session open", "host", d.host, "addr", ap.String(), "tls", c.tls(), "esmtp", c.esmtp())
				return c, h, nil
			}
			e.leave(h)
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

// attemptDelay is RFC 8305 §5's "Connection Attempt Delay": how long one
// connection attempt has before the next address is tried alongside it.
const attemptDelay = 250 * time.Millisecond

// eyeballOrder interleaves the address families (RFC 8305 §4), each
// family in the order given and the family of the first address first, so
// that the first two attempts go to different families: a family that is
// dead on our side or theirs then costs attemptDelay, not a connect
// timeout.
func eyeballOrder(addrs []netip.Addr) []netip.Addr {
	if len(addrs) < 2 {
		return addrs
	}
	first := addrs[0].Is4()
	var a, b []netip.Addr
	for _, x := range addrs {
		if x.Is4() == first {
			a = append(a, x)
		} else {
			b = append(b, x)
		}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for len(a) > 0 || len(b) > 0 {
		if len(a) > 0 {
			out, a = append(out, a[0]), a[1:]
		}
		if len(b) > 0 {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// won is a connection attempt's outcome: a TCP connection to ap, with the
// places that entering its gate took, or the error.
type won struct {
	h    *hold
	ap   netip.AddrPort
	conn net.Conn
	took time.Duration
	err  error
}

// race connects to one of addrs as Happy Eyeballs does (RFC 8305 §5): an
// attempt at a time, the next one attemptDelay after the one before or as
// soon as it fails, the first TCP connection winning; the others are
// closed unused. Each attempt first enters its address's gate, so every
// attempt counts against that address's limits like any session. Dialing
// goes through the engine's guarded dialer, the one place that refuses
// private targets (each route's guarded dialer).
func (d *dispatcher) race(ctx, wait context.Context, addrs []netip.Addr) (won, error) {
	e := d.e
	// Once one attempt won, the others stop dialing and waiting.
	rctx, stopDial := context.WithCancel(ctx)
	rwait, stopWait := context.WithCancel(wait)
	stop := func() { stopDial(); stopWait() }
	defer stop()
	results := make(chan won, len(addrs))
	attempt := func(a netip.Addr) {
		ap := netip.AddrPortFrom(a, uint16(e.cfg.Port))
		h, err := d.enter(rwait, a)
		if err != nil {
			results <- won{err: err}
			return
		}
		dctx, cancel := context.WithTimeout(rctx, e.cfg.ConnectTimeout)
		defer cancel()
		start := time.Now()
		conn, err := e.routes[d.route].dialer.DialContext(dctx, "tcp", ap.String())
		if err != nil {
			e.leave(h)
			results <- won{ap: ap, err: &hostError{Host: d.host, Addr: ap, Step: stepConnect, Err: err}}
			return
		}
		results <- won{h: h, ap: ap, conn: conn, took: time.Since(start)}
	}
	// drop closes what the attempts still running bring, and gives back
	// their places.
	drop := func(n int) {
		go func() {
			for range n {
				if w := <-results; w.err == nil {
					w.conn.Close()
					e.leave(w.h)
				}
			}
		}()
	}
	timer := time.NewTimer(attemptDelay)
	defer timer.Stop()
	next, running := 1, 1
	go attempt(addrs[0])
	var last error
	for running > 0 {
		select {
		case w := <-results:
			running--
			if w.err == nil {
				stop()
				drop(running)
				return w, nil
			}
			last = w.err
			if !isDialError(w.err) {
				// Closing, or nobody waits any more: no point going on.
				stop()
				drop(running)
				return won{}, last
			}
		case <-timer.C:
		}
		if next < len(addrs) {
			go attempt(addrs[next])
			next++
			running++
			timer.Reset(attemptDelay)
		}
	}
	return won{}, last
}

// open greets a: on w's connection when given, else on a new one, then
// EHLO, and STARTTLS when useTLS and offered.
func (d *dispatcher) open(ctx context.Context, ap netip.AddrPort, useTLS bool, w *won) (*client, error) {
	cfg := &d.e.cfg
	limits := timeouts{connect: cfg.ConnectTimeout, banner: cfg.BannerTimeout, command: cfg.CommandTimeout}
	var c *client
	var err error
	if w != nil {
		c, err = greet(ctx, w.conn, w.took, d.host, ap, limits)
	} else {
		c, err = dial(ctx, d.e.routes[d.route].dialer.DialContext, d.host, ap, limits)
	}
	if err != nil {
		return nil, err
	}
	if err := c.hello(d.helo()); err != nil {
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
			if err := c.hello(d.helo()); err != nil {
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
		// Callers who can wait out a rate-limited host's pause stay in
		// the queue; the next session waits for its turn (see requeue).
		var keep []*job
		for _, j := range d.queue {
			switch {
			case j.ctx.Err() != nil:
			case res.Reason == outcome.RateLimited && j.waitsOut(d.pauseUntil):
				d.e.stats.rateLimitWaits.Add(1)
				keep = append(keep, j)
			default:
				d.answer(j, answer{res: res, moveOn: true})
				moved++
			}
		}
		d.queue = keep
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

package probe

import (
	"context"
	"errors"
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
		if !e.dialer.Allowed(a) {
			// Check filtered these already, and the dialer refuses them
			// too; skipping them here spares the host's rate limiter.
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
		if errors.Is(err, smtpwire.ErrTLSHandshake) && ctx.Err() == nil {
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
			c.ready = time.Now()
			e.stats.sessions.Add(1)
			if c.tls() {
				e.stats.tlsSessions.Add(1)
			}
			e.log.Debug("probe: session open", "host", d.host, "addr", ap.String(), "tls", c.tls(), "esmtp", c.esmtp())
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
	c, err := dial(ctx, d.e.dialer.DialContext, d.host, ap, timeouts{connect: cfg.ConnectTimeout, banner: cfg.BannerTimeout, command: cfg.CommandTimeout})
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

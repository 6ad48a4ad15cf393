package probe

import (
	"slices"
	"strings"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe/internal/smtpwire"
	"github.com/preflight-email/preflight/reply"
)

// catchAllUnknownTTL is how long an unclear catch-all test (the random
// RCPT was greylisted, say) is remembered, so that a burst of addresses at
// one domain does not test it once per transaction.
const catchAllUnknownTTL = 5 * time.Minute

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
		j.on = c
		if j.utf8 && !c.has("SMTPUTF8") {
			d.answer(j, answer{res: Result{
				Reason: outcome.SMTPRejected, CatchAll: d.catchAll(s, j.domain), Host: d.host,
				Message: "server does not support SMTPUTF8", TLS: c.tls(), NoSMTPUTF8: true,
			}})
			continue
		}
		smtputf8 = smtputf8 || j.utf8
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return true
	}
	var tests []string // the catch-all tests' addresses, in order
	for _, domain := range b.probe {
		if slices.ContainsFunc(jobs, func(j *job) bool { return j.domain == domain }) {
			tests = append(tests, e.testLocal(domain)+"@"+domain)
		}
	}
	// The transaction stays open between batches (see the end): a new
	// one is started only when the open one cannot take this batch.
	reuse := c.txnOpen && !b.split && (!smtputf8 || c.txnUTF8) &&
		c.txnRcpts+len(tests)+len(jobs) <= d.txnLimit(s)
	rset := c.txnOpen && !reuse
	defer func() {
		// RCPTs sent in a flight count against the session and in the
		// stats whether or not their replies were needed.
		c.dropAhead()
		s.rcpts += c.unasked
		s.refused += c.unaskedTooMany
		e.stats.rcpts.Add(uint64(c.unasked))
		c.unasked, c.unaskedTooMany = 0, 0
	}()
	if c.w.Pipelining() {
		if !d.fly(c, s, b, jobs, tests, rset, reuse, smtputf8) {
			return false // closing: the callers got ErrClosed already
		}
	}
	if rset {
		// RFC 5321 §4.1.1.5: the open transaction ends, nothing was to be
		// delivered.
		r, err := c.rset()
		if err != nil {
			d.lost(jobs, failureResult(d.host, err), false)
			return false
		}
		if r.Code != 250 {
			d.lost(jobs, d.sessionResult(smtpwire.CmdRSET, r, c), false)
			return false
		}
	}
	if !reuse {
		if ok, cont := d.mail(c, s, jobs, smtputf8); !ok {
			return cont
		}
	}

	accepted := 0 // RCPTs the server took in this transaction
	sent := 0     // RCPTs sent in this transaction, tests included
	if reuse {
		accepted, sent = c.txnAccepted, c.txnSent
	}
	defer func() { c.txnSent, c.txnAccepted = sent, accepted }()
	for _, test := range tests {
		domain := test[strings.LastIndexByte(test, '@')+1:]
		if !c.sentAhead(test) && !d.rcptTurn(s.g, nil) {
			return false // closing: the callers got ErrClosed already
		}
		s.rcpts++
		e.stats.rcpts.Add(1)
		e.stats.catchAllProbes.Add(1)
		r, err := c.rcpt(test)
		if err != nil {
			d.lost(jobs, failureResult(d.host, err), false)
			return false
		}
		if r.Code == 421 {
			d.dropped(smtpwire.CmdRCPT, jobs, r, c, false)
			return false
		}
		if tooManyRecipients(r) {
			// A limit, not the domain's answer: the test is done again
			// in the next transaction or session.
			return d.tooMany(c, s, jobs, r, sent, accepted)
		}
		sent++
		if r.Code/100 == 2 {
			accepted++
		}
		state := catchAllFrom(r)
		if state == CatchAllYes && s.refusals >= testContradictionRefusals && s.lastNo != "" {
			// The random address accepted after unknown recipients were
			// refused on this session: a domain that takes anything, or
			// a server that switched to accepting everything
			// (anti-harvest). The random address of a domain this
			// session found checking tells which.
			switched, ok := d.askCanary(c, s, s.lastNo)
			if !ok {
				d.lost(jobs, Result{Reason: outcome.ConnectionFailed, Host: d.host, Message: "connection lost during a canary"}, false)
				return false
			}
			if switched {
				// Nothing the server says now can be trusted, this
				// test included.
				s.probed[domain] = CatchAllUnknown
				d.distrust(c, s, jobs, "the catch-all test was accepted after unknown recipients were refused")
				c.rset()
				return false
			}
		}
		if state == CatchAllNo {
			s.refusals++
			s.lastNo = domain
		}
		s.probed[domain] = state
		ttl := e.cfg.CatchAllTTL
		if state == CatchAllUnknown {
			ttl = min(ttl, catchAllUnknownTTL)
		}
		e.storeCatchAll(domain, state, ttl)
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
			d.lost(jobs, d.sessionResult(smtpwire.CmdRSET, r, c), false)
			return false
		}
		if ok, cont := d.mail(c, s, jobs, smtputf8); !ok {
			return cont
		}
		accepted, sent = 0, 0
	}

	// Accepted answers given after unknown recipients were refused on
	// this session wait for the canary (see canary) before they go out.
	var held []heldAnswer
	defer func() {
		for _, h := range held {
			d.answer(h.j, h.a)
		}
	}()
	for i, j := range jobs {
		if e.stopCtx.Err() != nil {
			break // the callers got ErrClosed already
		}
		if j.ctx.Err() != nil {
			continue
		}
		if !c.sentAhead(j.address) && !d.rcptTurn(s.g, j.ctx.Done()) {
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
			d.dropped(smtpwire.CmdRCPT, jobs[i:], r, c, true)
			return false
		case tooManyRecipients(r):
			return d.tooMany(c, s, jobs[i:], r, sent, accepted)
		}
		sent++
		res := d.rcptResult(r, c, s, j)
		if res.Reason == outcome.RateLimited {
			d.slowDown(jobs[i:], res, true)
			c.rset()
			return false
		}
		if r.Code/100 == 2 {
			accepted++
		}
		d.healthy()
		if switched(s, j, res) {
			// Answers on this session contradict each other: this one
			// and the rest are not to be trusted (anti-harvest).
			d.distrust(c, s, append(heldJobs(held), jobs[i:]...), "answers within one session contradicted each other")
			held = nil
			c.rset()
			return false
		}
		switch res.Reason {
		case outcome.MailboxNotFound, outcome.MailboxDisabled:
			s.refusals++
		case outcome.Accepted:
			if s.refusals >= holdRefusals && res.CatchAll == CatchAllNo {
				held = append(held, heldAnswer{j, answer{res: res}})
				continue
			}
		}
		d.answer(j, answer{res: res})
		if s.refusals >= d.refusalCap() && i+1 < len(jobs) {
			// Keep the session's run of unknown recipients short, so
			// that anti-harvest defences trip less often: the rest go
			// in a new session.
			d.requeue(jobs[i+1:], res, 0, false)
			if !d.canary(c, s, &held) {
				return false
			}
			d.reset(c)
			return false
		}
	}
	if !d.canary(c, s, &held) {
		return false
	}
	if s.refusals >= d.refusalCap() {
		d.reset(c)
		return false
	}
	// The transaction stays open: the next recipients on this session
	// need no MAIL FROM, and no RSET before it (RFC 5321 §3.3 lets a
	// transaction take many RCPTs). RSET comes at the per-transaction
	// limit, after a reply that spoils the transaction, or before QUIT.
	return true
}

// txnLimit is how many RCPTs, tests included, one transaction takes: at
// most maxRcptsPerTransaction, the server's RCPTMAX, and what it took
// before it said "too many recipients".
func (d *dispatcher) txnLimit(s *session) int {
	limit := maxRcptsPerTransaction
	if s.rcptMax > 0 {
		limit = min(limit, s.rcptMax)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rcptLimit > 0 {
		limit = min(limit, d.rcptLimit)
	}
	return limit
}

// fly sends the start of a transaction in one flight (RFC 2920): RSET when
// the open transaction must end, MAIL FROM unless it is reused, the
// catch-all tests and the real RCPTs. Their replies are then read by
// transaction as if sent one at a time (client.flight), so the answers are
// the same as on the unpipelined path. The flight is kept within what the
// anti-harvest rules allow to be sent before the transaction looks at a
// reply:
//
//   - the real RCPTs go along only when no canary can be asked between
//     the tests and them (a test accepted after testContradictionRefusals
//     refusals asks one), and not in a split batch, whose test has a
//     transaction of its own;
//   - no more RCPTs than the session's refusals leave under refusalCap,
//     so a run of unknown recipients stops where it would one at a time.
//
// Every RCPT takes its turn under the host's RCPT limiter before the
// flight. It returns false when the engine is closing.
func (d *dispatcher) fly(c *client, s *session, b batch, jobs []*job, tests []string, rset, reuse, smtputf8 bool) bool {
	rcpts := slices.Clone(tests)
	if !b.split && s.refusals+len(tests) <= testContradictionRefusals {
		room := d.refusalCap() - s.refusals - len(tests)
		for _, j := range jobs {
			if room <= 0 {
				break
			}
			if j.ctx.Err() == nil {
				rcpts = append(rcpts, j.address)
				room--
			}
		}
	} else if len(rcpts) > 1 {
		rcpts = rcpts[:1] // a canary may follow the first test's reply
	}
	if b.split {
		rcpts = rcpts[:0] // RSET and a new MAIL come between test and address
	}
	if s.refused > 0 && len(rcpts) > 1 {
		// After "too many recipients" on this session, the next
		// transaction's first RCPT goes alone: refused too, it shows the
		// limit is the session's (tooMany), and no flight of RCPTs is
		// spent on a server that will refuse them all.
		rcpts = rcpts[:1]
	}
	from := ""
	if !reuse {
		from = d.e.cfg.MailFrom
	}
	if !rset && from == "" && len(rcpts) < 2 {
		return true // nothing to gain
	}
	for i := range rcpts {
		// The first RCPT waits for its turn as it would after MAIL; the
		// others go along only if their turn has come, and otherwise
		// wait after the flight, one at a time.
		if i == 0 {
			if !d.rcptTurn(s.g, nil) {
				return false
			}
		} else if !s.g.rcpt.Allow() || !d.fleetAllow() {
			rcpts = rcpts[:i]
			break
		}
	}
	c.flight(rset, from, smtputf8, rcpts)
	return true
}

// tooMany handles "452 4.5.3 Too many recipients" (RFC 5321
// §4.5.3.1.10; Postfix's smtpd_recipient_limit; Outlook-like limits per
// session). It is a limit of the server's, not an answer about the
// recipient, so the jobs go back in the queue without being charged an
// attempt, and the dispatcher learns the host's limit:
//
//   - after sent RCPTs in this transaction, the limit is per transaction:
//     the accepted count (or sent, when none was accepted) becomes the
//     host's batch limit, and the rest go in a new transaction (RSET);
//   - at the first RCPT of a transaction, on a session that sent RCPTs
//     before, the limit is per session: the session's count becomes the
//     host's session limit, and the rest go in a new session;
//   - at the very first RCPT of a session, nothing was learnt and no
//     progress made: the jobs are charged an attempt so that it ends.
//
// It returns what transaction returns: whether the session can go on.
func (d *dispatcher) tooMany(c *client, s *session, jobs []*job, r reply.Reply, sent, accepted int) bool {
	res := d.sessionResult(smtpwire.CmdRCPT, r, c)
	s.refused++
	before := s.rcpts - s.refused // RCPTs on this session the server took
	switch {
	case sent > 0:
		limit := accepted
		if limit == 0 {
			limit = sent
		}
		d.mu.Lock()
		d.rcptLimit = limit
		d.mu.Unlock()
		d.e.log.Debug("probe: too many recipients in a transaction", "host", d.host, "limit", limit)
		d.requeue(jobs, res, 0, false)
		return d.reset(c)
	case before > 0:
		d.mu.Lock()
		if before >= 2 && (d.sessionLimit == 0 || before < d.sessionLimit) {
			// At least a test and an address, or no session would make
			// progress.
			d.sessionLimit = before
		}
		d.mu.Unlock()
		d.e.log.Debug("probe: too many recipients in a session", "host", d.host, "limit", before)
		d.requeue(jobs, res, 0, false)
		c.rset()
		return false
	}
	d.requeue(jobs, res, 1, false)
	return false
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
		d.dropped(smtpwire.CmdMAIL, jobs, r, c, false)
		return false, false
	}
	if r.Code != 250 {
		// A refused MAIL FROM is about us, not about any recipient.
		res := d.sessionResult(smtpwire.CmdMAIL, r, c)
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

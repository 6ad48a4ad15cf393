package probe

import "github.com/preflight-email/preflight/outcome"

// Anti-harvest defences: some servers change their answers after a few
// unknown recipients from one client, refusing everything with a 5.7.x
// "too many invalid recipients" (read by reply.Classify as blocked) or
// silently accepting everything for a while. No such switch may produce
// a wrong definite verdict. The dispatcher keeps each session's run of
// unknown recipients short (MaxRefusalsPerSession, interleave), notices
// answers that contradict each other within a session (switched, the
// catch-all test in transaction, canary), and asks those again in a fresh
// session after a pause, or answers unknown (distrust).

// Anti-harvest switches trip after "a few" unknown recipients, never
// after the first: one refused catch-all test is what every check of a
// single address costs, and a canary after it would add a RCPT to every
// real-time check. So an accepted answer waits for a canary after it once
// holdRefusals unknown recipients (catch-all tests and canaries included)
// were refused on the session, and a catch-all test accepted after as
// many counts as a switch rather than a domain that takes anything (a
// host shared by many domains, such as Google Workspace's, serves
// catch-all and checking domains alike, so one refusal before it proves
// nothing).
const (
	holdRefusals              = 2
	testContradictionRefusals = 2
)

// heldAnswer is an answer waiting for the canary.
type heldAnswer struct {
	j *job
	a answer
}

func heldJobs(h []heldAnswer) []*job {
	js := make([]*job, len(h))
	for i := range h {
		js[i] = h[i].j
	}
	return js
}

// switched reports an answer that contradicts what this session said
// before, the reverse of an accepted catch-all test after refusals: a
// mailbox refused as missing at a domain whose random address this
// session saw accepted. Such a server changed its behaviour towards us
// mid-session, as anti-harvest defences do. (A switch to refusing every
// recipient with a 5.7.x "too many invalid recipients" is read by
// reply.Classify as blocked, never mailbox_not_found: unknown, not
// wrong.)
func switched(s *session, j *job, res Result) bool {
	switch res.Reason {
	case outcome.MailboxNotFound, outcome.MailboxDisabled:
		return s.probed[j.domain] == CatchAllYes
	}
	return false
}

// canary checks the accepted answers held back in this transaction: it
// asks again about the random address of a domain this session or the
// cache knows is not catch-all (askCanary). Refused, as before, the held
// answers go out. Accepted, the server now takes anything (an
// anti-harvest switch), and the held answers are distrusted. When the
// session has no room left for the canary, nothing vouches for the held
// answers: they are asked again in a new session, where they come after
// fewer refusals. It returns false when the session cannot go on.
func (d *dispatcher) canary(c *client, s *session, held *[]heldAnswer) bool {
	if len(*held) == 0 {
		return true
	}
	domain := (*held)[len(*held)-1].j.domain
	if d.catchAll(s, domain) != CatchAllNo {
		return true // nothing to compare with: the answers go out
	}
	if s.rcpts >= d.sessionCap() {
		d.e.log.Debug("probe: no room for a canary, accepted answers asked again in a new session", "host", d.host, "jobs", len(*held))
		d.requeue(heldJobs(*held), Result{Reason: outcome.SMTPRejected, Host: d.host, TLS: c.tls(),
			Message: "accepted after unknown recipients were refused, with no room left in the session for a canary; the answer is not trusted"}, 0, false)
		*held = nil
		return true // the session is at its limit: serve ends it
	}
	switched, ok := d.askCanary(c, s, domain)
	if switched {
		d.distrust(c, s, heldJobs(*held), "the catch-all test was accepted after unknown recipients were refused")
		*held = nil
		return false
	}
	return ok // when not, the held answers go out: nothing contradicted them
}

// askCanary asks again about the random address of domain, which this
// session or the cache found refused: switched reports that the server
// now accepts it. ok is false when the session cannot go on.
func (d *dispatcher) askCanary(c *client, s *session, domain string) (switched, ok bool) {
	if !d.rcptTurn(s.g, nil) {
		return false, false
	}
	s.rcpts++
	d.e.stats.rcpts.Add(1)
	d.e.stats.canaries.Add(1)
	r, err := c.rcpt(d.e.testLocal(domain) + "@" + domain)
	if err != nil {
		return false, false
	}
	switch catchAllFrom(r) {
	case CatchAllYes:
		return true, false
	case CatchAllNo:
		// The server had not switched before the canary. The canary is
		// an unknown recipient like any other, and its refusal may be
		// the one that trips the switch: it vouches for what was asked
		// before it, never for what comes after, which waits for a
		// canary of its own.
		s.refusals++
	}
	return false, r.Code != 421 && !c.w.Broken()
}

// distrust handles answers that a session contradicted (anti-harvest):
// the jobs are asked again in a fresh session after the host's pause, at
// the front of the queue, when their caller's deadline leaves room for
// it; a job whose second answer is contradicted too, or whose caller
// cannot wait, gets unknown (smtp_rejected, no reply: the reply is not
// to be trusted), never a definite verdict.
//
// The switch came after at most s.refusals unknown recipients, so later
// sessions to the host stop one refusal short of that (refusalCap), down
// to one per session.
func (d *dispatcher) distrust(c *client, s *session, jobs []*job, why string) {
	d.e.stats.contradictions.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	if limit := max(1, s.refusals-1); d.refusalLimit == 0 || limit < d.refusalLimit {
		d.refusalLimit = limit
	}
	pause := d.pauseLocked()
	d.e.log.Info("probe: answers not trusted, pausing the host", "host", d.host, "why", why, "pause", pause, "jobs", len(jobs))
	res := Result{Reason: outcome.SMTPRejected, Host: d.host, TLS: c.tls(),
		Message: why + " (an anti-harvest defence?); the answer is not trusted"}
	var back []*job
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			continue
		}
		dl, ok := j.deadline()
		if !j.rechecked && ok && dl.Sub(d.pauseUntil) >= rateLimitMargin {
			j.rechecked = true
			back = append(back, j)
			continue
		}
		d.answer(j, answer{res: res})
	}
	// Those still queued, not asked yet, move on if the pause outlasts
	// their budget.
	d.shedLocked(Result{Reason: outcome.SMTPRejected, Host: d.host,
		Message: "host paused after answers within one session contradicted each other"})
	d.e.stats.requeued.Add(uint64(len(back)))
	d.queue = append(back, d.queue...)
}

// refusalCap is how many unknown recipients one session may have refused
// before it QUITs: MaxRefusalsPerSession, or less once the host showed an
// anti-harvest switch (see distrust).
func (d *dispatcher) refusalCap() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refusalLimit > 0 {
		return min(d.refusalLimit, d.e.cfg.MaxRefusalsPerSession)
	}
	return d.e.cfg.MaxRefusalsPerSession
}

package probe

import (
	"errors"
	"strings"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

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
		Code: r.Code, Enhanced: r.Enhanced, Message: r.Text, TLS: c.tls(),
	}
}

// sessionResult turns a reply outside RCPT (banner, greeting, MAIL FROM,
// a 421) into a Result. Such a reply says nothing about the mailbox, so a
// mailbox reason is not taken from it.
func (d *dispatcher) sessionResult(r reply.Reply, c *client) Result {
	res := replyFailure(d.host, r)
	res.TLS = c.tls()
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

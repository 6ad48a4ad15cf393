package probe

import (
	"errors"
	"strings"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe/internal/smtpwire"
	"github.com/preflight-email/preflight/reply"
)

// How the probe reads a reply. reply.Classify is the only judge of what a
// reply means (docs/design.md "Reading SMTP replies"); the probe adds only
// what the session context adds: where in the session the reply came
// (sessionReason), and one rule of caution at RCPT (rcptReason).

// rcptReason is the reason the probe reports for the reply to RCPT TO a
// real recipient. It is reply.Classify's reason, with one rule of caution
// that a bounce reader does not need:
//
// At RCPT, only a permanent (5xx) reply is a definite verdict, and only
// about the mailbox. A 4xx is never a bounce: the server chose to leave
// the answer open (Postfix's unknown_local_recipient_reject_code = 450,
// anti-harvest defers), and a real MTA would retry it, so "450 4.1.1 User
// unknown" is smtp_rejected, not mailbox_not_found, though a DSN with the
// same text (sent after the MTA gave up) is hard. And a reply that speaks
// of the domain or the transport (domain_not_found, no_mail_server,
// invalid_syntax, timeout, connection_failed, dns_error) is
// smtp_rejected: we found the domain and reached its MX ourselves, so the
// reply proves nothing definite about this mailbox.
//
// Every other reason (accepted, mailbox_not_found and mailbox_disabled on
// a 5xx, mailbox_full, greylisted, rate_limited, blocked, smtp_rejected)
// is Classify's, unchanged.
func rcptReason(r reply.Reply) outcome.Reason {
	reason := reply.Classify(r).Reason
	switch reason {
	case outcome.Accepted, outcome.MailboxFull, outcome.Greylisted, outcome.RateLimited,
		outcome.Blocked, outcome.SMTPRejected:
		return reason
	case outcome.MailboxNotFound, outcome.MailboxDisabled:
		if r.Code/100 == 5 {
			return reason
		}
	}
	return outcome.SMTPRejected
}

// sessionReason is the reason for a reply outside RCPT that stops the
// session or the transaction: the banner, EHLO/HELO, MAIL FROM, a 421.
// The session context is all it adds to reply.Classify: such a reply is
// about the host or about us, never about a mailbox, so only greylisted,
// rate_limited and blocked are kept; and a 5xx to MAIL FROM refused our
// sender (RFC 5321 §3.3), so it is blocked whatever its words.
func sessionReason(step string, r reply.Reply) outcome.Reason {
	switch reason := reply.Classify(r).Reason; reason {
	case outcome.Greylisted, outcome.RateLimited, outcome.Blocked:
		return reason
	}
	if step == smtpwire.CmdMAIL && r.Code/100 == 5 {
		return outcome.Blocked
	}
	return outcome.SMTPRejected
}

// rcptResult turns a RCPT reply into a Result (see rcptReason).
func (d *dispatcher) rcptResult(r reply.Reply, c *client, s *session, j *job) Result {
	return Result{
		Reason: rcptReason(r), CatchAll: d.catchAll(s, j.domain), Host: d.host,
		Code: r.Code, Enhanced: r.Enhanced, Message: r.Text, TLS: c.tls(),
	}
}

// sessionResult turns a reply outside RCPT into a Result (see
// sessionReason).
func (d *dispatcher) sessionResult(step string, r reply.Reply, c *client) Result {
	res := replyFailure(d.host, step, r)
	res.TLS = c.tls()
	return res
}

func replyFailure(host, step string, r reply.Reply) Result {
	return Result{Reason: sessionReason(step, r), Host: host, Code: r.Code, Enhanced: r.Enhanced, Message: r.Text}
}

// failureResult turns a failure to use a host into a Result.
func failureResult(host string, err error) Result {
	var he *hostError
	if !errors.As(err, &he) {
		return Result{Reason: outcome.ConnectionFailed, Host: host, Message: err.Error()}
	}
	if he.Reply != nil {
		return replyFailure(host, he.Step, *he.Reply)
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

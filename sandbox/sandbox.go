// Package sandbox answers for test-mode API keys. It never touches the
// network: a check reads the address and, by its local part, returns a
// fixed answer, so integrators can exercise every branch of their own code
// in CI, as Kickbox's and ZeroBounce's sandbox addresses allow.
package sandbox

import (
	"context"
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/syntax"
	"github.com/preflight-email/preflight/verify"
)

// Answer is the fixed outcome of a special local part.
type Answer struct {
	Verdict outcome.Verdict
	Reason  outcome.Reason
	Risk    int
	SMTP    *verify.SMTP // nil when no SMTP reply would have been read
	Flags   verify.Flags
}

// Answers are the special local parts, on any domain. Any other local part
// is answered as deliverable@ is.
var answers = map[string]Answer{
	"deliverable":   {Verdict: outcome.Deliverable, Reason: outcome.Accepted, Risk: 2, SMTP: reply(250, "2.1.5", "OK")},
	"undeliverable": {Verdict: outcome.Undeliverable, Reason: outcome.MailboxNotFound, Risk: 97, SMTP: reply(550, "5.1.1", "The email account that you tried to reach does not exist")},
	"catchall":      {Verdict: outcome.Risky, Reason: outcome.CatchAll, Risk: 35, SMTP: reply(250, "2.1.5", "OK"), Flags: verify.Flags{CatchAll: true}},
	"disposable":    {Verdict: outcome.Risky, Reason: outcome.Disposable, Risk: 60, Flags: verify.Flags{Disposable: true}},
	"greylisted":    {Verdict: outcome.Unknown, Reason: outcome.Greylisted, Risk: 20, SMTP: reply(451, "4.7.1", "Greylisted, please try again later")},
	"blocked":       {Verdict: outcome.Unknown, Reason: outcome.Blocked, Risk: 20, SMTP: reply(554, "5.7.1", "Service unavailable; client host blocked")},
	"timeout":       {Verdict: outcome.Unknown, Reason: outcome.Timeout, Risk: 20},
}

func reply(code int, enhanced, msg string) *verify.SMTP {
	return &verify.SMTP{Host: "mx.sandbox.preflight.invalid", Code: code, Enhanced: enhanced, Message: msg}
}

// LocalParts lists the special local parts, for documentation and tests.
func LocalParts() []string {
	return []string{"deliverable", "undeliverable", "catchall", "disposable", "greylisted", "blocked", "timeout"}
}

// Verifier is the test-mode verifier. The zero value is ready to use.
type Verifier struct{}

// Verify returns the fixed answer for email's local part. An address that
// does not parse is undeliverable/invalid_syntax, as in live mode.
func (Verifier) Verify(_ context.Context, email string) verify.Result {
	r := verify.Result{Email: email, MX: []string{}}
	a, err := syntax.Parse(email)
	if err != nil {
		r.Normalized = email
		r.Verdict, r.Reason, r.Risk = outcome.Undeliverable, outcome.InvalidSyntax, 100
		r.Detail = err.Error()
		return r
	}
	r.Normalized = a.Normalized
	ans, ok := answers[strings.ToLower(a.Local)]
	if !ok {
		ans = answers["deliverable"]
	}
	r.Verdict, r.Reason, r.Risk, r.Flags = ans.Verdict, ans.Reason, ans.Risk, ans.Flags
	if ans.Reason != outcome.Disposable {
		r.MX = []string{"mx.sandbox.preflight.invalid"}
	}
	if ans.SMTP != nil {
		s := *ans.SMTP
		r.SMTP = &s
	}
	return r
}

// Package scoring turns the evidence gathered by the pipeline into a risk, a
// verdict and a reason. It is a pure function: no I/O, no clock, no state
// (STYLE.md habit 9), so the same evidence always scores the same.
package scoring

import "github.com/preflight-email/preflight/outcome"

// DNS is what the MX stage found for the domain.
type DNS uint8

// DNS outcomes. The zero value means the stage did not run.
const (
	DNSUnchecked    DNS = iota
	DNSFound            // MX hosts, or an implicit MX from A/AAAA (RFC 5321 §5.1)
	DNSNXDomain         // the domain does not exist
	DNSNoMailServer     // null MX (RFC 7505), or no MX and no address
	DNSTempFail         // SERVFAIL, REFUSED or a resolver timeout
)

// CatchAll is the catch-all status of the domain, from the random-RCPT test.
type CatchAll uint8

// Catch-all outcomes. The zero value means the test gave no answer.
const (
	CatchAllUnknown CatchAll = iota
	CatchAllNo
	CatchAllYes
)

// Evidence is everything the stages learned about one address.
type Evidence struct {
	SyntaxValid bool
	Suppressed  bool // on the suppression list after an earlier bounce
	// SuppressionUnread means the suppression list could not be read: the
	// address may be on it, so no verdict may ignore it (fail closed).
	SuppressionUnread bool
	Disposable        bool
	Role              bool
	Free              bool
	DNS               DNS
	// SMTP is the reason the probe gave for the real RCPT TO, "" when no
	// probe ran (disabled, or skipped because the address was decided
	// earlier).
	SMTP     outcome.Reason
	CatchAll CatchAll
	// NoSMTPUTF8 is set when the local part is not ASCII and the receiving
	// server does not offer SMTPUTF8: no message can reach the address
	// there (RFC 6531 §3.4; a real MTA bounces it with 5.6.7).
	NoSMTPUTF8 bool
}

// Result is the scored answer.
type Result struct {
	Risk    int // 0–100: roughly the percentage chance of a hard bounce now
	Verdict outcome.Verdict
	Reason  outcome.Reason
}

// Rule is one row of the scoring table: the first rule whose When matches
// decides the result. The table is exported so that the README and the tests
// can show users exactly why an address got its score.
type Rule struct {
	Reason  outcome.Reason
	Verdict outcome.Verdict
	Risk    int
	When    string // the condition, in words, for the README
	match   func(e Evidence) bool
}

func smtpIs(r outcome.Reason) func(Evidence) bool {
	return func(e Evidence) bool { return e.SMTP == r }
}

// rules is ordered from the most certain evidence to the least. Risk bands:
// 95–100 certain hard bounce, 50–70 likely, 10–45 unknown or risky, 0 safe.
// The figures are our calibration from the bounce facts in DOMAIN.md: a
// catch-all accepts everything and bounces later for a share of addresses,
// disposable inboxes expire within hours or days, a full mailbox is often an
// abandoned one. An address accepted by a domain that rejects strangers
// scores 0, so a list of them projects a bounce rate under the 0.5% that
// healthy senders aim for.
var rules = [...]Rule{
	{outcome.InvalidSyntax, outcome.Undeliverable, 100, "the address is not valid RFC 5321/5322 syntax",
		func(e Evidence) bool { return !e.SyntaxValid }},
	{outcome.Suppressed, outcome.Undeliverable, 95, "the address is on the suppression list after an earlier bounce",
		func(e Evidence) bool { return e.Suppressed }},
	{outcome.Timeout, outcome.Unknown, 50, "the suppression list could not be read in time: the address may be on it",
		func(e Evidence) bool { return e.SuppressionUnread }},
	{outcome.DomainNotFound, outcome.Undeliverable, 99, "the domain does not exist (NXDOMAIN)",
		func(e Evidence) bool { return e.DNS == DNSNXDomain }},
	{outcome.NoMailServer, outcome.Undeliverable, 99, "null MX (RFC 7505) or no MX and no A/AAAA record",
		func(e Evidence) bool { return e.DNS == DNSNoMailServer }},
	{outcome.MailboxNotFound, outcome.Undeliverable, 97, "the server rejected the mailbox as missing (5.1.1, 5.1.10, user unknown)",
		smtpIs(outcome.MailboxNotFound)},
	{outcome.MailboxDisabled, outcome.Undeliverable, 95, "the server rejected the mailbox as disabled (5.2.1)",
		smtpIs(outcome.MailboxDisabled)},
	{outcome.SMTPRejected, outcome.Undeliverable, 95, "the local part is not ASCII and the server does not offer SMTPUTF8 (RFC 6531 §3.4): mail to it bounces (5.6.7)",
		func(e Evidence) bool { return e.NoSMTPUTF8 }},
	{outcome.Disposable, outcome.Risky, 60, "the domain is a disposable-address provider",
		func(e Evidence) bool { return e.Disposable }},
	{outcome.DNSError, outcome.Unknown, 40, "DNS failed temporarily (SERVFAIL or timeout)",
		func(e Evidence) bool { return e.DNS == DNSTempFail }},
	{outcome.MailboxFull, outcome.Risky, 35, "the mailbox exists but is full (4.2.2, 5.2.2)",
		smtpIs(outcome.MailboxFull)},
	{outcome.CatchAll, outcome.Risky, 25, "accepted, but the domain accepts any address (catch-all)",
		func(e Evidence) bool { return e.SMTP == outcome.Accepted && e.CatchAll == CatchAllYes }},
	{outcome.Accepted, outcome.Risky, 10, "accepted, but the catch-all test gave no answer: the domain may accept any address",
		func(e Evidence) bool { return e.SMTP == outcome.Accepted && e.CatchAll == CatchAllUnknown }},
	{outcome.Accepted, outcome.Deliverable, 0, "accepted on a domain that rejects unknown addresses",
		smtpIs(outcome.Accepted)},
	{outcome.SMTPRejected, outcome.Unknown, 45, "rejected without a code or text that names the mailbox",
		smtpIs(outcome.SMTPRejected)},
	{outcome.ConnectionFailed, outcome.Unknown, 40, "no MX host could be reached",
		smtpIs(outcome.ConnectionFailed)},
	{outcome.Timeout, outcome.Unknown, 25, "no SMTP answer within the time budget (or the probe is disabled)",
		smtpIs(outcome.Timeout)},
	{outcome.Blocked, outcome.Unknown, 20, "the server refused our IP (policy, blocklist, reputation): nothing learned about the address",
		smtpIs(outcome.Blocked)},
	{outcome.RateLimited, outcome.Unknown, 20, "the server rate-limited us (421, 4.7.0)",
		smtpIs(outcome.RateLimited)},
	{outcome.Greylisted, outcome.Unknown, 15, "the server greylisted us (450/451 4.7.1): a real server that usually accepts later",
		smtpIs(outcome.Greylisted)},
	{outcome.RoleAccount, outcome.Unknown, 25, "no SMTP evidence, and the address is a role account",
		func(e Evidence) bool { return e.Role }},
	{outcome.Timeout, outcome.Unknown, 20, "no SMTP evidence",
		func(Evidence) bool { return true }},
}

// Score applies the rule table to the evidence. It never allocates.
func Score(e Evidence) Result {
	for i := range rules {
		if rules[i].match(e) {
			return Result{Risk: rules[i].Risk, Verdict: rules[i].Verdict, Reason: rules[i].Reason}
		}
	}
	// Unreachable: the last rule always matches.
	return Result{Risk: 50, Verdict: outcome.Unknown, Reason: outcome.Timeout}
}

// Rules returns a copy of the rule table, in the order it is applied.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	copy(out, rules[:])
	return out
}

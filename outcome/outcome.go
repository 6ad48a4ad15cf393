// Package outcome is Preflight's shared vocabulary: the verdicts and reasons
// that docs/design.md fixes as the stable contract of every result. It holds only
// names, so every stage can speak them without importing another stage.
package outcome

// Verdict answers "will a message to this address hard-bounce?".
type Verdict string

// Verdicts, as fixed by docs/design.md ("Result").
const (
	Deliverable   Verdict = "deliverable"
	Undeliverable Verdict = "undeliverable"
	Risky         Verdict = "risky"
	Unknown       Verdict = "unknown"
)

// Reason explains a verdict. Add a value only by editing docs/design.md first.
type Reason string

// Reasons, as fixed by docs/design.md ("Result").
const (
	InvalidSyntax    Reason = "invalid_syntax"
	DomainNotFound   Reason = "domain_not_found"
	NoMailServer     Reason = "no_mail_server"
	MailboxNotFound  Reason = "mailbox_not_found"
	MailboxDisabled  Reason = "mailbox_disabled"
	MailboxFull      Reason = "mailbox_full"
	Accepted         Reason = "accepted"
	CatchAll         Reason = "catch_all"
	Disposable       Reason = "disposable"
	RoleAccount      Reason = "role_account"
	Greylisted       Reason = "greylisted"
	RateLimited      Reason = "rate_limited"
	Blocked          Reason = "blocked"
	Timeout          Reason = "timeout"
	ConnectionFailed Reason = "connection_failed"
	DNSError         Reason = "dns_error"
	SMTPRejected     Reason = "smtp_rejected"
	Suppressed       Reason = "suppressed"
	// Complained is a spam complaint (an ARF feedback report, RFC 5965):
	// it puts the address on the suppression list. It is a suppression
	// reason, never a probe result (docs/design.md).
	Complained Reason = "complained"
)

// Reasons lists every reason in the order docs/design.md gives them.
func Reasons() []Reason {
	return []Reason{
		InvalidSyntax, DomainNotFound, NoMailServer, MailboxNotFound,
		MailboxDisabled, MailboxFull, Accepted, CatchAll, Disposable,
		RoleAccount, Greylisted, RateLimited, Blocked, Timeout,
		ConnectionFailed, DNSError, SMTPRejected, Suppressed, Complained,
	}
}

// Verdicts lists every verdict.
func Verdicts() []Verdict {
	return []Verdict{Deliverable, Undeliverable, Risky, Unknown}
}

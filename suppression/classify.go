package suppression

import (
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// diagnose classifies an event. The receiving server's own words come
// first: the ESP's bounce type is a coarser, second-hand reading, and the
// classifier knows the traps (a 5.7.1 blocklist refusal that an ESP files
// as a hard bounce, a 4xx that is really permanent). Only when the text
// says nothing definite (class unknown, or no text at all) does the ESP's
// type decide, through fallback.
func diagnose(e Event) reply.Diagnosis {
	var d reply.Diagnosis
	if strings.TrimSpace(e.Message) != "" || e.Status != "" {
		r := reply.Parse(e.Message)
		// RFC 3464 §2.3.4: the Status is the enhanced code of the outcome;
		// use it when the diagnostic carries none and the classes agree.
		if r.Enhanced == "" && reply.ValidStatus(e.Status) && (r.Code == 0 || int(e.Status[0]-'0') == r.Code/100) {
			r.Enhanced = e.Status
		}
		d = reply.Classify(r)
	} else {
		d = reply.Diagnosis{Class: reply.Unknown, Reason: outcome.SMTPRejected, Action: reply.Review,
			Explanation: "The bounce carried no diagnostic text."}
	}
	if d.Class != reply.Unknown || d.Reason == outcome.Accepted {
		return d
	}
	if f, ok := fallback(e.Source, e.Kind); ok {
		f.Code, f.Enhanced, f.Provider, f.Blocklist = d.Code, d.Enhanced, d.Provider, d.Blocklist
		return f
	}
	return d
}

// fallback maps an ESP's own bounce type to a diagnosis, for events whose
// text is absent or says nothing definite.
//
// Postmark (Type, postmarkapp.com/developer/api/bounce-api "bounce types"):
//
//	HardBounce, BadEmailAddress          -> hard (mailbox_not_found, invalid_syntax)
//	SoftBounce, Transient                -> soft (smtp_rejected), retry
//	DnsError                             -> soft (dns_error), retry
//	SpamNotification, Blocked, DMARCPolicy -> block (blocked), fix_sender
//	anything else (AutoResponder, SpamComplaint, Unknown, ...) -> no fallback: unknown
//
// Amazon SES (bounceType/bounceSubType, ses/latest/dg/notification-contents.html):
//
//	Permanent/Suppressed, Permanent/OnAccountSuppressionList -> hard (suppressed)
//	Permanent/*                          -> hard (mailbox_not_found)
//	Transient/MailboxFull                -> soft (mailbox_full)
//	Transient/ContentRejected, Transient/AttachmentRejected -> block (blocked)
//	Transient/MessageTooLarge            -> soft (smtp_rejected), review
//	Transient/*                          -> soft (smtp_rejected), retry
//	Undetermined                         -> no fallback: unknown
func fallback(source, kind string) (reply.Diagnosis, bool) {
	hard := func(r outcome.Reason, expl string) (reply.Diagnosis, bool) {
		return reply.Diagnosis{Class: reply.Hard, Reason: r, Action: reply.Suppress, Explanation: expl}, true
	}
	soft := func(r outcome.Reason, a reply.Action, expl string) (reply.Diagnosis, bool) {
		return reply.Diagnosis{Class: reply.Soft, Reason: r, Action: a, Explanation: expl}, true
	}
	block := func(expl string) (reply.Diagnosis, bool) {
		return reply.Diagnosis{Class: reply.Block, Reason: outcome.Blocked, Action: reply.FixSender, Explanation: expl}, true
	}
	switch source {
	case SourcePostmark:
		switch kind {
		case "HardBounce":
			return hard(outcome.MailboxNotFound, "Postmark reports a hard bounce (unknown user or mailbox not found); remove the address.")
		case "BadEmailAddress":
			return hard(outcome.InvalidSyntax, "Postmark reports that the address is not a valid email address; remove or correct it.")
		case "SoftBounce", "Transient":
			return soft(outcome.SMTPRejected, reply.Retry, "Postmark reports a temporary failure; retry later, and suppress the address if it keeps failing.")
		case "DnsError":
			return soft(outcome.DNSError, reply.Retry, "Postmark reports a temporary DNS error; retry later.")
		case "SpamNotification", "Blocked", "DMARCPolicy":
			return block("Postmark reports that the receiver refused or filtered the message because of the sender or its content; the address itself may be fine.")
		}
	case SourceSES:
		typ, sub, _ := strings.Cut(kind, "/")
		switch typ {
		case "Permanent":
			if sub == "Suppressed" || sub == "OnAccountSuppressionList" {
				return hard(outcome.Suppressed, "Amazon SES did not send because the address is on its suppression list after an earlier hard bounce.")
			}
			return hard(outcome.MailboxNotFound, "Amazon SES reports a permanent bounce; remove the address.")
		case "Transient":
			switch sub {
			case "MailboxFull":
				return soft(outcome.MailboxFull, reply.Retry, "Amazon SES reports that the mailbox is full; retry later, and suppress it if it stays full.")
			case "ContentRejected", "AttachmentRejected":
				return block("Amazon SES reports that the receiver refused the message's content or attachment; the address itself may be fine.")
			case "MessageTooLarge":
				return soft(outcome.SMTPRejected, reply.Review, "Amazon SES reports that the message was too large; this is not a problem with the address.")
			}
			return soft(outcome.SMTPRejected, reply.Retry, "Amazon SES reports a temporary failure; retry later, and suppress the address if it keeps failing.")
		}
	}
	return reply.Diagnosis{}, false
}

// postmarkTypeName names a Postmark TypeCode, for bodies that carry the
// code without the Type (postmarkapp.com/developer/api/bounce-api).
func postmarkTypeName(code string) string {
	switch code {
	case "1":
		return "HardBounce"
	case "2":
		return "Transient"
	case "256":
		return "DnsError"
	case "512":
		return "SpamNotification"
	case "4096":
		return "SoftBounce"
	case "100000":
		return "BadEmailAddress"
	case "100006":
		return "Blocked"
	case "100009":
		return "DMARCPolicy"
	}
	return ""
}

package reply

import "github.com/preflight-email/preflight/outcome"

// Class is the kind of bounce a reply is.
type Class string

// Classes of reply.
const (
	Hard    Class = "hard"    // the address is bad for good
	Soft    Class = "soft"    // a temporary failure on the recipient's side
	Block   Class = "block"   // the receiving server refused the sender, not the address
	Unknown Class = "unknown" // not a bounce (2xx), or nothing definite
)

// Action is what the sender should do about a reply.
type Action string

// Actions.
const (
	Suppress  Action = "suppress"   // never mail the address again
	Retry     Action = "retry"      // try again later
	FixSender Action = "fix_sender" // fix the sending side (IP, domain, authentication, content)
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
	// Provider names who answered, when the text shows it: "gmail",
	// "microsoft", "yahoo" (also AOL), "apple", "comcast", "gmx", "web.de",
	// "mail.ru", "yandex", "qq", "zoho", or a gateway: "proofpoint",
	// "mimecast", "barracuda". Else "".
	Provider string
	// Blocklist names the public blocklist the text cites: "spamhaus",
	// "spamcop", "barracuda", "sorbs", "cbl", "uceprotect", "spamrats",
	// "invaluement", "psbl", "mailspike", "cloudmark", "proofpoint". Else "".
	Blocklist string
}

// verdict is the classifier's internal reading of a reply, finer than
// outcome.Reason: several verdicts share a reason but not a class.
type verdict uint8

const (
	vNone       verdict = iota // no evidence
	vAccepted                  // 2xx
	vNotFound                  // the mailbox does not exist
	vDisabled                  // the mailbox exists but is disabled
	vDomain                    // the domain does not exist
	vNoMX                      // the domain takes no mail (null MX, unroutable)
	vSyntax                    // the address is malformed
	vFull                      // the mailbox is full
	vSize                      // the message is too big: not an address problem
	vGreylist                  // greylisted
	vRate                      // rate limited
	vBlock                     // the sender is refused (reputation, policy, authentication)
	vSender                    // the sender's address or domain is refused
	vTimeout                   // delivery timed out
	vConnection                // could not connect or lost the connection
	vDNS                       // temporary DNS trouble
	vTemp                      // temporary trouble on the receiving side
	vRejected                  // refused, reason not given
)

// Weight of the basic code alone: below every text pattern, so a generic
// code never hides a reason the text names.
const basicScore = 5

// ClassifyText is Classify(Parse(s)).
func ClassifyText(s string) Diagnosis { return Classify(Parse(s)) }

// Classify reads the basic code, then the enhanced code, then the text
// (docs/design.md "Reading SMTP replies"). Each source of evidence carries a
// weight; a specific enhanced code beats ordinary text, and only the trap
// patterns (texts documented to come with misleading codes) beat a specific
// code. On a tie the codes win. Classify does not allocate.
func Classify(r Reply) Diagnosis {
	d := Diagnosis{Code: r.Code, Enhanced: r.Enhanced}
	m := compiled()
	ev := m.scan(r.Text)
	d.Provider, d.Blocklist = ev.provider, ev.blocklist

	// The class digit: the basic code's first digit, else the enhanced
	// code's (RFC 3463 §2 requires them to agree).
	digit := r.Code / 100
	if digit == 0 && r.Enhanced != "" {
		digit = int(r.Enhanced[0] - '0')
	}
	if digit == 2 || digit == 3 {
		d.Class, d.Reason, d.Action = Unknown, outcome.Accepted, Review
		d.Explanation = explainDefault(vAccepted, false)
		return d
	}
	temporary := digit == 4

	// Basic code (RFC 5321 §4.2.2, §4.2.3; RFC 7504 §3).
	best, bestScore, expl := basicEvidence(r.Code), int8(basicScore), ""

	// Enhanced code (RFC 3463 and its registry).
	if v, score, ok := enhancedEvidence(r.Code, r.Enhanced); ok && score > 0 && score >= bestScore {
		best, bestScore = v, score
	}

	// Text: wins only when strictly stronger than the codes.
	strongText := false
	if ev.best >= 0 {
		tr := &m.rules[ev.best]
		if tr.score > bestScore {
			best, bestScore, expl = tr.kind, tr.score, tr.expl
			strongText = tr.score >= textStrong
		}
	}

	// A 5.7.x code says security or policy (RFC 3463 §3.8), but a text that
	// names a missing or disabled mailbox outright (a strong pattern) still
	// wins, as it does over any other code: administrators refuse former
	// users with "554 5.7.1 <a@b>: Recipient address rejected: User
	// unknown" (a Postfix access map's REJECT). Weaker words do not beat
	// the code. Refusals of the sender carry their own, stronger patterns.

	// "Try again later" after a 421 is the host telling us to slow down,
	// not greylisting (docs/design.md: 421 texts are rate_limited).
	if best == vGreylist && bestScore < textTrap && r.Code == 421 {
		best = vRate
	}

	// A 4xx that calls the mailbox missing or disabled only counts as
	// permanent when the text says so outright (the "4xx that is really
	// permanent" trap); a bare 4.1.1 or 4.2.1 is just a temporary refusal.
	// A 4xx about the domain is a lookup that failed for now (Postfix's
	// "450 4.1.2 ... Domain not found", qmail's "#4.1.2"): temporary DNS
	// trouble, whatever its words.
	if temporary && best == vDomain {
		best, expl = vDNS, ""
	}
	if temporary && isHardVerdict(best) && !strongText {
		best, expl = vTemp, ""
	}

	d.Reason, d.Class, d.Action = outcomeOf(best, temporary)
	if expl == "" {
		expl = explainDefault(best, temporary)
	}
	d.Explanation = expl
	return d
}

func isHardVerdict(v verdict) bool {
	switch v {
	case vNotFound, vDisabled, vDomain, vNoMX, vSyntax:
		return true
	}
	return false
}

// basicEvidence reads the basic code alone.
func basicEvidence(code int) verdict {
	switch {
	case code == 421:
		// RFC 5321 §4.2.3: the server is closing the channel; for us that
		// means back off the host (docs/design.md: 421 is rate_limited).
		return vRate
	case code == 556:
		// RFC 7504 §3: the domain does not accept mail (null MX).
		return vNoMX
	case code == 521:
		// RFC 7504 §3: the host does not accept mail.
		return vNoMX
	case code >= 400 && code < 500:
		return vTemp
	case code >= 500:
		return vRejected
	}
	return vNone
}

// enhancedEvidence reads an enhanced code in the light of the basic code.
func enhancedEvidence(code int, enhanced string) (verdict, int8, bool) {
	if enhanced == "" {
		return vNone, 0, false
	}
	class, subject, detail, ok := splitEnhanced(enhanced)
	if !ok {
		return vNone, 0, false
	}
	if class == '4' && subject == 7 {
		switch {
		case detail == 0:
			// 4.7.0 mostly comes with throttling (docs/design.md).
			return vRate, codeWeak, true
		case detail == 1 && (code == 450 || code == 451):
			// 450/451 4.7.1 is the usual greylisting reply (docs/design.md).
			return vGreylist, codeWeak, true
		case detail == 1:
			return vBlock, codeWeak, true
		case detail >= 500 && detail <= 699:
			// Exchange Online uses 4.7.500-4.7.699 for throttling
			// ("Server busy", "temporarily rate limited").
			return vRate, codeSpecific, true
		}
	}
	if class == '5' && subject == 7 && detail >= 500 {
		// Exchange Online's 5.7.5xx-7xx are blocks of the sender (banned
		// IP or sender, traffic not accepted).
		return vBlock, codeSpecific, true
	}
	st, ok := lookupStatus(subject, detail)
	if !ok {
		// RFC 3463 §3.1: an unknown detail is read as its subject's X.y.0,
		// except under X.1: docs/design.md reads 5.1.0 as a missing mailbox, but
		// unregistered X.1 details are vendor codes about other things
		// (Exchange 5.1.90 is a sender's daily recipient limit), so they
		// prove nothing about the address.
		if subject == 1 {
			return vRejected, codeGeneric, true
		}
		if st, ok = lookupStatus(subject, 0); !ok {
			return vNone, 0, false
		}
	}
	v := st.kind
	if class == '5' && (v == vConnection || v == vDNS) {
		// A permanent "no answer from host" reported by the host itself is
		// a refusal, not a network problem.
		return vRejected, codeGeneric, true
	}
	return v, st.score, true
}

// outcomeOf maps a verdict to the shared vocabulary.
func outcomeOf(v verdict, temporary bool) (outcome.Reason, Class, Action) {
	switch v {
	case vAccepted:
		return outcome.Accepted, Unknown, Review
	case vNotFound:
		return outcome.MailboxNotFound, Hard, Suppress
	case vDisabled:
		return outcome.MailboxDisabled, Hard, Suppress
	case vDomain:
		return outcome.DomainNotFound, Hard, Suppress
	case vNoMX:
		return outcome.NoMailServer, Hard, Suppress
	case vSyntax:
		return outcome.InvalidSyntax, Hard, Suppress
	case vFull:
		// docs/design.md: the mailbox exists, so this is not a hard bounce.
		return outcome.MailboxFull, Soft, Retry
	case vSize:
		// The message, not the address, was refused: resending the same
		// message will fail again, so a person should look.
		return outcome.SMTPRejected, Soft, Review
	case vGreylist:
		return outcome.Greylisted, Soft, Retry
	case vRate:
		return outcome.RateLimited, Soft, Retry
	case vBlock, vSender:
		// docs/design.md: the server refused us; that says nothing about the
		// address, so never hard.
		return outcome.Blocked, Block, FixSender
	case vTimeout:
		return outcome.Timeout, Soft, Retry
	case vConnection:
		return outcome.ConnectionFailed, Soft, Retry
	case vDNS:
		return outcome.DNSError, Soft, Retry
	case vTemp:
		return outcome.SMTPRejected, Soft, Retry
	}
	// docs/design.md: a 5xx with no enhanced code and no recognisable text is
	// not proof that the mailbox is missing.
	if temporary {
		return outcome.SMTPRejected, Soft, Retry
	}
	return outcome.SMTPRejected, Unknown, Review
}

// explainDefault is the explanation of a verdict when no pattern gave one.
func explainDefault(v verdict, temporary bool) string {
	switch v {
	case vAccepted:
		return "The server accepted the command; this is not a bounce."
	case vNotFound:
		return "The receiving server says the mailbox does not exist; remove the address."
	case vDisabled:
		return "The mailbox exists but is disabled and not accepting mail; remove the address."
	case vDomain:
		return "The recipient's domain does not exist; remove the address."
	case vNoMX:
		return "The recipient's domain does not accept mail; remove the address."
	case vSyntax:
		return "The receiving server says the address is malformed; remove or correct it."
	case vFull:
		return "The mailbox exists but is full; retry later, and suppress it if it stays full."
	case vSize:
		return "The message is too large for the receiving server; this is not a problem with the address."
	case vGreylist:
		return "The receiving server greylisted the message; retry after a few minutes."
	case vRate:
		return "The receiving server is limiting how fast it accepts mail from the sender; back off and retry later."
	case vBlock:
		return "The receiving server refused the sender (policy, reputation or authentication), not the address."
	case vSender:
		return explSender
	case vTimeout:
		return "Delivery timed out before the receiving server answered; retry later."
	case vConnection:
		return "The connection to the receiving server failed; retry later."
	case vDNS:
		return "A temporary DNS or directory failure stopped delivery; retry later."
	case vTemp:
		return "The receiving server refused the message for now; retry later."
	}
	if temporary {
		return "The receiving server refused the message for now without saying why; retry later."
	}
	return "The receiving server refused the message without a recognisable reason; this alone does not prove the address is bad."
}

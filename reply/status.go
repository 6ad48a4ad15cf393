package reply

// This file holds Preflight's own copy of the IANA "SMTP Enhanced Status
// Codes" registry (RFC 3463 §3, RFC 5248 §2): for each subject.detail, the
// meaning the RFCs give it, the RFC that defined it, and what it tells the
// classifier. The class digit (2, 4, 5) only says success, temporary or
// permanent (RFC 3463 §3.1), so the table is keyed on subject and detail.

// status is one registry entry.
type status struct {
	meaning string  // RFC text, e.g. "Bad destination mailbox address"
	src     string  // the RFC that registered the code
	kind    verdict // what the code says about the reply
	score   int8    // how much weight the code carries (see classify.go)
}

// Weights of enhanced-code evidence. A specific code outranks ordinary text
// patterns but not the trap patterns that exist precisely because some
// servers send misleading codes (docs/design.md "Reading SMTP replies").
const (
	codeGeneric  = 0  // X.0.0, X.1.0 style "other" codes: only the class is known
	codeWeak     = 25 // a hint, e.g. 4.7.1 on 450/451 usually means greylisting
	codeSpecific = 50 // the code names the condition outright
)

// lookupStatus returns the registry entry for subject.detail.
func lookupStatus(subject, detail int) (status, bool) {
	switch subject*1000 + detail {
	// X.0.x: other or undefined (RFC 3463 §3.2)
	case 0:
		return status{"Other undefined Status", "RFC 3463 §3.2", vNone, codeGeneric}, true

	// X.1.x: addressing status (RFC 3463 §3.3)
	case 1000:
		// docs/design.md: 5.1.0 is read as a missing mailbox.
		return status{"Other address status", "RFC 3463 §3.3", vNotFound, codeSpecific}, true
	case 1001:
		return status{"Bad destination mailbox address", "RFC 3463 §3.3", vNotFound, codeSpecific}, true
	case 1002:
		return status{"Bad destination system address", "RFC 3463 §3.3", vDomain, codeSpecific}, true
	case 1003:
		return status{"Bad destination mailbox address syntax", "RFC 3463 §3.3", vSyntax, codeSpecific}, true
	case 1004:
		return status{"Destination mailbox address ambiguous", "RFC 3463 §3.3", vRejected, codeSpecific}, true
	case 1005:
		return status{"Destination address valid", "RFC 3463 §3.3", vAccepted, codeSpecific}, true
	case 1006:
		return status{"Destination mailbox has moved, No forwarding address", "RFC 3463 §3.3", vNotFound, codeSpecific}, true
	case 1007:
		return status{"Bad sender's mailbox address syntax", "RFC 3463 §3.3", vSender, codeSpecific}, true
	case 1008:
		return status{"Bad sender's system address", "RFC 3463 §3.3", vSender, codeSpecific}, true
	case 1009:
		return status{"Message relayed to non-compliant mailer", "RFC 3886 §3.3", vRejected, codeGeneric}, true
	case 1010:
		// RFC 7505 §4.2 registers it for null MX; Microsoft sends 5.1.10
		// "RESOLVER.ADR.RecipientNotFound". docs/design.md reads it as a missing
		// mailbox; a "null MX" text turns it into no_mail_server.
		return status{"Recipient address has null MX", "RFC 7505 §4.2", vNotFound, codeSpecific}, true

	// X.2.x: mailbox status (RFC 3463 §3.4)
	case 2000:
		return status{"Other or undefined mailbox status", "RFC 3463 §3.4", vRejected, codeGeneric}, true
	case 2001:
		return status{"Mailbox disabled, not accepting messages", "RFC 3463 §3.4", vDisabled, codeSpecific}, true
	case 2002:
		return status{"Mailbox full", "RFC 3463 §3.4", vFull, codeSpecific}, true
	case 2003:
		return status{"Message length exceeds administrative limit", "RFC 3463 §3.4", vSize, codeSpecific}, true
	case 2004:
		return status{"Mailing list expansion problem", "RFC 3463 §3.4", vRejected, codeSpecific}, true

	// X.3.x: mail system status (RFC 3463 §3.5). Trouble inside the
	// receiving system, not the address: a hint of a soft failure.
	case 3000:
		return status{"Other or undefined mail system status", "RFC 3463 §3.5", vRejected, codeGeneric}, true
	case 3001:
		return status{"Mail system full", "RFC 3463 §3.5", vTemp, codeWeak}, true
	case 3002:
		return status{"System not accepting network messages", "RFC 3463 §3.5", vRejected, codeGeneric}, true
	case 3003:
		return status{"System not capable of selected features", "RFC 3463 §3.5", vRejected, codeGeneric}, true
	case 3004:
		return status{"Message too big for system", "RFC 3463 §3.5", vSize, codeSpecific}, true
	case 3005:
		return status{"System incorrectly configured", "RFC 3463 §3.5", vTemp, codeWeak}, true
	case 3006:
		return status{"Requested priority was changed", "RFC 6710 §7", vRejected, codeGeneric}, true

	// X.4.x: network and routing status (RFC 3463 §3.6)
	case 4000:
		return status{"Other or undefined network or routing status", "RFC 3463 §3.6", vRejected, codeGeneric}, true
	case 4001:
		// Exchange Online also sends 5.4.1 for directory-based edge
		// blocking; the "Access denied" text pattern catches that.
		return status{"No answer from host", "RFC 3463 §3.6", vConnection, codeWeak}, true
	case 4002:
		return status{"Bad connection", "RFC 3463 §3.6", vConnection, codeWeak}, true
	case 4003:
		return status{"Directory server failure", "RFC 3463 §3.6", vDNS, codeWeak}, true
	case 4004:
		return status{"Unable to route", "RFC 3463 §3.6", vNoMX, codeSpecific}, true
	case 4005:
		return status{"Mail system congestion", "RFC 3463 §3.6", vRate, codeWeak}, true
	case 4006:
		return status{"Routing loop detected", "RFC 3463 §3.6", vRejected, codeGeneric}, true
	case 4007:
		return status{"Delivery time expired", "RFC 3463 §3.6", vTimeout, codeSpecific}, true

	// X.5.x: mail delivery protocol status (RFC 3463 §3.7)
	case 5000:
		return status{"Other or undefined protocol status", "RFC 3463 §3.7", vRejected, codeGeneric}, true
	case 5001:
		return status{"Invalid command", "RFC 3463 §3.7", vRejected, codeGeneric}, true
	case 5002:
		return status{"Syntax error", "RFC 3463 §3.7", vRejected, codeGeneric}, true
	case 5003:
		return status{"Too many recipients", "RFC 3463 §3.7", vRate, codeSpecific}, true
	case 5004:
		return status{"Invalid command arguments", "RFC 3463 §3.7", vRejected, codeGeneric}, true
	case 5005:
		return status{"Wrong protocol version", "RFC 3463 §3.7", vRejected, codeGeneric}, true
	case 5006:
		return status{"Authentication Exchange line is too long", "RFC 4954 §9", vRejected, codeGeneric}, true

	// X.6.x: message content or media status (RFC 3463 §3.8). The message,
	// not the address, was refused: a hint of a block (fix the sending side).
	case 6000:
		return status{"Other or undefined media error", "RFC 3463 §3.8", vBlock, codeWeak}, true
	case 6001:
		return status{"Media not supported", "RFC 3463 §3.8", vBlock, codeWeak}, true
	case 6002:
		return status{"Conversion required and prohibited", "RFC 3463 §3.8", vBlock, codeWeak}, true
	case 6003:
		return status{"Conversion required but not supported", "RFC 3463 §3.8", vBlock, codeWeak}, true
	case 6004:
		return status{"Conversion with loss performed", "RFC 3463 §3.8", vBlock, codeWeak}, true
	case 6005:
		return status{"Conversion Failed", "RFC 3463 §3.8", vBlock, codeWeak}, true
	case 6006:
		return status{"Message content not available", "RFC 4468 §7", vRejected, codeGeneric}, true
	case 6007:
		return status{"Non-ASCII addresses not permitted for that sender/recipient", "RFC 6531 §3.7.3", vRejected, codeSpecific}, true
	case 6008:
		return status{"UTF-8 string reply is required, but not permitted by the SMTP client", "RFC 6531 §3.7.4.2", vRejected, codeSpecific}, true
	case 6009:
		return status{"UTF-8 header message cannot be transferred to one or more recipients, so the message must be rejected", "RFC 6531 §3.7.5", vRejected, codeSpecific}, true
	case 6010:
		// Registered to fix the duplicate X.6.8 of RFC 6531 (erratum 3941).
		return status{"UTF-8 string reply is required, but not permitted by the SMTP client", "RFC 6531 erratum 3941", vRejected, codeSpecific}, true

	// X.7.x: security or policy status (RFC 3463 §3.9). docs/design.md: the
	// receiving server refused the sender, which says nothing about the
	// address, so these are "blocked" unless the code is about the mailbox.
	case 7000:
		return status{"Other or undefined security status", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7001:
		return status{"Delivery not authorized, message refused", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7002:
		return status{"Mailing list expansion prohibited", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7003:
		return status{"Security conversion required but not possible", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7004:
		return status{"Security features not supported", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7005:
		return status{"Cryptographic failure", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7006:
		return status{"Cryptographic algorithm not supported", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7007:
		return status{"Message integrity failure", "RFC 3463 §3.9", vBlock, codeSpecific}, true
	case 7008:
		return status{"Authentication credentials invalid", "RFC 4954 §6", vBlock, codeSpecific}, true
	case 7009:
		return status{"Authentication mechanism is too weak", "RFC 4954 §6", vBlock, codeSpecific}, true
	case 7010:
		return status{"Encryption Needed", "RFC 5248 §2.4", vBlock, codeSpecific}, true
	case 7011:
		return status{"Encryption required for requested authentication mechanism", "RFC 4954 §6", vBlock, codeSpecific}, true
	case 7012:
		return status{"A password transition is needed", "RFC 4954 §6", vBlock, codeSpecific}, true
	case 7013:
		return status{"User Account Disabled", "RFC 5248 §2.4", vDisabled, codeSpecific}, true
	case 7014:
		return status{"Trust relationship required", "RFC 5248 §2.4", vBlock, codeSpecific}, true
	case 7015:
		return status{"Priority Level is too low", "RFC 6710 §7", vBlock, codeSpecific}, true
	case 7016:
		return status{"Message is too big for the specified priority", "RFC 6710 §7", vSize, codeSpecific}, true
	case 7017:
		// RRVS: the mailbox now belongs to someone else, so the address
		// as the sender knew it is gone.
		return status{"Mailbox owner has changed", "RFC 7293 §5.2", vNotFound, codeSpecific}, true
	case 7018:
		return status{"Domain owner has changed", "RFC 7293 §5.2", vNotFound, codeSpecific}, true
	case 7019:
		return status{"RRVS test cannot be completed", "RFC 7293 §5.2", vRejected, codeGeneric}, true
	case 7020:
		return status{"No passing DKIM signature found", "RFC 7372 §3.1", vBlock, codeSpecific}, true
	case 7021:
		return status{"No acceptable DKIM signature found", "RFC 7372 §3.1", vBlock, codeSpecific}, true
	case 7022:
		return status{"No valid author-matched DKIM signature found", "RFC 7372 §3.1", vBlock, codeSpecific}, true
	case 7023:
		return status{"SPF validation failed", "RFC 7372 §3.2", vBlock, codeSpecific}, true
	case 7024:
		return status{"SPF validation error", "RFC 7372 §3.2", vBlock, codeSpecific}, true
	case 7025:
		return status{"Reverse DNS validation failed", "RFC 7372 §3.3", vBlock, codeSpecific}, true
	case 7026:
		return status{"Multiple authentication checks failed", "RFC 7372 §3.4", vBlock, codeSpecific}, true
	case 7027:
		return status{"Sender address has null MX", "RFC 7505 §4.2", vSender, codeSpecific}, true
	case 7028:
		return status{"Mail flood detected", "IANA SMTP Enhanced Status Codes registry", vRate, codeSpecific}, true
	case 7029:
		return status{"ARC validation failure", "RFC 8617 §7.2", vBlock, codeSpecific}, true
	case 7030:
		return status{"REQUIRETLS support required", "RFC 8689 §6", vBlock, codeSpecific}, true
	}
	return status{}, false
}

// Describe returns the RFC 3463 meaning of an enhanced status code, e.g.
// "5.1.1" -> "Bad destination mailbox address", or "" for a code that is
// malformed or not in the registry.
func Describe(enhanced string) string {
	_, subject, detail, ok := splitEnhanced(enhanced)
	if !ok {
		return ""
	}
	st, ok := lookupStatus(subject, detail)
	if !ok {
		return ""
	}
	return st.meaning
}

// splitEnhanced reads "c.s.d" (RFC 3463 §2: class 2/4/5, subject and
// detail 1*3digit).
func splitEnhanced(e string) (class byte, subject, detail int, ok bool) {
	if len(e) < 5 || (e[0] != '2' && e[0] != '4' && e[0] != '5') || e[1] != '.' {
		return 0, 0, 0, false
	}
	i := 2
	n := digits(e[i:])
	if n == 0 || n > 3 {
		return 0, 0, 0, false
	}
	subject = atoi(e[i : i+n])
	i += n
	if i >= len(e) || e[i] != '.' {
		return 0, 0, 0, false
	}
	i++
	n = digits(e[i:])
	if n == 0 || n > 3 || i+n != len(e) {
		return 0, 0, 0, false
	}
	detail = atoi(e[i:])
	return e[0], subject, detail, true
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// ValidStatus reports whether s has the form of an RFC 3463 status code,
// class.subject.detail, as a DSN's Status field carries it: "5.1.1".
func ValidStatus(s string) bool {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return false
	}
	dots := 0
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return false
		}
	}
	return dots == 2
}

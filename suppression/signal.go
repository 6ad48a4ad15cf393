package suppression

import (
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// Signal kinds: what a sender-side refusal says the sender must fix.
const (
	KindBlocklist  = "blocklist"      // the sending IP or domain is listed
	KindAuth       = "authentication" // SPF, DKIM, DMARC or reverse DNS failed
	KindReputation = "reputation"     // the receiver distrusts the sender
	KindContent    = "content"        // the message was refused as spam or unsafe
	KindPolicy     = "policy"         // refused by policy, no more detail
	KindRateLimit  = "rate_limit"     // the receiver is throttling the sender
)

// signalOf reads the sender-side signal in an event: kind and name (the
// blocklist, or spf/dkim/dmarc/ptr), or "" for events that say nothing
// about the sender. It is stored with the event as "kind" or "kind:name".
func signalOf(d reply.Diagnosis, text string) string {
	if d.Class != reply.Block {
		if d.Reason == outcome.RateLimited {
			return KindRateLimit
		}
		return ""
	}
	if d.Blocklist != "" {
		return KindBlocklist + ":" + d.Blocklist
	}
	if name := authFailure(d.Enhanced, strings.ToLower(text)); name != "" {
		return KindAuth + ":" + name
	}
	t := strings.ToLower(text)
	switch {
	case containsAny(t, "reputation", "complaint", "[tss0", "[ts0", "poor sending"):
		return KindReputation
	case containsAny(t, "content", "spam", "virus", "malware", "phish", "attachment"):
		return KindContent
	}
	return KindPolicy
}

// authFailure names the authentication check a refusal reports: by the
// RFC 7372 §3 codes X.7.20-X.7.26, else by the text.
func authFailure(enhanced, lower string) string {
	if len(enhanced) > 4 && enhanced[1:4] == ".7." {
		switch enhanced[4:] {
		case "20", "21", "22": // no passing / acceptable / author-matched DKIM signature
			return "dkim"
		case "23", "24": // SPF validation failed / error
			return "spf"
		case "25": // reverse DNS validation failed
			return "ptr"
		case "26": // multiple authentication checks failed
			if strings.Contains(lower, "dmarc") {
				return "dmarc"
			}
			return "spf_dkim"
		}
	}
	switch {
	case strings.Contains(lower, "dmarc"):
		return "dmarc"
	case strings.Contains(lower, "dkim"):
		return "dkim"
	case strings.Contains(lower, "spf"):
		return "spf"
	case containsAny(lower, "reverse dns", "rdns", "ptr record", "reverse lookup", "reverse-dns"):
		return "ptr"
	case containsAny(lower, "unauthenticated", "not authenticated", "authentication check"):
		return "spf_dkim"
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// adviceFor is what the sender should do about a signal.
func adviceFor(kind, name string) string {
	switch kind {
	case KindBlocklist:
		switch name {
		case "spamhaus":
			return "delisting needed at Spamhaus: https://check.spamhaus.org"
		case "cbl":
			return "delisting needed at Spamhaus, which runs the CBL as part of its XBL: https://check.spamhaus.org"
		case "spamcop":
			return "delisting needed at SpamCop: https://www.spamcop.net/bl.shtml (a listing expires about 24 hours after the last report)"
		case "barracuda":
			return "delisting needed at Barracuda: https://www.barracudacentral.org/rbl/removal-request"
		case "proofpoint":
			return "delisting needed at Proofpoint: https://ipcheck.proofpoint.com"
		case "cloudmark":
			return "a reputation reset is needed at Cloudmark: https://csi.cloudmark.com/en/reset/"
		case "uceprotect":
			return "listed at UCEPROTECT: https://www.uceprotect.net (levels 2 and 3 list whole networks: ask your hosting provider)"
		}
		return "delisting needed at " + name + ": look up the sending IP on the list's website and follow its removal procedure"
	case KindAuth:
		switch name {
		case "spf":
			return "check SPF/DKIM/DMARC alignment: the sending IP must be allowed by the SPF record of the envelope sender's domain (RFC 7208)"
		case "dkim":
			return "check SPF/DKIM/DMARC alignment: sign every message with DKIM, with a d= domain that aligns with the From domain (RFC 6376, RFC 7489 §3.1)"
		case "ptr":
			return "give the sending IP a PTR record whose name resolves back to it, and use that name in HELO"
		}
		return "check SPF/DKIM/DMARC alignment: the From domain must align with a passing SPF or DKIM domain (RFC 7489 §3.1)"
	case KindReputation:
		return "sender reputation is poor: slow down, mail only recipients who engage, remove complainers, and watch Google Postmaster Tools and Microsoft SNDS"
	case KindContent:
		return "the content was refused as spam or unsafe: review links, URL shorteners, attachments and wording"
	case KindRateLimit:
		return "slow down: the receiver is rate-limiting you"
	}
	return "the receiver refused the sender by policy: read the diagnostic, and ask the receiver's postmaster if it is unclear"
}

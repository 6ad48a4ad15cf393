package probe

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/preflight-email/preflight/outcome"
)

// Target is one receiving MX host and its resolved addresses. Check tries
// targets in the order given, which must be the MX preference order
// (RFC 5321 §5.1).
type Target struct {
	Host  string       // MX host name, e.g. "gmail-smtp-in.l.google.com"
	Addrs []netip.Addr // its addresses, in the order to try them
}

// Request asks about one address.
type Request struct {
	// Address is the normalized address: local part as given, domain in
	// lowercase ASCII (IDNA). It is sent as is in RCPT TO.
	Address string
	// Domain is the address's ASCII domain; the catch-all test and cache
	// are per domain. Empty means the part of Address after the last "@".
	Domain string
	// Targets are the MX hosts, most preferred first.
	Targets []Target
	// SMTPUTF8 is set when the local part is not ASCII (RFC 6531). A
	// non-ASCII Address implies it.
	SMTPUTF8 bool
	// Patience is how long the caller would wait for a real answer: until
	// then a rate-limited host is waited out and a contradicted answer is
	// asked again. Zero means ctx's deadline. A caller whose probe may go
	// on after it stops waiting (verify finishes probes in the background
	// to fill its cache) sets it to its own deadline, so that a real-time
	// check learns "rate_limited" now rather than a timeout later.
	Patience time.Time
}

// CatchAll says whether a domain accepts mail for any local part, as found
// by RCPT TO a random local part.
type CatchAll int

// Catch-all states.
const (
	CatchAllUnknown CatchAll = iota // not tested, or the test gave no clear answer
	CatchAllNo                      // a random local part was refused as unknown
	CatchAllYes                     // a random local part was accepted
)

var catchAllNames = [...]string{"unknown", "no", "yes"}

func (c CatchAll) String() string {
	if c < 0 || int(c) >= len(catchAllNames) {
		return fmt.Sprintf("CatchAll(%d)", int(c))
	}
	return catchAllNames[c]
}

// MarshalText writes "unknown", "no" or "yes".
func (c CatchAll) MarshalText() ([]byte, error) {
	if c < 0 || int(c) >= len(catchAllNames) {
		return nil, fmt.Errorf("probe: invalid CatchAll %d", int(c))
	}
	return []byte(catchAllNames[c]), nil
}

// UnmarshalText reads what MarshalText writes.
func (c *CatchAll) UnmarshalText(b []byte) error {
	for i, n := range catchAllNames {
		if string(b) == n {
			*c = CatchAll(i)
			return nil
		}
	}
	return fmt.Errorf("probe: invalid CatchAll %q", b)
}

// Result is what the probe learned about one address.
type Result struct {
	// Reason is one of accepted, mailbox_not_found, mailbox_disabled,
	// mailbox_full, greylisted, rate_limited, blocked, smtp_rejected (from
	// the RCPT reply, or the reply that stopped the session), or
	// connection_failed and timeout when no host gave an answer. It is
	// reply.Classify's reason for the reply, except where the session
	// context or the probe's one rule of caution at RCPT says less (see
	// rcptReason and sessionReason in results.go): a 4xx is never
	// mailbox_not_found or mailbox_disabled, so verify need not override.
	Reason   outcome.Reason
	CatchAll CatchAll // the domain's catch-all status, when known
	Host     string   // the MX host that answered, or the last one tried
	Code     int      // SMTP reply code, 0 when there was no reply
	Enhanced string   // RFC 3463 enhanced code, "" when none
	Message  string   // reply text (lines joined by spaces), or what went wrong
	TLS      bool     // the session was encrypted with STARTTLS
	// NoSMTPUTF8 is set when the address needs SMTPUTF8 (a non-ASCII
	// local part) and the server does not offer it (RFC 6531 §3.4): it
	// was not asked, and no message can reach the address there.
	NoSMTPUTF8 bool
	// Route names the egress route that got this answer (egress.Route.Name).
	Route string
	// Timings say where the time went, for troubleshooting.
	Timings Timings
}

// Timings split the time a Check spent at the MX host that answered.
// Connect and TLS are zero when the address was asked on a session that
// was already open (a warm one, say).
type Timings struct {
	Connect time.Duration // the TCP connection
	TLS     time.Duration // STARTTLS and the TLS handshake
	// SMTP is the rest: waiting for a session or a turn under the host's
	// limits, the banner, EHLO, MAIL FROM and the RCPTs.
	SMTP time.Duration
}

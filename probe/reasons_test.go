package probe

import (
	"os"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe/internal/smtpwire"
	"github.com/preflight-email/preflight/reply"
)

// TestRcptReason is the table of the probe's one rule of caution at RCPT
// (rcptReason): where it differs from reply.Classify, the bounce
// explainer's reading of the same text, the "classify" column says what
// the explainer says and why the probe says less.
func TestRcptReason(t *testing.T) {
	tests := []struct {
		raw      string
		want     outcome.Reason
		classify outcome.Reason // what reply.ClassifyText says, when it differs
	}{
		{"250 2.1.5 OK", outcome.Accepted, ""},
		{"550 5.1.1 User unknown", outcome.MailboxNotFound, ""},
		{"550 5.2.1 The email account that you tried to reach is disabled.", outcome.MailboxDisabled, ""},
		{"552 5.2.2 Mailbox full", outcome.MailboxFull, ""},
		{"452 4.2.2 The email account that you tried to reach is over quota.", outcome.MailboxFull, ""},
		{"451 4.7.1 Greylisted, please try again later", outcome.Greylisted, ""},
		{"550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus", outcome.Blocked, ""},
		{"550 Requested action not taken", outcome.SMTPRejected, ""},
		{"451 4.3.5 Server error", outcome.SMTPRejected, ""},
		// A 4xx is never a bounce at RCPT, however plain its words.
		{"450 4.1.1 <x@example.com>: Recipient address rejected: User unknown in local recipient table", outcome.SMTPRejected, outcome.MailboxNotFound},
		{"450 4.2.1 <x@example.com>: Recipient address rejected: mailbox disabled, account has been disabled", outcome.SMTPRejected, outcome.MailboxDisabled},
		// A reply about the domain or the transport says nothing definite
		// about a mailbox on an MX we found and reached.
		{"550 5.1.2 Host unknown: bad destination system address", outcome.SMTPRejected, outcome.DomainNotFound},
		{"556 5.1.10 Domain does not accept mail", outcome.SMTPRejected, outcome.NoMailServer},
	}
	for _, tc := range tests {
		r := reply.Parse(tc.raw)
		if got := rcptReason(r); got != tc.want {
			t.Errorf("rcptReason(%q) = %s, want %s", tc.raw, got, tc.want)
		}
		classify := tc.classify
		if classify == "" {
			classify = tc.want
		}
		if got := reply.Classify(r).Reason; got != classify {
			t.Errorf("reply.Classify(%q) = %s, the table says %s: update the table", tc.raw, got, classify)
		}
	}
}

// TestSessionReason is the table of what the session context adds to a
// reply outside RCPT.
func TestSessionReason(t *testing.T) {
	tests := []struct {
		step string
		raw  string
		want outcome.Reason
	}{
		{smtpwire.CmdMAIL, "550 5.7.1 Service unavailable, MailFrom domain is listed in Spamhaus", outcome.Blocked},
		// A 5xx to MAIL FROM refused our sender, whatever its words.
		{smtpwire.CmdMAIL, "550 Requested action not taken", outcome.Blocked},
		{smtpwire.CmdMAIL, "553 5.1.8 Sender address rejected: Domain not found", outcome.Blocked},
		{smtpwire.CmdMAIL, "451 4.3.0 Temporary failure", outcome.SMTPRejected},
		{smtpwire.CmdMAIL, "421 4.7.0 Try again later, closing connection.", outcome.RateLimited},
		{smtpwire.CmdBanner, "554 5.3.2 No SMTP service here", outcome.SMTPRejected},
		{smtpwire.CmdBanner, "421 4.7.0 Too many connections, slow down", outcome.RateLimited},
		// A mailbox reason never comes from outside RCPT.
		{smtpwire.CmdRSET, "550 5.1.1 User unknown", outcome.SMTPRejected},
		{smtpwire.CmdEHLO, "451 4.7.1 Greylisted", outcome.Greylisted},
	}
	for _, tc := range tests {
		if got := sessionReason(tc.step, reply.Parse(tc.raw)); got != tc.want {
			t.Errorf("sessionReason(%s, %q) = %s, want %s", tc.step, tc.raw, got, tc.want)
		}
	}
}

// TestRcptReasonAgreesWithClassify runs every reply of the classifier's
// corpus through the probe's reading: the probe reports reply.Classify's
// reason (what POST /v1/bounces/classify says for the same text) unless
// rcptReason's one rule of caution explains the difference. Any other
// difference would be a second judge of what a reply means.
func TestRcptReasonAgreesWithClassify(t *testing.T) {
	f, err := os.ReadFile("../reply/testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	transport := map[outcome.Reason]bool{
		outcome.DomainNotFound: true, outcome.NoMailServer: true, outcome.InvalidSyntax: true,
		outcome.Timeout: true, outcome.ConnectionFailed: true, outcome.DNSError: true,
	}
	var same, cautious int
	for _, line := range strings.Split(string(f), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		text := strings.ReplaceAll(cols[len(cols)-1], `\r\n`, "\r\n")
		r := reply.Parse(text)
		classify := reply.Classify(r).Reason
		probe := rcptReason(r)
		switch {
		case probe == classify:
			same++
		case probe == outcome.SMTPRejected && r.Code/100 != 5 &&
			(classify == outcome.MailboxNotFound || classify == outcome.MailboxDisabled):
			cautious++ // only a 5xx is a definite verdict at RCPT
		case probe == outcome.SMTPRejected && transport[classify]:
			cautious++ // we reached the MX ourselves: nothing definite about the mailbox
		default:
			t.Errorf("%q: classify says %s, the probe %s, and no rule explains it", text, classify, probe)
		}
	}
	if same == 0 {
		t.Fatal("no corpus line read")
	}
	t.Logf("%d replies read alike, %d differ by the rule of caution", same, cautious)
}

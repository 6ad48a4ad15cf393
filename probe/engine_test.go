package probe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

// TestCheckReplies asks one fake MX about addresses that each get a
// different, real-world RCPT reply, and checks the reason and the SMTP
// details kept in the result.
func TestCheckReplies(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Replies: map[string]smtptest.Reply{
			"jane@example.com":       smtptest.Accept(),
			"ghost@example.com":      smtptest.GmailUserUnknown(),
			"old@example.com":        {Code: 550, Enhanced: "5.2.1", Message: "The email account that you tried to reach is disabled."},
			"full@example.com":       {Code: 452, Enhanced: "4.2.2", Message: "The email account that you tried to reach is over quota."},
			"grey@example.com":       {Code: 451, Enhanced: "4.7.1", Message: "Greylisted, please try again later"},
			"listed@example.com":     {Code: 550, Enhanced: "5.7.1", Message: "Service unavailable, Client host [192.0.2.1] blocked using Spamhaus"},
			"vague@example.com":      {Code: 550, Message: "Requested action not taken"},
			"policy@example.com":     {Code: 554, Enhanced: "5.7.1", Message: "Rejected (policy)"},
			"apple@example.com":      {Code: 550, Enhanced: "5.1.1", Message: "<apple@example.com>: user does not exist"},
			"temporary@example.com":  {Code: 451, Enhanced: "4.3.5", Message: "Server error (temp)"},
			"postfix450@example.com": {Code: 450, Enhanced: "4.1.1", Message: "<postfix450@example.com>: Recipient address rejected: User unknown in local recipient table"},
		},
	})
	e := newEngine(t, testConfig(srv.Port))
	mx := target("mx.example.com", "127.0.0.1")

	tests := []struct {
		addr     string
		reason   outcome.Reason
		code     int
		enhanced string
		text     string // a part of the message
	}{
		{"jane@example.com", outcome.Accepted, 250, "2.0.0", "gets this"},
		{"ghost@example.com", outcome.MailboxNotFound, 550, "5.1.1", "does not exist. Please try double-checking"},
		{"old@example.com", outcome.MailboxDisabled, 550, "5.2.1", "is disabled"},
		{"full@example.com", outcome.MailboxFull, 452, "4.2.2", "over quota"},
		{"grey@example.com", outcome.Greylisted, 451, "4.7.1", "Greylisted"},
		{"listed@example.com", outcome.Blocked, 550, "5.7.1", "Spamhaus"},
		{"vague@example.com", outcome.SMTPRejected, 550, "", "Requested action not taken"},
		{"policy@example.com", outcome.Blocked, 554, "5.7.1", "policy"},
		{"apple@example.com", outcome.MailboxNotFound, 550, "5.1.1", "user does not exist"},
		{"temporary@example.com", outcome.SMTPRejected, 451, "4.3.5", "Server error"},
		// The probe's one rule of caution (rcptReason): a 4xx at RCPT is
		// never a bounce, though a DSN with this text would be hard.
		{"postfix450@example.com", outcome.SMTPRejected, 450, "4.1.1", "User unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			res := check(t, e, request(tc.addr, mx))
			if res.Reason != tc.reason || res.Code != tc.code || res.Enhanced != tc.enhanced {
				t.Errorf("got %s %d %q, want %s %d %q (message %q)", res.Reason, res.Code, res.Enhanced, tc.reason, tc.code, tc.enhanced, res.Message)
			}
			if !strings.Contains(res.Message, tc.text) {
				t.Errorf("message %q does not contain %q", res.Message, tc.text)
			}
			if res.Host != "mx.example.com" {
				t.Errorf("host = %q", res.Host)
			}
			if res.CatchAll != probe.CatchAllNo {
				t.Errorf("catch-all = %v, want no (the random RCPT got 550 5.1.1)", res.CatchAll)
			}
			if res.TLS {
				t.Error("TLS = true on a server without STARTTLS")
			}
		})
	}
	// One session served every check: the idle session was reused.
	if got := srv.Sessions(); got != 1 {
		t.Errorf("fake saw %d sessions, want 1 (reuse within IdleTimeout)", got)
	}
	st := e.Stats()
	if st.CatchAllProbes != 1 {
		t.Errorf("catch-all probes = %d, want 1 (cached per domain)", st.CatchAllProbes)
	}
}

// TestMultilineGmailReply checks that the lines of a multi-line reply are
// joined and their codes stripped.
func TestMultilineGmailReply(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.GmailUserUnknown()})
	e := newEngine(t, testConfig(srv.Port))
	res := check(t, e, request("nobody@gmail.test", target("gmail-smtp-in.l.google.test", "127.0.0.1")))
	want := "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser a1b2c3d4e5f6g7 - gsmtp"
	if res.Reason != outcome.MailboxNotFound || res.Code != 550 || res.Enhanced != "5.1.1" || res.Message != want {
		t.Errorf("got %+v\nwant message %q", res, want)
	}
}

// TestCatchAll checks that a domain accepting a random local part is
// catch-all, that the test is done once, and that its local part looks
// random.
func TestCatchAll(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	e := newEngine(t, testConfig(srv.Port))
	mx := target("mx.catchall.test", "127.0.0.1")
	for _, a := range []string{"a@catchall.test", "b@catchall.test", "c@CatchAll.test"} {
		res := check(t, e, probe.Request{Address: a, Domain: "catchall.test", Targets: []probe.Target{mx}})
		if res.Reason != outcome.Accepted || res.CatchAll != probe.CatchAllYes {
			t.Errorf("%s: got %s catch-all %v, want accepted, yes", a, res.Reason, res.CatchAll)
		}
	}
	rcpts := srv.Recipients()
	if len(rcpts) != 4 {
		t.Fatalf("fake got RCPTs %q, want 1 random + 3", rcpts)
	}
	local, domain, _ := strings.Cut(rcpts[0], "@")
	if domain != "catchall.test" || len(local) != 20 || strings.Trim(local, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Errorf("catch-all RCPT %q: want 20 random [a-z0-9] at catchall.test", rcpts[0])
	}
	if st := e.Stats(); st.CatchAllProbes != 1 {
		t.Errorf("CatchAllProbes = %d, want 1", st.CatchAllProbes)
	}
}

// TestCatchAllThroughGreylisting checks a domain behind triplet
// greylisting: the first catch-all test is greylisted, and the test
// repeated once the unclear answer has left the cache uses the same local
// part, gets through and finds the domain is not catch-all.
func TestCatchAllThroughGreylisting(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Greylist: true,
		Replies: map[string]smtptest.Reply{"jane@grey.test": smtptest.Accept()}})
	cfg := testConfig(srv.Port)
	cfg.CatchAllTTL = time.Millisecond // the unclear answer expires at once
	e := newEngine(t, cfg)
	mx := target("mx.grey.test", "127.0.0.1")
	res := check(t, e, request("jane@grey.test", mx))
	if res.Reason != outcome.Greylisted || res.CatchAll != probe.CatchAllUnknown {
		t.Fatalf("first check: got %+v, want greylisted, catch-all unknown", res)
	}
	time.Sleep(5 * time.Millisecond) // past CatchAllTTL
	res = check(t, e, request("jane@grey.test", mx))
	if res.Reason != outcome.Accepted || res.CatchAll != probe.CatchAllNo {
		t.Errorf("second check: got %+v, want accepted, catch-all no", res)
	}
	rcpts := srv.Recipients()
	if len(rcpts) != 4 || rcpts[0] != rcpts[2] || rcpts[1] != "jane@grey.test" || rcpts[3] != "jane@grey.test" {
		t.Fatalf("RCPTs %q: want the same test local part twice, each before jane", rcpts)
	}
	// Another engine has another key, so another local part.
	e2 := newEngine(t, cfg)
	check(t, e2, request("jane@grey.test", mx))
	if got := srv.Recipients()[4]; got == rcpts[0] || !strings.HasSuffix(got, "@grey.test") {
		t.Errorf("second engine tested with %q, first with %q: want a different local part", got, rcpts[0])
	}
}

// TestSMTPUTF8 checks a non-ASCII local part with servers that do and do
// not advertise SMTPUTF8 (RFC 6531 §3.4).
func TestSMTPUTF8(t *testing.T) {
	t.Run("advertised", func(t *testing.T) {
		srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{EnableSMTPUTF8: true,
			Replies: map[string]smtptest.Reply{"józef@example.com": smtptest.Accept()}})
		e := newEngine(t, testConfig(srv.Port))
		res := check(t, e, request("józef@example.com", target("mx.example.com", "127.0.0.1")))
		if res.Reason != outcome.Accepted {
			t.Errorf("got %+v", res)
		}
		if srv.UTF8Mails() != 1 {
			t.Errorf("MAIL FROM with SMTPUTF8: %d, want 1", srv.UTF8Mails())
		}
		if r := srv.Recipients(); len(r) != 2 || r[1] != "józef@example.com" {
			t.Errorf("recipients = %q", r)
		}
	})
	t.Run("not advertised", func(t *testing.T) {
		srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
		e := newEngine(t, testConfig(srv.Port))
		res := check(t, e, request("józef@example.com", target("mx.example.com", "127.0.0.1")))
		if res.Reason != outcome.SMTPRejected || res.Message != "server does not support SMTPUTF8" || !res.NoSMTPUTF8 {
			t.Errorf("got %+v", res)
		}
		if srv.Rcpts() != 0 || srv.Mails() != 0 {
			t.Errorf("fake got %d MAIL and %d RCPT, want none", srv.Mails(), srv.Rcpts())
		}
		// An ASCII address in the same session still works.
		if res := check(t, e, request("jozef@example.com", target("mx.example.com", "127.0.0.1"))); res.Reason != outcome.Accepted {
			t.Errorf("ASCII address: got %+v", res)
		}
	})
}

// TestMailFromRefused checks that a refused MAIL FROM is reported as being
// about us (blocked), not about the mailbox.
func TestMailFromRefused(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Default: smtptest.Accept(),
		Mail:    &smtptest.Reply{Code: 550, Enhanced: "5.7.1", Message: "Service unavailable, MailFrom domain is listed in Spamhaus"},
	})
	e := newEngine(t, testConfig(srv.Port))
	res := check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	if res.Reason != outcome.Blocked || res.Code != 550 {
		t.Errorf("got %+v, want blocked", res)
	}
	if srv.Rcpts() != 0 {
		t.Errorf("RCPTs after a refused MAIL FROM: %d", srv.Rcpts())
	}
}

func TestCatchAllText(t *testing.T) {
	for _, c := range []probe.CatchAll{probe.CatchAllUnknown, probe.CatchAllNo, probe.CatchAllYes} {
		b, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back probe.CatchAll
		if err := back.UnmarshalText(b); err != nil || back != c || c.String() != string(b) {
			t.Errorf("%v: %q -> %v, %v", c, b, back, err)
		}
	}
	if _, err := probe.CatchAll(7).MarshalText(); err == nil {
		t.Error("CatchAll(7) marshalled")
	}
}

package probe_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
			"jane@example.com":      smtptest.Accept(),
			"ghost@example.com":     smtptest.GmailUserUnknown(),
			"old@example.com":       {Code: 550, Enhanced: "5.2.1", Message: "The email account that you tried to reach is disabled."},
			"full@example.com":      {Code: 452, Enhanced: "4.2.2", Message: "The email account that you tried to reach is over quota."},
			"grey@example.com":      {Code: 451, Enhanced: "4.7.1", Message: "Greylisted, please try again later"},
			"listed@example.com":    {Code: 550, Enhanced: "5.7.1", Message: "Service unavailable, Client host [192.0.2.1] blocked using Spamhaus"},
			"vague@example.com":     {Code: 550, Message: "Requested action not taken"},
			"policy@example.com":    {Code: 554, Enhanced: "5.7.1", Message: "Rejected (policy)"},
			"apple@example.com":     {Code: 550, Enhanced: "5.1.1", Message: "<apple@example.com>: user does not exist"},
			"temporary@example.com": {Code: 451, Enhanced: "4.3.5", Message: "Server error (temp)"},
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

// TestSecondaryMX checks that a dead, refusing or silent primary passes the
// address on to the secondary.
func TestSecondaryMX(t *testing.T) {
	for _, name := range []string{"connection refused", "banner 421", "banner 554", "tarpit", "drop after EHLO"} {
		t.Run(name, func(t *testing.T) {
			port, lns := smtptest.Listen(t, "127.0.0.2", "127.0.0.3")
			switch name {
			case "connection refused":
				lns[0].Close()
			case "banner 421":
				smtptest.ServeRaw(t, lns[0], smtptest.RawOptions{Behavior: smtptest.BannerReject})
			case "banner 554":
				smtptest.ServeRaw(t, lns[0], smtptest.RawOptions{Behavior: smtptest.BannerReject,
					Banner: smtptest.Reply{Code: 554, Enhanced: "5.7.1", Message: "No SMTP service here"}})
			case "tarpit":
				smtptest.ServeRaw(t, lns[0], smtptest.RawOptions{Behavior: smtptest.Tarpit})
			case "drop after EHLO":
				smtptest.ServeRaw(t, lns[0], smtptest.RawOptions{Behavior: smtptest.DropAfterEHLO})
			}
			second := smtptest.Serve(t, lns[1], smtptest.Options{Replies: map[string]smtptest.Reply{"jane@example.com": smtptest.Accept()}})
			cfg := testConfig(port)
			cfg.BannerTimeout = 300 * time.Millisecond
			e := newEngine(t, cfg)
			req := request("jane@example.com", target("mx1.example.com", "127.0.0.2"), target("mx2.example.com", "127.0.0.3"))
			res := check(t, e, req)
			if res.Reason != outcome.Accepted || res.Host != "mx2.example.com" {
				t.Errorf("got %+v, want accepted by mx2", res)
			}
			if second.Sessions() != 1 {
				t.Errorf("secondary saw %d sessions, want 1", second.Sessions())
			}
			// While the primary is paused, the next check goes straight to
			// the secondary and reuses its idle session.
			res = check(t, e, req)
			if res.Reason != outcome.Accepted || res.Host != "mx2.example.com" {
				t.Errorf("second check: got %+v", res)
			}
		})
	}
}

// TestAllHostsFail checks the result when no MX host can be used.
func TestAllHostsFail(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	lns[0].Close()
	tarpit := smtptest.ServeRaw(t, lns[1], smtptest.RawOptions{Behavior: smtptest.Tarpit})
	smtptest.ServeRaw(t, lns[2], smtptest.RawOptions{Behavior: smtptest.DropAfterEHLO})

	tests := []struct {
		name    string
		targets []probe.Target
		reason  outcome.Reason
		text    string
	}{
		{"refused", []probe.Target{target("mx1.test", "127.0.0.2")}, outcome.ConnectionFailed, "refused"},
		{"tarpit", []probe.Target{target("mx2.test", "127.0.0.3")}, outcome.Timeout, "banner"},
		{"dropped", []probe.Target{target("mx3.test", "127.0.0.4")}, outcome.ConnectionFailed, "closed"},
		{"timeout wins over refused", []probe.Target{target("mx1.test", "127.0.0.2"), target("mx2.test", "127.0.0.3")}, outcome.Timeout, "banner"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(port)
			cfg.BannerTimeout = 300 * time.Millisecond
			e := newEngine(t, cfg)
			res := check(t, e, probe.Request{Address: "x@example.com", Targets: tc.targets})
			if res.Reason != tc.reason || !strings.Contains(res.Message, tc.text) {
				t.Errorf("got %s %q, want %s containing %q", res.Reason, res.Message, tc.reason, tc.text)
			}
		})
	}
	if tarpit.Conns() == 0 {
		t.Error("tarpit saw no connection")
	}
}

// TestBannerReplyKept checks that a banner refusal is reported with its
// reply when no other host answers.
func TestBannerReplyKept(t *testing.T) {
	raw := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{
		Behavior: smtptest.BannerReject,
		Banner:   smtptest.Reply{Code: 554, Enhanced: "5.7.1", Message: "Service unavailable; client host blocked using Spamhaus"},
	})
	e := newEngine(t, testConfig(raw.Port))
	res := check(t, e, request("x@example.com", target("mx.example.com", "127.0.0.1")))
	if res.Reason != outcome.Blocked || res.Code != 554 || res.Enhanced != "5.7.1" {
		t.Errorf("got %+v, want blocked 554 5.7.1", res)
	}
}

// TestSTARTTLS checks that STARTTLS is used when offered, with a
// self-signed certificate, and that a failed handshake falls back to a
// plain session once.
func TestSTARTTLS(t *testing.T) {
	t.Run("self-signed", func(t *testing.T) {
		srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{TLS: true, Default: smtptest.Accept()})
		e := newEngine(t, testConfig(srv.Port))
		res := check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
		if res.Reason != outcome.Accepted || !res.TLS {
			t.Errorf("got %+v, want accepted over TLS", res)
		}
		if srv.TLSHellos() != 1 {
			t.Errorf("fake saw %d EHLO over TLS, want 1 (EHLO again after STARTTLS)", srv.TLSHellos())
		}
		if st := e.Stats(); st.TLSSessions != 1 {
			t.Errorf("TLSSessions = %d", st.TLSSessions)
		}
	})
	t.Run("broken handshake", func(t *testing.T) {
		srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{BrokenTLS: true, Default: smtptest.Accept()})
		e := newEngine(t, testConfig(srv.Port))
		res := check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
		if res.Reason != outcome.Accepted || res.TLS {
			t.Errorf("got %+v, want accepted in plain text", res)
		}
		if srv.Conns() != 2 {
			t.Errorf("fake saw %d connections, want 2 (TLS, then plain)", srv.Conns())
		}
		if st := e.Stats(); st.TLSFallbacks != 1 {
			t.Errorf("TLSFallbacks = %d, want 1", st.TLSFallbacks)
		}
	})
}

// TestHELOOnly checks the fall-back to HELO when EHLO is not recognised.
func TestHELOOnly(t *testing.T) {
	raw := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{
		Behavior: smtptest.HELOOnly,
		Replies:  map[string]smtptest.Reply{"jane@old.test": {Code: 250, Message: "OK"}},
		Default:  smtptest.Reply{Code: 550, Message: "5.1.1 <x>... User unknown"},
	})
	e := newEngine(t, testConfig(raw.Port))
	mx := target("mx.old.test", "127.0.0.1")
	if res := check(t, e, request("jane@old.test", mx)); res.Reason != outcome.Accepted {
		t.Errorf("jane: got %+v", res)
	}
	res := check(t, e, request("bob@old.test", mx))
	if res.Reason != outcome.MailboxNotFound || res.Enhanced != "5.1.1" {
		t.Errorf("bob: got %+v, want mailbox_not_found with the enhanced code read from the text", res)
	}
	e.Close()
	cmds := raw.Commands()
	var want []string
	for _, c := range cmds {
		if strings.HasPrefix(c, "RCPT TO:<") && !strings.Contains(c, "jane@") && !strings.Contains(c, "bob@") {
			c = "RCPT TO:<random@old.test>" // the catch-all test
		}
		want = append(want, c)
	}
	transcript := strings.Join(want, "\n")
	const wantTranscript = `EHLO probe.preflight.test
HELO probe.preflight.test
MAIL FROM:<verify@preflight.test>
RCPT TO:<random@old.test>
RCPT TO:<jane@old.test>
RSET
MAIL FROM:<verify@preflight.test>
RCPT TO:<bob@old.test>
RSET
QUIT`
	if transcript != wantTranscript {
		t.Errorf("transcript:\n%s\nwant:\n%s", transcript, wantTranscript)
	}
}

// TestHostileReplies checks that endless replies are cut off: bounded
// memory, a result, and the connection closed.
func TestHostileReplies(t *testing.T) {
	for _, b := range []smtptest.Behavior{smtptest.EndlessLines, smtptest.EndlessLine} {
		t.Run(fmt.Sprint(b), func(t *testing.T) {
			raw := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{Behavior: b})
			e := newEngine(t, testConfig(raw.Port))
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			res := check(t, e, request("x@example.com", target("mx.example.com", "127.0.0.1")))
			if res.Reason != outcome.ConnectionFailed || !strings.Contains(res.Message, "EHLO reply refused") {
				t.Errorf("got %+v, want connection_failed, EHLO reply refused", res)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := raw.WaitClosed(ctx, 1); err != nil {
				t.Errorf("the probe did not hang up on the flood: %v", err)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.TotalAlloc) - int64(before.TotalAlloc); grew > 8<<20 {
				t.Errorf("allocated %d bytes while reading a hostile reply", grew)
			}
		})
	}
}

// TestUnsolicitedReply checks a server that sends an extra reply after
// each RCPT: the probe must not take it for the answer to its next RCPT.
// The extra "250 OK" follows the catch-all test's 550 here; read as the
// reply to jane's RCPT, it would make a missing mailbox look accepted.
func TestUnsolicitedReply(t *testing.T) {
	raw := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{Behavior: smtptest.ExtraReply})
	e := newEngine(t, testConfig(raw.Port))
	res := check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	// The first session breaks before jane's RCPT; the second asks for
	// her first (the catch-all status is cached) and reads the right reply.
	if res.Reason != outcome.MailboxNotFound || res.Code != 550 || res.CatchAll != probe.CatchAllNo {
		t.Errorf("got %+v, want mailbox_not_found 550, catch-all no", res)
	}
	if raw.Conns() != 2 {
		t.Errorf("fake saw %d connections, want 2 (the first given up when out of step)", raw.Conns())
	}
	var rcpts []string
	for _, c := range raw.Commands() {
		if strings.HasPrefix(c, "RCPT TO:<jane@") {
			rcpts = append(rcpts, c)
		}
	}
	if len(rcpts) != 1 {
		t.Errorf("jane asked about %d times, want once (never on the session out of step)", len(rcpts))
	}
	if st := e.Stats(); st.Requeued != 1 {
		t.Errorf("Requeued = %d, want 1", st.Requeued)
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
		if res.Reason != outcome.SMTPRejected || res.Message != "server does not support SMTPUTF8" {
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

// TestPrivateAddressRefused checks that without AllowPrivate no loopback
// or private address is ever dialled.
func TestPrivateAddressRefused(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	cfg.AllowPrivate = false
	e := newEngine(t, cfg)
	mx := probe.Target{Host: "mx.example.com", Addrs: []netip.Addr{
		netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("::ffff:192.168.1.1"),
		netip.MustParseAddr("169.254.1.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("0.0.0.0"),
	}}
	res := check(t, e, request("jane@example.com", mx))
	if res.Reason != outcome.ConnectionFailed || !strings.Contains(res.Message, "non-public address") {
		t.Errorf("got %+v", res)
	}
	if srv.Conns() != 0 {
		t.Errorf("fake saw %d connections, want 0", srv.Conns())
	}
}

// TestContextCancel checks that a caller who gives up gets its context's
// error at once, and that the connection nobody needs any more is closed.
func TestContextCancel(t *testing.T) {
	raw := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{Behavior: smtptest.Tarpit})
	cfg := testConfig(raw.Port)
	cfg.BannerTimeout = time.Minute // only the cancel can end this
	e := newEngine(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		for raw.Conns() == 0 && wctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err := e.Check(ctx, request("x@example.com", target("mx.example.com", "127.0.0.1")))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := raw.WaitClosed(wctx, 1); err != nil {
		t.Errorf("connection to the tarpit not closed after the caller left: %v", err)
	}
}

// TestMaxWait checks that Config.MaxWait turns a slow host into a timeout
// result rather than an error.
func TestMaxWait(t *testing.T) {
	raw := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{Behavior: smtptest.Tarpit})
	cfg := testConfig(raw.Port)
	cfg.BannerTimeout = time.Minute
	cfg.MaxWait = 200 * time.Millisecond
	e := newEngine(t, cfg)
	res, err := e.Check(context.Background(), request("x@example.com", target("mx.example.com", "127.0.0.1")))
	if err != nil || res.Reason != outcome.Timeout {
		t.Errorf("got %+v, %v; want timeout result, no error", res, err)
	}
}

// TestSessionReuse checks that concurrent checks to one MX host share a
// few sessions, whatever the recipient domain.
func TestSessionReuse(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept(), RcptDelay: time.Millisecond})
	cfg := testConfig(srv.Port)
	e := newEngine(t, cfg)
	mx := target("aspmx.l.google.test", "127.0.0.1")
	const n = 50
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := range n {
		wg.Go(func() {
			// Five domains that share one MX host, as Google Workspace
			// domains do.
			res := check(t, e, request(fmt.Sprintf("user%d@domain%d.test", i, i%5), mx))
			if res.Reason != outcome.Accepted || res.CatchAll != probe.CatchAllYes {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d checks did not get accepted/catch-all", bad.Load())
	}
	sessions := srv.Sessions()
	t.Logf("%d checks, %d sessions, stats %+v", n, sessions, e.Stats())
	if sessions > cfg.MaxSessionsPerHost {
		t.Errorf("%d sessions for %d checks, want at most %d", sessions, n, cfg.MaxSessionsPerHost)
	}
	if got := srv.Rcpts(); got != n+5 {
		t.Errorf("RCPTs = %d, want %d (one catch-all test per domain)", got, n+5)
	}
	if st := e.Stats(); st.Transactions < uint64(n/cfg.BatchSize) {
		t.Errorf("transactions = %d, want at least %d", st.Transactions, n/cfg.BatchSize)
	}
}

// TestReconnectAfterDrop checks that a server that hangs up after a few
// RCPTs (Postfix's error limit) still gets every recipient answered.
func TestReconnectAfterDrop(t *testing.T) {
	replies := map[string]smtptest.Reply{}
	for i := range 30 {
		if i%3 == 0 {
			replies[fmt.Sprintf("u%d@example.com", i)] = smtptest.Accept()
		}
	}
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Replies: replies, DropAfterRcpts: 5})
	e := newEngine(t, testConfig(srv.Port))
	mx := target("mx.example.com", "127.0.0.1")
	var wg sync.WaitGroup
	results := make([]probe.Result, 30)
	for i := range 30 {
		wg.Go(func() { results[i] = check(t, e, request(fmt.Sprintf("u%d@example.com", i), mx)) })
	}
	wg.Wait()
	for i, res := range results {
		want := outcome.MailboxNotFound
		if i%3 == 0 {
			want = outcome.Accepted
		}
		if res.Reason != want {
			t.Errorf("u%d: got %s (%d %s), want %s", i, res.Reason, res.Code, res.Message, want)
		}
	}
	st := e.Stats()
	t.Logf("sessions %d, stats %+v", srv.Sessions(), st)
	if srv.Sessions() < 6 || st.Replies421 == 0 || st.Requeued == 0 {
		t.Errorf("sessions %d, 421s %d, requeued %d: want reconnects", srv.Sessions(), st.Replies421, st.Requeued)
	}
}

// TestBackoffAfter421 checks that a 421 pauses the host with a growing
// backoff, and that the recipient is answered once the host recovers.
func TestBackoffAfter421(t *testing.T) {
	var n atomic.Int32
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Rcpt: func(rcpt string) (smtptest.Reply, bool) {
			if rcpt == "jane@example.com" && n.Add(1) <= 2 {
				return smtptest.Reply{Code: 421, Enhanced: "4.7.0", Message: "Try again later, closing connection."}, true
			}
			return smtptest.Reply{}, false
		},
		Replies: map[string]smtptest.Reply{"jane@example.com": smtptest.Accept()},
	})
	cfg := testConfig(srv.Port)
	e := newEngine(t, cfg)
	res := check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	if res.Reason != outcome.Accepted {
		t.Fatalf("got %+v, want accepted after the host recovered", res)
	}
	st := e.Stats()
	if st.Replies421 != 2 || st.Backoffs != 2 {
		t.Errorf("421s %d, backoffs %d, want 2 and 2", st.Replies421, st.Backoffs)
	}
	times := srv.SessionTimes()
	if len(times) != 3 {
		t.Fatalf("sessions = %d, want 3", len(times))
	}
	// The pauses are lower bounds the engine enforces, so this is not a
	// race: BackoffMin, then twice that.
	if gap := times[1].Sub(times[0]); gap < cfg.BackoffMin {
		t.Errorf("first reconnect after %v, want at least %v", gap, cfg.BackoffMin)
	}
	if gap := times[2].Sub(times[1]); gap < 2*cfg.BackoffMin {
		t.Errorf("second reconnect after %v, want at least %v", gap, 2*cfg.BackoffMin)
	}
}

// TestRateLimited421 checks a host that always answers 421 4.7.0: after
// MaxAttempts the result is rate_limited with the reply kept.
func TestRateLimited421(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Replies: map[string]smtptest.Reply{"jane@example.com": {Code: 421, Enhanced: "4.7.0", Message: "Our system has detected an unusual rate of unsolicited mail. Try again later."}},
	})
	cfg := testConfig(srv.Port)
	e := newEngine(t, cfg)
	res := check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	if res.Reason != outcome.RateLimited || res.Code != 421 || res.Enhanced != "4.7.0" {
		t.Errorf("got %+v, want rate_limited 421 4.7.0", res)
	}
	if srv.Sessions() != probe.DefaultMaxAttempts {
		t.Errorf("sessions = %d, want %d attempts", srv.Sessions(), probe.DefaultMaxAttempts)
	}
}

// TestConnectionRateLimit checks a host that turns away connections that
// come too fast with a 421 banner: the refusal is reported as
// rate_limited with its reply, and the host is paused rather than
// hammered.
func TestConnectionRateLimit(t *testing.T) {
	// One session every 2 seconds, far slower than this test runs.
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept(), SessionsPerSecond: 0.5, SessionBurst: 1})
	cfg := testConfig(srv.Port)
	cfg.IdleTimeout = time.Millisecond
	cfg.BackoffMin = time.Minute // the pause must outlast the test
	cfg.BackoffMax = time.Minute
	e := newEngine(t, cfg)
	mx := target("mx.example.com", "127.0.0.1")
	if res := check(t, e, request("a@example.com", mx)); res.Reason != outcome.Accepted {
		t.Fatalf("first check: %+v", res)
	}
	// Wait for the idle session to QUIT, so the next check needs a new one.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Quits() == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	res := check(t, e, request("b@example.com", mx))
	if res.Reason != outcome.RateLimited || res.Code != 421 || res.Enhanced != "4.7.0" {
		t.Errorf("second check: got %+v, want rate_limited 421 4.7.0 from the banner", res)
	}
	// The host is paused now: no new connection, same answer.
	res = check(t, e, request("c@example.com", mx))
	if res.Reason != outcome.RateLimited || res.Code != 421 {
		t.Errorf("third check: got %+v", res)
	}
	if srv.Conns() != 2 || srv.Rejected() != 1 {
		t.Errorf("fake: %d connections, %d turned away; want 2 and 1", srv.Conns(), srv.Rejected())
	}
	if st := e.Stats(); st.ConnectFailures != 1 {
		t.Errorf("ConnectFailures = %d, want 1", st.ConnectFailures)
	}
}

// TestRcptRateLimit checks the per-host RCPT limiter on a reused
// session: 61 RCPTs (60 addresses and one catch-all test) at 50 a second
// with bursts of 10 take at least a second, and no stretch of them goes
// faster than the token bucket allows. The check is on the times the fake
// received each RCPT, which cannot be earlier than the limiter let them go.
func TestRcptRateLimit(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	cfg.RcptRatePerHost, cfg.RcptBurstPerHost = 50, 10
	cfg.MaxSessionsPerHost = 1
	e := newEngine(t, cfg)
	runConcurrent(t, e, 60, outcome.Accepted)
	times := srv.RcptTimes()
	if len(times) != 61 {
		t.Fatalf("fake got %d RCPTs, want 61", len(times))
	}
	t.Logf("61 RCPTs in %v over %d sessions", times[60].Sub(times[0]), srv.Sessions())
	// RCPT k+1 is sent after the reply to RCPT k, so the limiter let RCPTs
	// i+1..j go within [times[i], times[j]]: at most burst + rate × span.
	for i := range times {
		for j := i + 1; j < len(times); j++ {
			allowed := float64(cfg.RcptBurstPerHost) + cfg.RcptRatePerHost*times[j].Sub(times[i]).Seconds()
			if float64(j-i) > allowed+0.01 {
				t.Fatalf("RCPTs %d to %d: %d in %v, the limiter allows %.1f", i+1, j, j-i, times[j].Sub(times[i]), allowed)
			}
		}
	}
	if st := e.Stats(); st.Sessions != 1 {
		t.Errorf("sessions = %d, want 1: the limit holds within a reused session", st.Sessions)
	}
}

// TestRcptRateLimitClose checks that a session waiting for the RCPT
// limiter stops waiting at Close, and still ends with QUIT.
func TestRcptRateLimitClose(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	cfg.RcptRatePerHost, cfg.RcptBurstPerHost = 0.01, 1 // the catch-all test takes the only token for 100s
	e, err := probe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := e.Check(context.Background(), request("jane@example.com", target("mx.example.com", "127.0.0.1")))
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Rcpts() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	e.Close()
	if err := <-errc; !errors.Is(err, probe.ErrClosed) {
		t.Errorf("Check: %v, want ErrClosed", err)
	}
	if srv.Rcpts() != 1 || srv.Quits() != 1 {
		t.Errorf("fake saw %d RCPTs and %d QUITs, want 1 (the test only) and 1", srv.Rcpts(), srv.Quits())
	}
}

// TestMaxRcptsPerSession checks that a session QUITs after
// MaxRcptsPerSession RCPTs and the rest go to new sessions.
func TestMaxRcptsPerSession(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	cfg.MaxRcptsPerSession = 10
	e := newEngine(t, cfg)
	runConcurrent(t, e, 35, outcome.Accepted) // 36 RCPTs with the catch-all test
	e.Close()
	t.Logf("%d sessions, stats %+v", srv.Sessions(), e.Stats())
	if srv.Sessions() < 4 {
		t.Errorf("%d sessions for 36 RCPTs, want at least 4", srv.Sessions())
	}
	if got := srv.MaxSessionRcpts(); got > 10 {
		t.Errorf("a session sent %d RCPTs, want at most 10", got)
	}
	if srv.Rcpts() != 36 || srv.Quits() != srv.Sessions() {
		t.Errorf("RCPTs %d, QUITs %d for %d sessions; want 36 and a QUIT per session", srv.Rcpts(), srv.Quits(), srv.Sessions())
	}

	// With 3 RCPTs a session and a new domain for every address, a
	// session has room for one test and its address, then a new session
	// takes over: the test is never skipped to fill the third place.
	srv = smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg = testConfig(srv.Port)
	cfg.MaxRcptsPerSession = 3
	cfg.MaxSessionsPerHost = 1
	e = newEngine(t, cfg)
	for i := range 4 {
		res := check(t, e, request(fmt.Sprintf("u@d%d.test", i), target("mx.example.com", "127.0.0.1")))
		if res.Reason != outcome.Accepted || res.CatchAll != probe.CatchAllYes {
			t.Errorf("d%d: got %+v, want accepted, catch-all yes", i, res)
		}
	}
	if srv.Sessions() != 4 || srv.Rcpts() != 8 || srv.MaxSessionRcpts() != 2 {
		t.Errorf("sessions %d, RCPTs %d, most on a session %d; want 4, 8 and 2", srv.Sessions(), srv.Rcpts(), srv.MaxSessionRcpts())
	}
}

// TestRecipientLimit checks that RCPTMAX (RFC 9422) and 452 4.5.3 (RFC
// 5321 §4.5.3.1.10) split recipients over transactions.
func TestRecipientLimit(t *testing.T) {
	t.Run("RCPTMAX", func(t *testing.T) {
		srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept(), MaxRcptPerSession: 4})
		e := newEngine(t, testConfig(srv.Port))
		runConcurrent(t, e, 12, outcome.Accepted)
		if st := e.Stats(); st.Transactions < 4 {
			t.Errorf("transactions = %d, want at least 4 (12 recipients + 1 test, 4 per transaction)", st.Transactions)
		}
	})
	t.Run("452 4.5.3", func(t *testing.T) {
		var n atomic.Int32
		srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
			Default: smtptest.Accept(),
			Rcpt: func(string) (smtptest.Reply, bool) {
				if n.Add(1)%4 == 0 {
					return smtptest.Reply{Code: 452, Enhanced: "4.5.3", Message: "Too many recipients"}, true
				}
				return smtptest.Reply{}, false
			},
		})
		e := newEngine(t, testConfig(srv.Port))
		runConcurrent(t, e, 12, outcome.Accepted)
	})
}

// TestCatchAllOneRcptPerTransaction checks servers that take one RCPT per
// transaction, advertised (RCPTMAX=1, RFC 9422) or learnt from a 452 4.5.3
// after one accepted RCPT: every new domain is still tested, in a
// transaction of its own before its address.
func TestCatchAllOneRcptPerTransaction(t *testing.T) {
	for name, opt := range map[string]smtptest.Options{
		"RCPTMAX=1": {Default: smtptest.Accept(), MaxRcptPerSession: 1},
		"452 4.5.3": {Default: smtptest.Accept(), RcptsPerTransaction: 1},
	} {
		t.Run(name, func(t *testing.T) {
			srv := smtptest.Start(t, "127.0.0.1:0", opt)
			e := newEngine(t, testConfig(srv.Port))
			mx := target("mx.example.com", "127.0.0.1")
			for i := range 3 {
				res := check(t, e, request(fmt.Sprintf("u@d%d.test", i), mx))
				if res.Reason != outcome.Accepted || res.CatchAll != probe.CatchAllYes {
					t.Errorf("d%d: got %+v, want accepted, catch-all yes", i, res)
				}
			}
			st := e.Stats()
			t.Logf("%d sessions, stats %+v", srv.Sessions(), st)
			if st.CatchAllProbes != 3 {
				t.Errorf("CatchAllProbes = %d, want 3 (one per domain)", st.CatchAllProbes)
			}
			if got := srv.MaxSessionRcpts(); got > 7 { // 3 tests, 3 addresses, at most one refused
				t.Errorf("%d RCPTs on one session", got)
			}
		})
	}
}

func runConcurrent(t *testing.T, e *probe.Engine, n int, want outcome.Reason) {
	t.Helper()
	mx := target("mx.example.com", "127.0.0.1")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if res := check(t, e, request(fmt.Sprintf("u%d@example.com", i), mx)); res.Reason != want {
				t.Errorf("u%d: got %+v, want %s", i, res, want)
			}
		})
	}
	wg.Wait()
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

// TestCloseSendsQUIT checks that Close ends idle sessions politely and
// that Check afterwards says ErrClosed.
func TestCloseSendsQUIT(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	cfg.IdleTimeout = time.Minute
	e, err := probe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if srv.Quits() != 1 || srv.Sessions() != 1 {
		t.Errorf("QUITs %d for %d sessions, want 1 and 1", srv.Quits(), srv.Sessions())
	}
	if _, err := e.Check(context.Background(), request("jane@example.com", target("mx.example.com", "127.0.0.1"))); !errors.Is(err, probe.ErrClosed) {
		t.Errorf("Check after Close: %v, want ErrClosed", err)
	}
}

// TestIdleSessionQuits checks that a session closes with QUIT after
// IdleTimeout and that its dispatcher goes away.
func TestIdleSessionQuits(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	cfg.IdleTimeout = 20 * time.Millisecond
	e := newEngine(t, cfg)
	check(t, e, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	deadline := time.Now().Add(10 * time.Second)
	gone := func() bool { st := e.Stats(); return st.Dispatchers == 0 && st.Gates == 0 }
	for (srv.Quits() == 0 || !gone()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := e.Stats(); srv.Quits() != 1 || st.Dispatchers != 0 || st.Gates != 0 {
		t.Errorf("QUITs %d, dispatchers %d, gates %d; want 1, 0 and 0", srv.Quits(), st.Dispatchers, st.Gates)
	}
}

// TestIdleSessionYields checks that a session kept open for reuse gives
// up its place when another host waits for one: with MaxSessions=1, the
// second host's check must not wait out the first host's IdleTimeout.
func TestIdleSessionYields(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.2", "127.0.0.3")
	first := smtptest.Serve(t, lns[0], smtptest.Options{Default: smtptest.Accept()})
	second := smtptest.Serve(t, lns[1], smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(port)
	cfg.MaxSessions, cfg.MaxSessionsPerHost = 1, 1
	cfg.IdleTimeout = time.Minute
	e := newEngine(t, cfg)
	if res := check(t, e, request("jane@a.test", target("mx.a.test", "127.0.0.2"))); res.Reason != outcome.Accepted {
		t.Fatalf("first host: %+v", res)
	}
	// The first session idles now, holding the only place. A deadline far
	// below IdleTimeout tells waiting it out from making way.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.IdleTimeout/4)
	defer cancel()
	res, err := e.Check(ctx, request("bob@b.test", target("mx.b.test", "127.0.0.3")))
	if err != nil || res.Reason != outcome.Accepted {
		t.Fatalf("second host: %+v, %v; want accepted well before the first session's IdleTimeout", res, err)
	}
	if first.Quits() != 1 || second.Sessions() != 1 {
		t.Errorf("first host QUITs %d, second host sessions %d; want 1 and 1", first.Quits(), second.Sessions())
	}
	if st := e.Stats(); st.IdleYields != 1 {
		t.Errorf("IdleYields = %d, want 1", st.IdleYields)
	}
	// Nobody waits for the second session's place: it stays open for
	// reuse.
	if res := check(t, e, request("carol@b.test", target("mx.b.test", "127.0.0.3"))); res.Reason != outcome.Accepted {
		t.Errorf("reuse: %+v", res)
	}
	if second.Sessions() != 1 {
		t.Errorf("second host sessions %d, want 1 (reused)", second.Sessions())
	}
}

// TestLimitsSharedByAddress checks that MX host names on one address
// share its limits: Microsoft 365 and Proofpoint give every tenant its
// own MX name on a few shared addresses. With MaxSessionsPerHost=1 the
// server must never see two sessions at once, however many names point
// at it.
func TestLimitsSharedByAddress(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.2:0", smtptest.Options{Default: smtptest.Accept(), RcptDelay: time.Millisecond})
	cfg := testConfig(srv.Port)
	cfg.MaxSessionsPerHost = 1
	e := newEngine(t, cfg)
	mxs := []probe.Target{
		target("tenant0-test.mail.protection.test", "127.0.0.2"),
		target("tenant1-test.mail.protection.test", "127.0.0.2"),
		target("tenant2-test.mail.protection.test", "127.0.0.2"),
	}
	const n = 45
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := check(t, e, request(fmt.Sprintf("user%d@tenant%d.test", i, i%3), mxs[i%3]))
			if res.Reason != outcome.Accepted || res.Host != mxs[i%3].Host {
				t.Errorf("user%d: got %+v", i, res)
			}
		})
	}
	wg.Wait()
	t.Logf("%d sessions, stats %+v", srv.Sessions(), e.Stats())
	if got := srv.MaxConcurrent(); got != 1 {
		t.Errorf("the shared server saw %d sessions at once, want 1 (MaxSessionsPerHost per address)", got)
	}
	if srv.Sessions() < 3 {
		t.Errorf("%d sessions for 3 MX names, want at least 3 (a session serves one name)", srv.Sessions())
	}
}

// TestNoGoroutineLeak checks that Close ends every goroutine the engine
// started.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept(), TLS: true})
		defer srv.Close()
		raw := smtptest.StartRaw(t, "127.0.0.2:0", smtptest.RawOptions{Behavior: smtptest.Tarpit})
		defer raw.Close()
		cfg := testConfig(srv.Port)
		cfg.IdleTimeout = time.Minute
		e, err := probe.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		runConcurrent(t, e, 10, outcome.Accepted)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		e.Check(ctx, request("x@example.com", probe.Target{Host: "tarpit.test", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}))
		e.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// TestBadRequest checks the requests Check refuses.
func TestBadRequest(t *testing.T) {
	e := newEngine(t, testConfig(2525))
	mx := target("mx.example.com", "127.0.0.1")
	for _, req := range []probe.Request{
		request("no-at-sign", mx),
		request("@example.com", mx),
		request("jane@", mx),
		request("jane@example.com\r\nDATA", mx),
		request("jane@example.com>\nRCPT TO:<x@y.z", mx),
		request("jane@exämple.com", mx),
		request("jane@example.com"),
		request(strings.Repeat("a", 250)+"@example.com", mx),
		request("jane@example.com", probe.Target{Host: "", Addrs: mx.Addrs}),
	} {
		if _, err := e.Check(context.Background(), req); !errors.Is(err, probe.ErrBadRequest) {
			t.Errorf("Check(%q): err = %v, want ErrBadRequest", req.Address, err)
		}
	}
}

// TestNewConfig checks the configs New refuses and the defaults it fills.
func TestNewConfig(t *testing.T) {
	good := probe.Config{HELO: "probe.example.com", MailFrom: "verify@example.com"}
	if _, err := probe.New(good, nil); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for name, mod := range map[string]func(*probe.Config){
		"no HELO":             func(c *probe.Config) { c.HELO = "" },
		"HELO localhost":      func(c *probe.Config) { c.HELO = "localhost" },
		"HELO with CRLF":      func(c *probe.Config) { c.HELO = "a.example.com\r\nDATA" },
		"no MailFrom":         func(c *probe.Config) { c.MailFrom = "" },
		"MailFrom no domain":  func(c *probe.Config) { c.MailFrom = "verify@" },
		"MailFrom brackets":   func(c *probe.Config) { c.MailFrom = "<verify@example.com>" },
		"port":                func(c *probe.Config) { c.Port = 70000 },
		"negative timeout":    func(c *probe.Config) { c.CommandTimeout = -time.Second },
		"batch too big":       func(c *probe.Config) { c.BatchSize = 101 },
		"sessions below host": func(c *probe.Config) { c.MaxSessions, c.MaxSessionsPerHost = 2, 5 },
		"negative rate":       func(c *probe.Config) { c.RatePerHost = -1 },
		"negative RCPT rate":  func(c *probe.Config) { c.RcptRatePerHost = -1 },
		"NaN RCPT rate":       func(c *probe.Config) { c.RcptRatePerHost = math.NaN() },
		"negative RCPT burst": func(c *probe.Config) { c.RcptBurstPerHost = -1 },
		"one RCPT a session":  func(c *probe.Config) { c.MaxRcptsPerSession = 1 },
		"backoff inverted":    func(c *probe.Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Second },
	} {
		cfg := good
		mod(&cfg)
		if _, err := probe.New(cfg, nil); !errors.Is(err, probe.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	// The message names the field, for the operator to find the key.
	for field, mod := range map[string]func(*probe.Config){
		"RcptRatePerHost":    func(c *probe.Config) { c.RcptRatePerHost = -5 },
		"RcptBurstPerHost":   func(c *probe.Config) { c.RcptBurstPerHost = -1 },
		"MaxRcptsPerSession": func(c *probe.Config) { c.MaxRcptsPerSession = 1 },
	} {
		cfg := good
		mod(&cfg)
		if _, err := probe.New(cfg, nil); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("bad %s: err = %v, want it named", field, err)
		}
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

package probe_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

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

// TestHELOOnly checks the fall-back to HELO when EHLO is not recognised,
// and that the transaction stays open between recipients: one MAIL FROM,
// and RSET only before QUIT.
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

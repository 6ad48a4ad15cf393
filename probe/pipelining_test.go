package probe_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/probe"
)

// TestPipeliningSameAnswers runs the same recipients against a fake that
// offers PIPELINING and one that does not, and checks that every
// recipient gets the same answer: replies in one flight are attributed to
// their own commands, whatever mix of codes comes back. The fakes'
// tripwire fails the test on pipelining without PIPELINING or after a
// group-ending command.
func TestPipeliningSameAnswers(t *testing.T) {
	tooMany := smtptest.Reply{Code: 452, Enhanced: "4.5.3", Message: "Too many recipients"}
	closing := smtptest.Reply{Code: 421, Enhanced: "4.7.0", Message: "Too many errors, closing"}
	tests := []struct {
		name  string
		rcpts []string
		opt   func() smtptest.Options // a fresh fake's options (scripts keep state)
	}{
		{
			// 250 MAIL, 550 catch-all test, 250 real, 550 real.
			name:  "mixed",
			rcpts: []string{"jane@example.com", "ghost@example.com", "bob@example.com"},
			opt: func() smtptest.Options {
				return smtptest.Options{Replies: map[string]smtptest.Reply{
					"jane@example.com": smtptest.Accept(), "bob@example.com": smtptest.Accept(),
				}}
			},
		},
		{
			// 452 in the middle of a flight: a limit, not an answer.
			name:  "452",
			rcpts: []string{"jane@example.com", "bob@example.com", "ann@example.com"},
			opt: func() smtptest.Options {
				return smtptest.Options{RcptsPerTransaction: 2, Replies: map[string]smtptest.Reply{
					"jane@example.com": smtptest.Accept(), "bob@example.com": smtptest.Accept(),
				}}
			},
		},
		{
			// 421 in the middle of a flight: the server hangs up, the
			// rest get a new session.
			name:  "421",
			rcpts: []string{"jane@example.com", "bob@example.com", "ann@example.com"},
			opt: func() smtptest.Options {
				var once atomic.Bool
				return smtptest.Options{
					Rcpt: func(to string) (smtptest.Reply, bool) {
						if to == "bob@example.com" && once.CompareAndSwap(false, true) {
							return closing, true
						}
						return smtptest.Reply{}, false
					},
					Replies: map[string]smtptest.Reply{
						"jane@example.com": smtptest.Accept(), "bob@example.com": smtptest.Accept(),
					},
				}
			},
		},
		{
			// 452 on the catch-all test itself, at the first RCPT of a
			// session that allows one per transaction.
			name:  "452 test",
			rcpts: []string{"jane@example.com"},
			opt: func() smtptest.Options {
				var n atomic.Int32
				return smtptest.Options{
					Rcpt: func(to string) (smtptest.Reply, bool) {
						if n.Add(1) == 2 {
							return tooMany, true
						}
						return smtptest.Reply{}, false
					},
					Replies: map[string]smtptest.Reply{"jane@example.com": smtptest.Accept()},
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			answers := map[bool]map[string]string{}
			for _, pipelining := range []bool{false, true} {
				opt := tc.opt()
				opt.NoPipelining = !pipelining
				// A round trip long enough that the recipients, sent
				// together, share the first transaction.
				opt.RTT = 20 * time.Millisecond
				srv := smtptest.Start(t, "127.0.0.1:0", opt)
				e := newEngine(t, testConfig(srv.Port))
				mx := target("mx.example.com", "127.0.0.1")
				got := map[string]string{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				for _, r := range tc.rcpts {
					wg.Go(func() {
						res := check(t, e, request(r, mx))
						mu.Lock()
						got[r] = fmt.Sprintf("%s %d %s catch_all=%v", res.Reason, res.Code, res.Enhanced, res.CatchAll)
						mu.Unlock()
					})
				}
				wg.Wait()
				e.Close()
				answers[pipelining] = got
				if pipelining && srv.Pipelined() == 0 {
					t.Errorf("no command was pipelined")
				}
				if !pipelining && srv.Pipelined() != 0 {
					t.Errorf("%d commands pipelined without PIPELINING", srv.Pipelined())
				}
			}
			for _, r := range tc.rcpts {
				if a, b := answers[false][r], answers[true][r]; a != b {
					t.Errorf("%s: pipelined %q, one at a time %q", r, b, a)
				}
			}
			t.Logf("answers: %v", answers[true])
		})
	}
}

// TestPipeliningFlight checks what one real-time check puts on the wire
// to a server that offers PIPELINING: MAIL FROM, the catch-all test and
// the address in one flight, then, on the same session, the next address
// alone in the open transaction, and RSET before QUIT.
func TestPipeliningFlight(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Replies: map[string]smtptest.Reply{"jane@example.com": smtptest.Accept(), "bob@example.com": smtptest.Accept()},
	})
	cfg := testConfig(srv.Port)
	cfg.IdleTimeout = 5 * time.Second
	e := newEngine(t, cfg)
	mx := target("mx.example.com", "127.0.0.1")
	for _, r := range []string{"jane@example.com", "bob@example.com"} {
		if res := check(t, e, request(r, mx)); res.CatchAll != probe.CatchAllNo || res.Code != 250 {
			t.Fatalf("%s: %+v", r, res)
		}
	}
	e.Close()
	// MAIL, test, jane: the test and jane came in MAIL's flight.
	if got := srv.Pipelined(); got != 2 {
		t.Errorf("pipelined commands = %d, want 2", got)
	}
	if srv.Mails() != 1 || srv.Sessions() != 1 || srv.Quits() != 1 {
		t.Errorf("mails %d sessions %d quits %d, want 1 each", srv.Mails(), srv.Sessions(), srv.Quits())
	}
	if got := strings.Join(srv.Recipients()[1:], " "); got != "jane@example.com bob@example.com" {
		t.Errorf("recipients after the test: %s", got)
	}
}

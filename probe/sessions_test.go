package probe_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

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

// TestTooManyRecipients is the regression test for "452 4.5.3 Too many
// recipients" as a limit, not an answer: per session (Outlook-like: every
// RCPT past the limit, in any transaction, is refused until a new
// session) and per transaction counting refused recipients too. Every
// recipient gets its real answer, accepted or mailbox_not_found, never
// smtp_rejected for the limit's sake.
func TestTooManyRecipients(t *testing.T) {
	replies := map[string]smtptest.Reply{}
	for i := range 30 {
		if i%3 == 0 {
			replies[fmt.Sprintf("u%d@example.com", i)] = smtptest.Accept()
		}
	}
	for name, opt := range map[string]smtptest.Options{
		"per session":     {Replies: replies, RcptsPerSession: 5},
		"per transaction": {Replies: replies, RcptsPerTransaction: 3},
	} {
		t.Run(name, func(t *testing.T) {
			srv := smtptest.Start(t, "127.0.0.1:0", opt)
			cfg := testConfig(srv.Port)
			cfg.MaxSessionsPerHost = 1
			e := newEngine(t, cfg)
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
					t.Errorf("u%d: got %s (%d %s %s), want %s", i, res.Reason, res.Code, res.Enhanced, res.Message, want)
				}
			}
			per := srv.SessionRcpts()
			t.Logf("%d sessions, RCPTs per session %v, stats %+v", srv.Sessions(), per, e.Stats())
			if n := opt.RcptsPerSession; n > 0 && len(per) > 0 {
				// The first session learns the limit, so it may send
				// more: the rest of a pipelined flight already on the
				// wire when the first 452 came back (at most one
				// transaction's worth), then one RCPT alone in a new
				// transaction, whose refusal shows the limit is the
				// session's. Every later session keeps to it.
				if per[0] > 2*n+2 {
					t.Errorf("the first session sent %d RCPTs against a limit of %d", per[0], n)
				}
				for i, k := range per[1:] {
					if k > n {
						t.Errorf("session %d sent %d RCPTs: the limit of %d was not learnt", i+2, k, n)
					}
				}
			}
		})
	}
}

package probe_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

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

// TestRateLimited421 checks a host that always answers 421 4.7.0: the
// caller waits it out while its budget allows, the host paced by the
// growing backoff, then gets rate_limited with the reply kept, before its
// deadline. A caller without a deadline is charged MaxAttempts sessions,
// as before.
func TestRateLimited421(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Replies: map[string]smtptest.Reply{"jane@example.com": {Code: 421, Enhanced: "4.7.0", Message: "Our system has detected an unusual rate of unsolicited mail. Try again later."}},
	})
	cfg := testConfig(srv.Port)
	e := newEngine(t, cfg)
	const budget = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	res, err := e.Check(ctx, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	if err != nil || res.Reason != outcome.RateLimited || res.Code != 421 || res.Enhanced != "4.7.0" {
		t.Errorf("got %+v, %v; want rate_limited 421 4.7.0", res, err)
	}
	if took := time.Since(start); took >= budget {
		t.Errorf("answered after %v, want before the %v budget ends", took, budget)
	}
	if n := srv.Sessions(); n < probe.DefaultMaxAttempts {
		t.Errorf("sessions = %d, want the host retried at least %d times within the budget", n, probe.DefaultMaxAttempts)
	}

	srv = smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Replies: map[string]smtptest.Reply{"jane@example.com": {Code: 421, Enhanced: "4.7.0", Message: "Try again later."}},
	})
	e = newEngine(t, testConfig(srv.Port))
	res, err = e.Check(context.Background(), request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	if err != nil || res.Reason != outcome.RateLimited || srv.Sessions() != probe.DefaultMaxAttempts {
		t.Errorf("no deadline: got %+v, %v after %d sessions; want rate_limited after %d", res, err, srv.Sessions(), probe.DefaultMaxAttempts)
	}
}

// TestRateLimitedBulk is the regression test for a bulk job at a
// rate-limited host: every recipient gets its real answer, in about the
// time the host's limit needs, rather than rate_limited after a few
// tries. The host limits new sessions (a 421 banner above 4 a second) in
// one case, and hangs up with 421 4.7.0 after every few RCPTs in the
// other.
func TestRateLimitedBulk(t *testing.T) {
	var n atomic.Int32
	for name, opt := range map[string]smtptest.Options{
		"421 banner": {Default: smtptest.Accept(), SessionsPerSecond: 4, SessionBurst: 1},
		"421 at RCPT": {Default: smtptest.Accept(), Rcpt: func(string) (smtptest.Reply, bool) {
			if n.Add(1)%4 == 0 {
				return smtptest.Reply{Code: 421, Enhanced: "4.7.0", Message: "Too many messages, slow down"}, true
			}
			return smtptest.Reply{}, false
		}},
	} {
		t.Run(name, func(t *testing.T) {
			srv := smtptest.Start(t, "127.0.0.1:0", opt)
			cfg := testConfig(srv.Port)
			cfg.MaxRcptsPerSession = 3 // many sessions: the limit bites
			cfg.IdleTimeout = time.Millisecond
			e := newEngine(t, cfg)
			const total = 20
			start := time.Now()
			var wg sync.WaitGroup
			for i := range total {
				wg.Go(func() {
					// A bulk job's budget: far longer than the host's limit needs.
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					res, err := e.Check(ctx, request(fmt.Sprintf("u%d@example.com", i), target("mx.example.com", "127.0.0.1")))
					if err != nil || res.Reason != outcome.Accepted {
						t.Errorf("u%d: got %+v, %v; want accepted", i, res, err)
					}
				})
			}
			wg.Wait()
			st := e.Stats()
			t.Logf("%d recipients in %v: %d connections, %d turned away, stats %+v", total, time.Since(start), srv.Conns(), srv.Rejected(), st)
			if st.RateLimitWaits == 0 || st.Backoffs == 0 {
				t.Errorf("RateLimitWaits %d, Backoffs %d: want the host waited out", st.RateLimitWaits, st.Backoffs)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("took %v, want about the time the host's limit needs", took)
			}
		})
	}
}

// TestRateLimitedRealTime checks that a real-time caller, whose budget is
// shorter than the host's pause, still gets rate_limited at once.
func TestRateLimitedRealTime(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		Replies: map[string]smtptest.Reply{"jane@example.com": {Code: 421, Enhanced: "4.7.0", Message: "Try again later, closing connection."}},
	})
	cfg := testConfig(srv.Port)
	cfg.BackoffMin, cfg.BackoffMax = probe.DefaultBackoffMin, probe.DefaultBackoffMax // 5s: longer than the budget
	e := newEngine(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	res, err := e.Check(ctx, request("jane@example.com", target("mx.example.com", "127.0.0.1")))
	if err != nil || res.Reason != outcome.RateLimited || res.Code != 421 {
		t.Errorf("got %+v, %v; want rate_limited 421", res, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("answered after %v, want at once", took)
	}
	if srv.Sessions() != 1 {
		t.Errorf("sessions = %d, want 1", srv.Sessions())
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
	closeDuringCheck(t, e, func() bool { return srv.Rcpts() > 0 })
	if srv.Rcpts() != 1 || srv.Quits() != 1 {
		t.Errorf("fake saw %d RCPTs and %d QUITs, want 1 (the test only) and 1", srv.Rcpts(), srv.Quits())
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

// closeDuringCheck starts a Check of jane@example.com at mx.example.com,
// closes e once ready reports true (or after 10 s), and requires the Check
// to end with ErrClosed.
func closeDuringCheck(t *testing.T, e *probe.Engine, ready func() bool) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := e.Check(context.Background(), request("jane@example.com", target("mx.example.com", "127.0.0.1")))
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !ready() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	e.Close()
	if err := <-errc; !errors.Is(err, probe.ErrClosed) {
		t.Errorf("Check: %v, want ErrClosed", err)
	}
}

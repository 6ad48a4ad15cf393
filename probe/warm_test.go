package probe_test

import (
	"context"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/probe"
)

// waitFor polls cond until it holds; the watchdog is generous, it is not
// a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func warmConfig(port int) probe.Config {
	cfg := testConfig(port)
	cfg.IdleTimeout = 50 * time.Millisecond
	cfg.KeepWarm = 600 * time.Millisecond // a NOOP every 300ms
	return cfg
}

// TestKeepWarm checks that a host with real-time traffic keeps one idle
// session open past IdleTimeout, says NOOP while it waits, serves the next
// caller on it, and QUITs once KeepWarm has passed without traffic.
func TestKeepWarm(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	e := newEngine(t, warmConfig(srv.Port))
	mx := target("mx.example.com", "127.0.0.1")
	first := check(t, e, request("jane@example.com", mx))
	if first.Code != 250 || first.Timings.Connect <= 0 || first.Timings.SMTP <= 0 {
		t.Fatalf("jane: %+v", first)
	}
	waitFor(t, "a NOOP on the warm session", func() bool { return srv.Noops() > 0 })
	// On the warm session: no connection to pay for.
	if res := check(t, e, request("bob@example.com", mx)); res.Code != 250 || res.Timings.Connect != 0 || res.Timings.TLS != 0 || res.Timings.SMTP <= 0 {
		t.Errorf("bob: %+v", res)
	}
	if srv.Sessions() != 1 || srv.Mails() != 1 {
		t.Errorf("sessions %d, MAILs %d: want 1 and 1, the second caller on the warm session", srv.Sessions(), srv.Mails())
	}
	// The idle limit: QUIT without Close.
	waitFor(t, "the warm session to QUIT", func() bool { return srv.Quits() == 1 })
	if srv.Open() != 0 {
		t.Errorf("open sessions %d after KeepWarm", srv.Open())
	}
}

// TestKeepWarmBulk checks that a caller with a long budget (a bulk job)
// does not make its host warm: the session closes after IdleTimeout, with
// no NOOP.
func TestKeepWarmBulk(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := warmConfig(srv.Port)
	cfg.KeepWarm = 5 * time.Minute
	e := newEngine(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.Check(ctx, request("jane@example.com", target("mx.example.com", "127.0.0.1"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle session to QUIT", func() bool { return srv.Quits() == 1 })
	if srv.Noops() != 0 {
		t.Errorf("NOOPs %d, want 0", srv.Noops())
	}
}

// TestKeepWarmCap checks MaxWarm: with real-time traffic at two hosts and
// a cap of one, one session stays warm and the other closes after
// IdleTimeout; Close QUITs the warm one, after RSET of its open
// transaction.
func TestKeepWarmCap(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.2", "127.0.0.3")
	var srvs []*smtptest.Server
	for _, ln := range lns {
		srvs = append(srvs, smtptest.Serve(t, ln, smtptest.Options{Default: smtptest.Accept()}))
	}
	cfg := warmConfig(port)
	cfg.KeepWarm = time.Minute
	cfg.MaxWarm = 1
	e, err := probe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(t, e, request("jane@a.test", target("mx.a.test", "127.0.0.2")))
	check(t, e, request("jane@b.test", target("mx.b.test", "127.0.0.3")))
	open := func() int { return srvs[0].Open() + srvs[1].Open() }
	quits := func() int { return srvs[0].Quits() + srvs[1].Quits() }
	waitFor(t, "one session to close", func() bool { return quits() == 1 })
	time.Sleep(3 * cfg.IdleTimeout) // the cap holds: nothing else closes
	if open() != 1 || quits() != 1 {
		t.Errorf("open %d, quits %d: want one warm session", open(), quits())
	}
	e.Close()
	if open() != 0 || quits() != 2 {
		t.Errorf("after Close: open %d, quits %d; want 0 and 2", open(), quits())
	}
}

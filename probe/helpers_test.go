package probe_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/preflight-email/preflight/probe"
)

// testConfig is a Config for the fakes: loopback allowed, short timeouts,
// loose limits, short backoff, so the suite stays fast.
func testConfig(port int) probe.Config {
	return probe.Config{
		Port:               port,
		HELO:               "probe.preflight.test",
		MailFrom:           "verify@preflight.test",
		AllowPrivate:       true,
		ConnectTimeout:     time.Second,
		BannerTimeout:      time.Second,
		CommandTimeout:     2 * time.Second,
		RatePerHost:        200,
		BurstPerHost:       20,
		RcptRatePerHost:    1e5,
		RcptBurstPerHost:   1000,
		MaxSessionsPerHost: 2,
		MaxSessions:        20,
		BatchSize:          20,
		IdleTimeout:        300 * time.Millisecond,
		KeepWarm:           300 * time.Millisecond, // no warm sessions unless a test asks
		BackoffMin:         40 * time.Millisecond,
		BackoffMax:         200 * time.Millisecond,
	}
}

// newEngine builds an Engine that Cleanup closes. PROBE_DEBUG=1 logs.
func newEngine(t testing.TB, cfg probe.Config) *probe.Engine {
	t.Helper()
	var logger *slog.Logger
	if os.Getenv("PROBE_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e, err := probe.New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// target names an MX host at one loopback IP.
func target(host, ip string) probe.Target {
	return probe.Target{Host: host, Addrs: []netip.Addr{netip.MustParseAddr(ip)}}
}

// request asks about addr at the given targets.
func request(addr string, targets ...probe.Target) probe.Request {
	return probe.Request{Address: addr, Targets: targets}
}

// check runs Check with a watchdog: a hang fails the test instead of
// stalling the suite. The watchdog is generous; it is not a timing
// assertion.
func check(t testing.TB, e *probe.Engine, req probe.Request) probe.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check(%s): %v", req.Address, err)
	}
	return res
}

package probe_test

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

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
		"negative refusals":   func(c *probe.Config) { c.MaxRefusalsPerSession = -1 },
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

// TestDefaultConfig checks that DefaultConfig is what zero fields mean, so
// configuration code can take its defaults from the probe.
func TestDefaultConfig(t *testing.T) {
	d := probe.DefaultConfig()
	if d.Port != probe.DefaultPort || d.MaxAttempts != probe.DefaultMaxAttempts ||
		d.BackoffMin != probe.DefaultBackoffMin || d.BackoffMax != probe.DefaultBackoffMax ||
		d.BatchSize != probe.DefaultBatchSize || d.MaxRefusalsPerSession != probe.DefaultMaxRefusals ||
		d.MaxWait != 0 || d.HELO != "" || d.MailFrom != "" {
		t.Errorf("DefaultConfig() = %+v", d)
	}
	d.HELO, d.MailFrom = "probe.example.com", "verify@example.com"
	e, err := probe.New(d, nil)
	if err != nil {
		t.Fatalf("New(DefaultConfig()): %v", err)
	}
	e.Close()
}

package probe_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

// fakeFleet lets the first free RCPTs go, then holds every other one back
// for an hour, and records the hosts it was asked about.
type fakeFleet struct {
	free  atomic.Int32
	mu    sync.Mutex
	hosts []string
}

func (f *fakeFleet) AllowRcpt(_ context.Context, host string) time.Duration {
	f.mu.Lock()
	f.hosts = append(f.hosts, host)
	f.mu.Unlock()
	if f.free.Add(-1) >= 0 {
		return 0
	}
	return time.Hour
}

func (f *fakeFleet) asked() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.hosts) }

// TestFleetLimitCallerLeaves: an RCPT held back by the fleet-wide limit
// is given up when its caller's deadline passes; nothing is sent for it.
func TestFleetLimitCallerLeaves(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	f := &fakeFleet{}
	f.free.Store(2) // the catch-all test and the first address
	cfg.Fleet = f
	e := newEngine(t, cfg)
	mx := target("mx.example.com", "127.0.0.1")
	if r := check(t, e, request("jane@example.com", mx)); r.Reason != outcome.Accepted {
		t.Fatalf("first address: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Check(ctx, request("john@example.com", mx))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check past the deadline: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Check returned %s after a 300ms deadline", d)
	}
	if got := srv.Recipients(); slices.Contains(got, "john@example.com") {
		t.Fatalf("the held-back RCPT was sent: %v", got)
	}
	if st := e.Stats(); st.FleetWaits == 0 {
		t.Errorf("stats: %+v, want a fleet wait", st)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hosts[0] != "mx.example.com" {
		t.Errorf("the limiter was asked about %q", f.hosts[0])
	}
}

// TestFleetLimitClose: a catch-all test waiting for the fleet-wide limit
// stops waiting at Close.
func TestFleetLimitClose(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	cfg := testConfig(srv.Port)
	f := &fakeFleet{}
	cfg.Fleet = f
	e, err := probe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeDuringCheck(t, e, func() bool { return f.asked() > 0 })
	if srv.Rcpts() != 0 {
		t.Errorf("fake saw %d RCPTs, want none", srv.Rcpts())
	}
}

// mapCache is a SharedCache in memory, standing for Redis.
type mapCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *mapCache) Get(_ context.Context, key string) ([]byte, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, time.Now().Add(time.Hour), ok
}

func (c *mapCache) Set(_ context.Context, key string, val []byte, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = val
}

func (c *mapCache) LocalHit() {}

// TestSharedCatchAll: a domain one engine tested is not tested again by
// another engine that shares its catch-all cache.
func TestSharedCatchAll(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	shared := &mapCache{m: map[string][]byte{}}
	cfg := testConfig(srv.Port)
	cfg.Shared = shared
	a, b := newEngine(t, cfg), newEngine(t, cfg)
	mx := target("mx.example.com", "127.0.0.1")
	if r := check(t, a, request("jane@example.com", mx)); r.CatchAll != probe.CatchAllYes {
		t.Fatalf("A: %+v", r)
	}
	if got := string(shared.m["example.com"]); got != "yes" {
		t.Fatalf("shared catch-all entry = %q", got)
	}
	n := srv.Rcpts()
	if r := check(t, b, request("john@example.com", mx)); r.CatchAll != probe.CatchAllYes {
		t.Fatalf("B: %+v", r)
	}
	if got := srv.Recipients()[n:]; !slices.Equal(got, []string{"john@example.com"}) {
		t.Fatalf("B sent %v, want the address only", got)
	}
}

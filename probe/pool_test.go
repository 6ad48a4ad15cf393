package probe

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestPool checks the session pool: places handed over in order, yield
// counting each waiter once, and a waiter that gives up.
func TestPool(t *testing.T) {
	ctx := context.Background()
	p := newPool(1)
	if err := p.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if p.yield() {
		t.Fatal("yield with nobody waiting")
	}
	wanted := p.wantedCh()
	got := make(chan int, 2)
	for i := range 2 {
		go func() {
			if err := p.acquire(ctx); err == nil {
				got <- i
			}
		}()
		<-wanted // the waiter is queued: its arrival closed the channel
		wanted = p.wantedCh()
	}
	// Two waiters: two holders may be asked to let go, not a third.
	if !p.yield() || !p.yield() || p.yield() {
		t.Fatal("yield should say yes exactly once per waiter")
	}
	p.release(true)
	if i := <-got; i != 0 {
		t.Errorf("first place went to waiter %d, want 0 (FIFO)", i)
	}
	p.release(true)
	if i := <-got; i != 1 {
		t.Errorf("second place went to waiter %d, want 1", i)
	}
	if p.yield() {
		t.Error("yield with nobody waiting any more")
	}

	// A waiter whose context ends leaves the queue; the place it never
	// got stays with the pool.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := p.acquire(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full pool: %v, want deadline exceeded", err)
	}
	p.release(false) // waiter 1 lets go
	// cctx is done, but a free place is taken without waiting.
	if err := p.acquire(cctx); err != nil {
		t.Fatalf("acquire of a free place: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free != 0 || len(p.waiters) != 0 || p.yielding != 0 {
		t.Errorf("pool left with free %d, waiters %d, yielding %d", p.free, len(p.waiters), p.yielding)
	}
}

// TestGateKey checks which addresses share a gate: an IPv4 address alone,
// an IPv6 address with its /64, a mapped address with its IPv4 form.
func TestGateKey(t *testing.T) {
	same := [][2]string{
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"2a01:111:f400:7e1b::1", "2a01:111:f400:7e1b:ffff::2"},
		{"2a01:111:f400:7e1b::1", "2a01:111:f400:7e1b::1%eth0"},
	}
	differ := [][2]string{
		{"192.0.2.1", "192.0.2.2"},
		{"2a01:111:f400:7e1b::1", "2a01:111:f400:7e1c::1"},
		{"127.0.0.2", "127.0.0.3"},
	}
	for _, p := range same {
		if a, b := gateKey(netip.MustParseAddr(p[0])), gateKey(netip.MustParseAddr(p[1])); a != b {
			t.Errorf("%s -> %v and %s -> %v: want one gate", p[0], a, p[1], b)
		}
	}
	for _, p := range differ {
		if gateKey(netip.MustParseAddr(p[0])) == gateKey(netip.MustParseAddr(p[1])) {
			t.Errorf("%s and %s share a gate", p[0], p[1])
		}
	}
}

// TestUntilFull checks how long a gate is kept for its limiter to refill.
func TestUntilFull(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := rate.NewLimiter(2, 4) // 2 per second, burst 4
	if d := untilFull(l, now); d != 0 {
		t.Errorf("full limiter: %v, want 0", d)
	}
	l.AllowN(now, 3) // one token left: 3 missing, 1.5 s to refill
	if d := untilFull(l, now); d != 1500*time.Millisecond+time.Millisecond {
		t.Errorf("after a burst of 3: %v, want 1.501s", d)
	}
	if d := untilFull(l, now.Add(2*time.Second)); d != 0 {
		t.Errorf("2s later: %v, want 0", d)
	}
	if d := untilFull(rate.NewLimiter(rate.Inf, 1), now); d != 0 {
		t.Errorf("unlimited: %v, want 0", d)
	}
}

package probe

import (
	"context"
	"errors"
	"testing"
	"time"
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

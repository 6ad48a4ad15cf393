package probe

import (
	"context"
	"slices"
	"sync"
)

// pool is a counting semaphore for open sessions. Unlike a buffered
// channel it knows who waits for a place, and hands places over in the
// order they were asked for. That lets a session kept open for reuse give
// up its place when another host needs it: an idle session must not make
// new hosts queue behind it for IdleTimeout.
type pool struct {
	mu       sync.Mutex
	free     int
	waiters  []chan struct{} // FIFO; a waiter's channel is closed when it is given a place
	yielding int             // holders that agreed to let go and have not yet
	wanted   chan struct{}   // closed, and replaced, whenever a waiter arrives
}

func newPool(size int) *pool {
	return &pool{free: size, wanted: make(chan struct{})}
}

// acquire takes a place, waiting until one is free or ctx is done.
func (p *pool) acquire(ctx context.Context) error {
	p.mu.Lock()
	if p.free > 0 && len(p.waiters) == 0 {
		p.free--
		p.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	p.waiters = append(p.waiters, ch)
	close(p.wanted)
	p.wanted = make(chan struct{})
	p.mu.Unlock()

	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	if i := slices.Index(p.waiters, ch); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.mu.Unlock()
		return ctx.Err()
	}
	p.mu.Unlock()
	// We were given a place just as ctx ended: pass it on.
	p.release(false)
	return ctx.Err()
}

// release gives a place back, to the longest waiter if there is one.
// yielded says the holder lets go because yield asked it to.
func (p *pool) release(yielded bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if yielded && p.yielding > 0 {
		p.yielding--
	}
	if len(p.waiters) > 0 {
		close(p.waiters[0])
		p.waiters = slices.Delete(p.waiters, 0, 1)
		return
	}
	p.free++
}

// yield tells an idle holder whether to let go of its place: yes when more
// goroutines wait than holders have already agreed to let go. A yes counts
// the caller among those; it must then call release(true).
func (p *pool) yield() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > p.yielding {
		p.yielding++
		return true
	}
	return false
}

// wantedCh returns a channel that is closed when a new waiter arrives.
// Take it before asking yield, so that no arrival in between is missed.
func (p *pool) wantedCh() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wanted
}

package mx

import (
	"context"
	"sync"
	"time"
)

// entry is a cached value and the time it stops being valid.
type entry[V any] struct {
	val     V
	expires time.Time
}

// evictSample is how many entries a full cache looks at to choose one to
// evict.
const evictSample = 8

// cache maps names to values with an expiry time, holding at most max
// entries. Expired entries stay until overwritten or evicted. A full cache
// evicts, of a few entries picked by Go's randomized map iteration, the one
// that expires first: expired entries go before live ones, at O(1) cost and
// with no list to maintain.
type cache[V any] struct {
	max int

	mu sync.RWMutex
	m  map[string]entry[V]
}

func newCache[V any](max int) *cache[V] {
	return &cache[V]{max: max, m: make(map[string]entry[V])}
}

// get returns the value for key if it is still valid at now.
func (c *cache[V]) get(key string, now time.Time) (V, time.Time, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, time.Time{}, false
	}
	return e.val, e.expires, true
}

// put stores e under key, evicting an entry when the cache is full.
func (c *cache[V]) put(key string, e entry[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		c.evict()
	}
	c.m[key] = e
}

// evict removes, of a few entries, the one that expires first; an expired
// entry is always such a one. Called with c.mu held.
func (c *cache[V]) evict() {
	var (
		victim  string
		soonest time.Time
		n       int
	)
	for k, e := range c.m {
		if n == 0 || e.expires.Before(soonest) {
			victim, soonest = k, e.expires
		}
		n++
		if n == evictSample {
			break
		}
	}
	delete(c.m, victim)
}

// len returns the number of entries, valid or not.
func (c *cache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// group lets concurrent lookups of one key share a single call, like
// golang.org/x/sync/singleflight, with two differences that suit a cache in
// front of the network:
//
//   - The call runs in its own goroutine with a context that keeps the first
//     caller's values but not its cancellation, so one caller giving up does
//     not fail the others.
//   - Each caller waits on its own context. When the last waiting caller
//     gives up, the call's context is canceled and the key is freed, so a
//     later caller starts afresh rather than joining a doomed call.
//
// The zero value is ready to use.
type group[V any] struct {
	mu    sync.Mutex
	calls map[string]*call[V]
}

type call[V any] struct {
	done    chan struct{} // closed when val and err are set
	val     entry[V]
	err     error
	waiters int // guarded by group.mu
	cancel  context.CancelFunc
}

// do returns the result of fn for key, calling fn at most once for all
// callers that overlap. The error is ctx.Err() when the caller's ctx ends
// first, or fn's error.
func (g *group[V]) do(ctx context.Context, key string, fn func(context.Context) (entry[V], error)) (entry[V], error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*call[V])
	}
	c, ok := g.calls[key]
	if !ok {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[V]{done: make(chan struct{}), cancel: cancel}
		g.calls[key] = c
		go func() {
			defer cancel()
			c.val, c.err = fn(cctx)
			g.mu.Lock()
			if g.calls[key] == c {
				delete(g.calls, key)
			}
			g.mu.Unlock()
			close(c.done)
		}()
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 && g.calls[key] == c {
			delete(g.calls, key)
			c.cancel()
		}
		g.mu.Unlock()
		return entry[V]{}, ctx.Err()
	}
}

// waiting returns how many callers wait on the call for key (for tests).
func (g *group[V]) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}

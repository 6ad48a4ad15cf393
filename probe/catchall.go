package probe

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"time"
)

// testLocalLen is the length of the catch-all test's local part.
const testLocalLen = 20

// testLocal returns the local part of the catch-all test for domain: 20
// lowercase letters and digits drawn from an HMAC-SHA256 of the domain
// under the engine's random key.
//
// It is the same for a domain for the life of the engine, because
// greylisting (RFC 6647) defers the first message of each (client IP,
// sender, recipient) triplet: a new random local part on every test would
// be greylisted every time, and the domain would never leave "unknown".
// With a stable one, the test repeated after the greylisting delay gets
// through. The key is secret and new for every engine, so nobody can
// predict the local part and make it a real mailbox, and no two runs of
// the service use the same one.
func (e *Engine) testLocal(domain string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, testLocalLen)
	// Each block gives 32 bytes, of which about 31.5 are kept; one block
	// is almost always enough, and the loop makes sure.
	for block := byte(0); len(out) < testLocalLen; block++ {
		mac := hmac.New(sha256.New, e.testKey[:])
		mac.Write([]byte{block})
		mac.Write([]byte(domain))
		for _, b := range mac.Sum(nil) {
			// 252 = 7*36: reject the top values to stay unbiased.
			if b < 252 && len(out) < testLocalLen {
				out = append(out, alphabet[b%36])
			}
		}
	}
	return string(out)
}

// sharedCatchAll fills the local catch-all cache with domain's state from
// the fleet's shared cache, when another instance tested it and this one
// has not. It runs in the caller's goroutine before the recipient is
// queued, so no dispatcher waits on Redis while holding its lock.
func (e *Engine) sharedCatchAll(ctx context.Context, domain string) {
	sh := e.cfg.Shared
	if sh == nil {
		return
	}
	now := time.Now()
	if _, ok := e.cache.get(domain, now); ok {
		sh.LocalHit()
		return
	}
	b, expires, ok := sh.Get(ctx, domain)
	if !ok {
		return
	}
	var st CatchAll
	if err := st.UnmarshalText(b); err != nil {
		return
	}
	e.cache.put(domain, st, expires.Sub(now), now)
}

// storeCatchAll caches domain's state here and writes it through to the
// fleet's shared cache with the same TTL.
func (e *Engine) storeCatchAll(domain string, state CatchAll, ttl time.Duration) {
	e.cache.put(domain, state, ttl, time.Now())
	if e.cfg.Shared == nil || ttl <= 0 {
		return
	}
	if b, err := state.MarshalText(); err == nil {
		e.cfg.Shared.Set(e.stopCtx, domain, b, ttl)
	}
}

// catchAllCache remembers each domain's catch-all status, so a domain is
// tested once per TTL rather than once per address (docs/design.md "Rules of
// conduct"). It is bounded: when full, expired entries go first, then
// arbitrary ones.
type catchAllCache struct {
	mu  sync.Mutex
	max int
	m   map[string]catchAllEntry
}

type catchAllEntry struct {
	state   CatchAll
	expires time.Time
}

func newCatchAllCache(max int) *catchAllCache {
	return &catchAllCache{max: max, m: make(map[string]catchAllEntry)}
}

// get returns the cached state of domain and whether there was one.
func (c *catchAllCache) get(domain string, now time.Time) (CatchAll, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[domain]
	if !ok {
		return CatchAllUnknown, false
	}
	if !now.Before(e.expires) {
		delete(c.m, domain)
		return CatchAllUnknown, false
	}
	return e.state, true
}

func (c *catchAllCache) put(domain string, state CatchAll, ttl time.Duration, now time.Time) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[domain]; !ok && len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[domain] = catchAllEntry{state: state, expires: now.Add(ttl)}
}

// evict makes room for one entry: all expired entries, or failing that
// about a tenth of the cache (map order is arbitrary enough for a cache
// whose entries are all equally cheap to rebuild).
func (c *catchAllCache) evict(now time.Time) {
	for d, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, d)
		}
	}
	if len(c.m) < c.max {
		return
	}
	n := c.max/10 + 1
	for d := range c.m {
		if n == 0 {
			break
		}
		delete(c.m, d)
		n--
	}
}

func (c *catchAllCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

package probe

import (
	"sync"
	"time"
)

// catchAllCache remembers each domain's catch-all status, so a domain is
// tested once per TTL rather than once per address (DESIGN.md "Rules of
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

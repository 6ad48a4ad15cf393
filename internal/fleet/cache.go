package fleet

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache is one shared cache level, named for what it holds ("result",
// "mx", "catchall"), its keys under the client's prefix and the name. The
// owner of the local cache asks it only after a local miss, so it counts
// local misses; the owner reports local hits with LocalHit.
type Cache struct {
	c      *Client
	prefix string

	localHits, localMisses, sharedHits, sharedMisses atomic.Uint64
}

// Cache returns the shared cache called name, the same one for every call.
func (c *Client) Cache(name string) *Cache {
	c.cachesMu.Lock()
	defer c.cachesMu.Unlock()
	if l, ok := c.caches[name]; ok {
		return l
	}
	l := &Cache{c: c, prefix: c.cfg.Prefix + name + ":"}
	c.caches[name] = l
	return l
}

// LocalHit counts a lookup answered by the local cache.
func (l *Cache) LocalHit() { l.localHits.Add(1) }

// Get returns the value of key and when it expires. A miss, a degraded
// client or a failed read all give ok false: the caller does the work.
func (l *Cache) Get(ctx context.Context, key string) (val []byte, expires time.Time, ok bool) {
	l.localMisses.Add(1)
	if !l.c.usable() {
		return nil, time.Time{}, false
	}
	octx, cancel := l.c.op(ctx)
	defer cancel()
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	_, err := l.c.rdb.Pipelined(octx, func(p redis.Pipeliner) error {
		get = p.Get(octx, l.prefix+key)
		pttl = p.PTTL(octx, l.prefix+key)
		return nil
	})
	if err != nil {
		l.c.failed(ctx, err)
		l.sharedMisses.Add(1)
		return nil, time.Time{}, false
	}
	val, _ = get.Bytes()
	ttl := pttl.Val()
	if ttl <= 0 { // expired between the two commands, or kept forever (not ours)
		l.sharedMisses.Add(1)
		return nil, time.Time{}, false
	}
	l.sharedHits.Add(1)
	return val, time.Now().Add(ttl), true
}

// Set stores val under key for ttl, as the local cache does. A ttl under a
// millisecond stores nothing; a failed write is counted and forgotten.
func (l *Cache) Set(ctx context.Context, key string, val []byte, ttl time.Duration) {
	if ttl < time.Millisecond || !l.c.usable() {
		return
	}
	octx, cancel := l.c.op(ctx)
	defer cancel()
	l.c.failed(ctx, l.c.rdb.Set(octx, l.prefix+key, val, ttl).Err())
}

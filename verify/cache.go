package verify

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cache keeps results per normalized address, each with its own expiry,
// since unknown results live shorter than definite ones.
type cache struct {
	lru *lru.Cache[string, entry]
}

type entry struct {
	r       Result
	expires time.Time
}

func newCache(size int) *cache {
	if size <= 0 {
		return &cache{}
	}
	l, err := lru.New[string, entry](size)
	if err != nil { // only for size <= 0, excluded above
		panic(err)
	}
	return &cache{lru: l}
}

func (c *cache) get(key string, now time.Time) (Result, bool) {
	if c.lru == nil {
		return Result{}, false
	}
	e, ok := c.lru.Get(key)
	if !ok {
		return Result{}, false
	}
	if now.After(e.expires) {
		c.lru.Remove(key)
		return Result{}, false
	}
	return e.r, true
}

// put keeps r under key (syntax.Address.Key) for ttl.
func (c *cache) put(key string, r Result, ttl time.Duration, now time.Time) {
	if c.lru == nil || ttl <= 0 {
		return
	}
	c.lru.Add(key, entry{r: r, expires: now.Add(ttl)})
}

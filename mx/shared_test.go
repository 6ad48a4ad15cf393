package mx

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/dnstest"
)

// ttlCache is a SharedCache in memory that records the TTL of each write.
type ttlCache struct {
	mu   sync.Mutex
	vals map[string][]byte
	ttls map[string]time.Duration
	hits int
}

func (c *ttlCache) Get(_ context.Context, key string) ([]byte, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vals[key]
	return v, time.Now().Add(c.ttls[key]), ok
}

func (c *ttlCache) Set(_ context.Context, key string, val []byte, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals[key], c.ttls[key] = val, ttl
}

func (c *ttlCache) LocalHit() { c.mu.Lock(); c.hits++; c.mu.Unlock() }

// TestSharedCache: answers are written through with their own TTL
// (a negative answer's is short), and a second resolver sharing the cache
// answers from it without a query.
func TestSharedCache(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	shared := &ttlCache{vals: map[string][]byte{}, ttls: map[string]time.Duration{}}
	a := newResolver(t, Config{Shared: shared}, s)
	b := newResolver(t, Config{Shared: shared}, s)
	ctx := context.Background()
	ra, err := a.Lookup(ctx, "ok.test")
	if err != nil || ra.Status != StatusOK {
		t.Fatalf("A: %+v %v", ra, err)
	}
	if _, err := a.Lookup(ctx, "nx.test"); err != nil {
		t.Fatal(err)
	}
	if ttl := shared.ttls["nx.test"]; ttl <= 0 || ttl > MaxNegativeTTL {
		t.Errorf("NXDOMAIN shared for %s, want at most %s", ttl, MaxNegativeTTL)
	}
	if ttl := shared.ttls["ok.test"]; ttl <= 0 || ttl > 60*time.Second {
		t.Errorf("ok.test shared for %s, want its shortest TTL (60s)", ttl)
	}
	n := s.Queries()
	rb, err := b.Lookup(ctx, "ok.test")
	if err != nil || rb.Status != StatusOK || len(rb.Hosts) != len(ra.Hosts) || rb.Hosts[0].Addrs[0] != ra.Hosts[0].Addrs[0] {
		t.Fatalf("B: %+v %v, A: %+v", rb, err, ra)
	}
	if q := s.Queries() - n; q != 0 {
		t.Errorf("B sent %d queries for an answer in the shared cache", q)
	}
	b.Lookup(ctx, "ok.test")
	if shared.hits != 1 {
		t.Errorf("local hits = %d, want 1", shared.hits)
	}
}

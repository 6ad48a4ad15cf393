package fleet_test

import (
	"context"
	"testing"

	"github.com/preflight-email/preflight/internal/testworld"
	"github.com/preflight-email/preflight/outcome"
)

// BenchmarkCachedVerify is the hit path of one verify: local is the
// in-process cache, shared is Redis (the local cache turned off with
// verify.cache_size=0, so every call reads Redis and decodes the result).
func BenchmarkCachedVerify(b *testing.B) {
	url := redisURL(b)
	prefix := testPrefix(b, url)
	w := testworld.New(b)
	for _, bc := range []struct{ name, size string }{{"local", "1000"}, {"shared", "0"}} {
		b.Run(bc.name, func(b *testing.B) {
			a := newApp(b, w, nil, map[string]string{"PREFLIGHT_CACHE_URL": url, "PREFLIGHT_CACHE_PREFIX": prefix,
				"PREFLIGHT_VERIFY_CACHE_SIZE": bc.size})
			ctx := context.Background()
			if r := a.Verifier.Verify(ctx, "user1@d1.test"); r.Verdict != outcome.Deliverable {
				b.Fatalf("%+v", r)
			}
			before := sessions(w)
			b.ReportAllocs()
			for b.Loop() {
				a.Verifier.Verify(ctx, "user1@d1.test")
			}
			if sessions(w) != before {
				b.Fatal("the benchmark opened SMTP sessions: not a hit path")
			}
		})
	}
}

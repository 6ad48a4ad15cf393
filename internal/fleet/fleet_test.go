package fleet_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/redis/go-redis/v9"

	"github.com/preflight-email/preflight/handlers"
	"github.com/preflight-email/preflight/internal/testworld"
	"github.com/preflight-email/preflight/outcome"
)

// TestSharedCacheAcrossInstances: two instances share one Redis and one
// fake internet. An address A verified is answered by B with no SMTP
// session; another address of the same domain costs B one RCPT and no
// DNS or catch-all work, since A's MX answer and catch-all test are
// shared too.
func TestSharedCacheAcrossInstances(t *testing.T) {
	url := redisURL(t)
	prefix := testPrefix(t, url)
	w := testworld.New(t)
	env := map[string]string{"PREFLIGHT_CACHE_URL": url, "PREFLIGHT_CACHE_PREFIX": prefix}
	a, b := newApp(t, w, nil, env), newApp(t, w, nil, env)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ra := a.Verifier.Verify(ctx, "user1@d1.test")
	if ra.Verdict != outcome.Deliverable {
		t.Fatalf("A: %+v", ra)
	}
	before, mark := sessions(w), w.Mark()
	rb := b.Verifier.Verify(ctx, "user1@d1.test")
	if rb.Verdict != ra.Verdict || rb.Reason != ra.Reason || rb.Risk != ra.Risk {
		t.Fatalf("B answered %+v, A %+v", rb, ra)
	}
	if n := sessions(w) - before; n != 0 {
		t.Fatalf("B opened %d SMTP sessions for an address A verified", n)
	}
	if got := w.Since(mark); len(got) != 0 {
		t.Fatalf("B sent RCPTs %v for an address A verified", got)
	}
	if oa, ob := a.Fleet.Stats().Outages, b.Fleet.Stats().Outages; oa+ob != 0 {
		t.Fatalf("Redis was unreachable during the test (outages %d, %d)", oa, ob)
	}
	if s := b.Fleet.Stats().Caches["result"]; s.SharedHits != 1 || s.LocalMisses != 1 {
		t.Fatalf("B's result cache: %+v, want one local miss and one shared hit", s)
	}
	// Asked again, B answers from its own cache.
	b.Verifier.Verify(ctx, "user1@d1.test")
	if s := b.Fleet.Stats().Caches["result"]; s.LocalHits != 1 || s.SharedHits != 1 {
		t.Fatalf("B's result cache after a second call: %+v", s)
	}

	// Another mailbox of d1.test: B probes it, but the MX hosts and the
	// catch-all status come from A's work.
	mark = w.Mark()
	rb = b.Verifier.Verify(ctx, "user2@d1.test")
	if rb.Verdict != outcome.Deliverable {
		t.Fatalf("B: %+v", rb)
	}
	if got := w.Since(mark); !slices.Equal(got, []string{"user2@d1.test"}) {
		t.Fatalf("B sent RCPTs %v, want only the address (no catch-all test)", got)
	}
	st := b.Fleet.Stats()
	if st.Caches["mx"].SharedHits != 1 {
		t.Errorf("B's mx cache: %+v, want one shared hit", st.Caches["mx"])
	}
	if st.Caches["catchall"].SharedHits != 1 {
		t.Errorf("B's catch-all cache: %+v, want one shared hit", st.Caches["catchall"])
	}
	// The same counts reach /metrics.
	reg := prometheus.NewRegistry()
	b.RegisterMetrics(reg)
	var text strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&text, mf)
	}
	for _, want := range []string{
		`preflight_cache_lookups_total{cache="result",level="shared",result="hit"} 1`,
		`preflight_cache_lookups_total{cache="mx",level="shared",result="hit"} 1`,
		`preflight_cache_lookups_total{cache="catchall",level="shared",result="hit"} 1`,
		`preflight_redis_up 1`,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if a.Fleet.Health() != "ok" || b.Fleet.Health() != "ok" {
		t.Errorf("health: %s %s", a.Fleet.Health(), b.Fleet.Health())
	}
}

// TestRedisOutage: Redis goes away mid-run behind a proxy. Verifies still
// answer, Health and /healthz say degraded (still 200), one warning is
// logged for the outage; after the restore the client comes back and
// writes to the shared cache again.
func TestRedisOutage(t *testing.T) {
	url := redisURL(t)
	prefix := testPrefix(t, url)
	opt, _ := redis.ParseURL(url)
	p := newProxy(t, opt.Addr)
	proxied := strings.Replace(url, opt.Addr, p.Addr(), 1)
	w := testworld.New(t)
	var logs testworld.SyncBuffer
	a := newApp(t, w, &logs, map[string]string{"PREFLIGHT_CACHE_URL": proxied, "PREFLIGHT_CACHE_PREFIX": prefix})
	e := handlers.New(handlers.Config{DefaultTimeout: 5 * time.Second, MaxTimeout: 10 * time.Second, BatchMax: 10, MaxBodyBytes: 4096},
		handlers.Deps{Verifier: a.Verifier, Redis: a.Fleet})
	healthz := func() string {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("healthz: %d %s", rec.Code, rec.Body.String())
		}
		return rec.Body.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(email string, want outcome.Verdict) {
		t.Helper()
		start := time.Now()
		r := a.Verifier.Verify(ctx, email)
		if r.Verdict != want {
			t.Fatalf("%s: %+v, want %s", email, r, want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s took %s", email, d)
		}
	}

	check("user1@d1.test", outcome.Deliverable)
	if h := healthz(); !strings.Contains(h, `"redis":"ok"`) {
		t.Fatalf("healthz before the cut: %s", h)
	}

	p.Cut()
	check("user2@d2.test", outcome.Deliverable)
	check("user7@d3.test", outcome.Undeliverable)
	check("user3@d2.test", outcome.Deliverable)
	check("user1@d1.test", outcome.Deliverable) // the local cache still answers
	if got := a.Fleet.Health(); got != "degraded" {
		t.Fatalf("Health while cut = %q", got)
	}
	if h := healthz(); !strings.Contains(h, `"redis":"degraded"`) {
		t.Fatalf("healthz while cut: %s", h)
	}
	if n := strings.Count(logs.String(), "redis unreachable"); n != 1 {
		t.Fatalf("%d outage warnings, want 1:\n%s", n, logs.String())
	}

	p.Restore()
	deadline := time.Now().Add(5 * time.Second)
	for a.Fleet.Health() != "ok" {
		if time.Now().After(deadline) {
			t.Fatalf("still %s 5s after the restore:\n%s", a.Fleet.Health(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h := healthz(); !strings.Contains(h, `"redis":"ok"`) {
		t.Fatalf("healthz after the restore: %s", h)
	}
	check("user4@d4.test", outcome.Deliverable)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if n, err := rdb.Exists(ctx, prefix+"result:user4@d4.test").Result(); err != nil || n != 1 {
		t.Fatalf("after the restore the result was not shared: %d, %v", n, err)
	}
	out := logs.String()
	if strings.Count(out, "redis unreachable") != 1 || strings.Count(out, "redis is back") != 1 {
		t.Fatalf("want one warning and one recovery record:\n%s", out)
	}
}

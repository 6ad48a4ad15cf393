package keys

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// open returns the keys of db; the tests run once per engine
// (storetest.Run).
func open(t *testing.T, db *store.DB) *Store {
	t.Helper()
	s, err := New(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateAuthenticateRevoke(t *testing.T) { storetest.Run(t, testCreateAuthenticateRevoke) }

func testCreateAuthenticateRevoke(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := open(t, db)
	k, tok, err := s.Create(ctx, Spec{Name: "shop", Kind: Secret})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "sk_"+k.ID+"_") {
		t.Fatalf("token %q does not name key %s", tok, k.ID)
	}
	got, err := s.Authenticate(ctx, tok)
	if err != nil || got.ID != k.ID || got.Name != "shop" {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	// The same id with another secret, another kind, a test prefix, junk.
	other := tok[:len(tok)-4] + "AAAA"
	for _, bad := range []string{"", "sk_", "Bearer " + tok, other, "pk_" + tok[3:], "sk_test_" + tok[3:], tok + "x", "sk_zzzzzzzzzzzz_" + tok[16:]} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnauthorized", bad, err)
		}
	}
	if err := s.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := s.Revoke(ctx, "000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Revoke(unknown) = %v", err)
	}
	ks, err := s.List(ctx)
	if err != nil || len(ks) != 1 || ks[0].Active() {
		t.Fatalf("List = %+v, %v", ks, err)
	}
}

// A second Store on the same database (serve and the keys command) sees a
// revocation within CacheTTL.
func TestRevokeFromAnotherProcess(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(string(e), func(t *testing.T) { testRevokeFromAnotherProcess(t, storetest.URL(t, e)) })
	}
}

func testRevokeFromAnotherProcess(t *testing.T, url string) {
	ctx := context.Background()
	openAt := func() *Store {
		db, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := New(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	serve, cli := openAt(), openAt()
	now := time.Now()
	serve.now = func() time.Time { return now }
	k, tok, err := cli.Create(ctx, Spec{Name: "a", Kind: Secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serve.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(CacheTTL)
	if _, err := serve.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("after CacheTTL: %v", err)
	}
}

func TestSpecs(t *testing.T) { storetest.Run(t, testSpecs) }

func testSpecs(t *testing.T, db *store.DB) {
	s := open(t, db)
	for _, sp := range []Spec{
		{Kind: Secret},
		{Name: "x", Kind: "admin"},
		{Name: "x", Kind: Publishable},
		{Name: "x", Kind: Publishable, Origins: []string{"shop.example.com"}},
		{Name: "x", Kind: Publishable, Origins: []string{"https://shop.example.com/"}},
		{Name: "x", Kind: Publishable, Origins: []string{"https://shop.example.com/signup"}},
		{Name: "x", Kind: Secret, Origins: []string{"https://shop.example.com"}},
		{Name: "x", Kind: Secret, DailyQuota: -1},
	} {
		if _, _, err := s.Create(context.Background(), sp); !errors.Is(err, ErrSpec) {
			t.Errorf("Create(%+v) = %v, want ErrSpec", sp, err)
		}
	}
	k, tok, err := s.Create(context.Background(), Spec{Name: "w", Kind: Publishable, Test: true, Origins: []string{"https://shop.example.com", "http://localhost:3000"}})
	if err != nil || !strings.HasPrefix(tok, "pk_test_") {
		t.Fatalf("Create publishable: %q %v", tok, err)
	}
	if !k.AllowsOrigin("http://localhost:3000") || k.AllowsOrigin("https://evil.example") {
		t.Fatal("AllowsOrigin")
	}
	if !s.OriginAllowed(context.Background(), "https://shop.example.com") || s.OriginAllowed(context.Background(), "https://evil.example") {
		t.Fatal("OriginAllowed")
	}
}

func TestQuotaAndUsage(t *testing.T) { storetest.Run(t, testQuotaAndUsage) }

func testQuotaAndUsage(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := open(t, db)
	now := time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	k, _, err := s.Create(ctx, Spec{Name: "q", Kind: Secret, DailyQuota: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if ok, _, err := s.Take(ctx, k); !ok || err != nil {
			t.Fatalf("call %d refused: %v", i, err)
		}
		s.Count(k.ID, "deliverable")
	}
	ok, wait, err := s.Take(ctx, k)
	if ok || err != nil || wait != time.Minute {
		t.Fatalf("third call: ok=%v wait=%v err=%v, want refused for a minute", ok, wait, err)
	}
	days, err := s.Usage(ctx, k.ID, 7)
	if err != nil || len(days) != 1 || days[0].Calls != 2 || days[0].Verdicts["deliverable"] != 2 || days[0].Date != "2026-03-01" {
		t.Fatalf("Usage = %+v, %v", days, err)
	}
	now = now.Add(time.Minute) // a new UTC day
	if ok, _, _ := s.Take(ctx, k); !ok {
		t.Fatal("quota did not start again on a new day")
	}
	// A fresh Store (a restart) reads today's calls back.
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := &Store{st: s.st, log: s.log, now: s.now, cache: map[string]cached{}}
	s2.usage.init()
	s2.Take(ctx, k)
	if ok, _, _ := s2.Take(ctx, k); ok {
		t.Fatal("a restart forgot today's calls")
	}
}

// TestQuotaAcrossInstances: two instances on one store share a key's daily
// quota once their counts are flushed (every FlushEvery in serve).
func TestQuotaAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e store.Dialect) {
		ctx := context.Background()
		url := storetest.URL(t, e)
		openAt := func() *Store {
			db, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return open(t, db)
		}
		a, b := openAt(), openAt()
		k, _, err := a.Create(ctx, Spec{Name: "q", Kind: Secret, DailyQuota: 10})
		if err != nil {
			t.Fatal(err)
		}
		take := func(s *Store, n int) int {
			t.Helper()
			got := 0
			for range n {
				ok, _, err := s.Take(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got++
				}
			}
			return got
		}
		// Both learn today's total (0) before either has flushed.
		if take(a, 6) != 6 || take(b, 3) != 3 {
			t.Fatal("calls under the quota refused")
		}
		for _, s := range []*Store{a, b, a} {
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := take(a, 5); n != 1 {
			t.Errorf("a allowed %d more calls after 9 of 10 fleet-wide, want 1", n)
		}
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := take(b, 5); n != 0 {
			t.Errorf("b allowed %d calls over a quota used up by the fleet", n)
		}
	})
}

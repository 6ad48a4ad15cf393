package handlers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/keys"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/syntax"
	"github.com/preflight-email/preflight/verify"
)

// BenchmarkLoadCachedVerify measures the real-time API over loopback HTTP
// with keep-alive clients, for an address whose answer is cached: what is
// left is Preflight's own cost, so the price of keys shows. "open" runs
// without keys, "key" with a secret key (digest, constant-time compare,
// limiter, quota count, usage count). The README's target: key within 15%
// of open.
//
//	go test ./handlers -run '^$' -bench LoadCachedVerify -cpu 2 -count 6
func BenchmarkLoadCachedVerify(b *testing.B) {
	for _, mode := range []string{"open", "key"} {
		b.Run(mode, func(b *testing.B) {
			url, key, _ := loadServer(b, mode == "key")
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			req := func() {
				r, _ := http.NewRequest(http.MethodGet, url+"/v1/verify?email=jane.doe%40mail.test", nil)
				if key != "" {
					r.Header.Set("Authorization", "Bearer "+key)
				}
				resp, err := client.Do(r)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			req() // fills the cache
			b.ReportAllocs()
			b.SetParallelism(8) // 16 connections on 2 cores, as the README's wrk run
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

func loadServer(b *testing.B, auth bool) (url, key string, e http.Handler) {
	b.Helper()
	dns := dnstest.NewServer(b, zone)
	lists, err := disposable.New()
	if err != nil {
		b.Fatal(err)
	}
	res, err := mx.New(mx.Config{Resolvers: []string{dns.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		b.Fatal(err)
	}
	v := verify.New(verify.Config{ProbeEnabled: false, CacheTTL: time.Hour, UnknownTTL: time.Hour, CacheSize: 1000},
		verify.Deps{Lists: lists, Resolver: res, Suggester: syntax.DefaultSuggester()})
	b.Cleanup(func() { v.Close() })
	deps := Deps{Verifier: v, Registry: prometheus.NewRegistry()}
	cfg := Config{DefaultTimeout: 2 * time.Second, MaxTimeout: 5 * time.Second, BatchMax: 100, MaxBodyBytes: 1 << 20}
	if auth {
		ctx := context.Background()
		db, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "keys.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		ks, err := keys.New(ctx, db, nil)
		if err != nil {
			b.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); ks.Run(runCtx) }()
		b.Cleanup(func() { stop(); <-done })
		_, key, err = ks.Create(ctx, keys.Spec{Name: "load", Kind: keys.Secret})
		if err != nil {
			b.Fatal(err)
		}
		deps.Keys = ks
		cfg.Auth = AuthConfig{Required: true}
	}
	e = New(cfg, deps)
	srv := httptest.NewServer(e)
	b.Cleanup(srv.Close)
	return srv.URL, key, e
}

// BenchmarkAuthOverhead is the same request without the network: the
// handler chain alone, so the cost of checking a key stands out from the
// noise of a shared machine.
//
//	go test ./handlers -run '^$' -bench AuthOverhead -cpu 1 -count 6
func BenchmarkAuthOverhead(b *testing.B) {
	for _, mode := range []string{"open", "key"} {
		b.Run(mode, func(b *testing.B) {
			_, key, e := loadServer(b, mode == "key")
			r := httptest.NewRequest(http.MethodGet, "/v1/verify?email=jane.doe%40mail.test", nil)
			if key != "" {
				r.Header.Set("Authorization", "Bearer "+key)
			}
			e.ServeHTTP(httptest.NewRecorder(), r) // fills the cache
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w := httptest.NewRecorder()
				e.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

package fleet_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/internal/app"
	"github.com/preflight-email/preflight/internal/testworld"
)

// redisURL is the Redis of the tests, from PREFLIGHT_TEST_REDIS_URL
// (.ci/run sets it). Unset, the test skips; set but unreachable, it fails.
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PREFLIGHT_TEST_REDIS_URL")
	if u == "" {
		t.Skip("PREFLIGHT_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the Redis tests")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("PREFLIGHT_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PREFLIGHT_TEST_REDIS_URL=%s is set but Redis does not answer: %v", u, err)
	}
	return u
}

// testPrefix returns a key prefix of the test's own, and deletes every key
// under it (and the rate limiter's, under "rate:" before it) at cleanup.
func testPrefix(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "preflight-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opt, _ := redis.ParseURL(url)
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			iter := rdb.Scan(ctx, 0, pattern, 100).Iterator()
			var keys []string
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Errorf("scan %s: %v", pattern, err)
			}
			if len(keys) > 0 {
				if err := rdb.Del(ctx, keys...).Err(); err != nil {
					t.Errorf("del: %v", err)
				}
			}
		}
	})
	return prefix
}

// newApp builds one instance of the fleet on w, with env on top of w's.
func newApp(t testing.TB, w *testworld.World, logs io.Writer, env map[string]string) *app.App {
	t.Helper()
	all := w.Env()
	// A generous timeout: under -race on a busy machine a 100 ms one can
	// time out and make the client degraded, which these tests do not
	// mean to test (TestRedisOutage cuts the connection instead).
	all["PREFLIGHT_CACHE_TIMEOUT"] = "2s"
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(nil, func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	if logs == nil {
		logs = io.Discard
	}
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// sessions counts the SMTP sessions the world's fake MX hosts saw.
func sessions(w *testworld.World) int {
	n := 0
	for _, s := range w.Servers {
		n += s.Sessions()
	}
	return n
}

// proxy is a TCP proxy on loopback between the client and Redis that a
// test can cut (every connection closed, new ones closed at once) and
// restore.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	go p.serve()
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close(); c.Close() }()
		go func() { io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// Cut closes every connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

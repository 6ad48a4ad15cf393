package mx

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/preflight-email/preflight/internal/dnstest"
)

func TestCache(t *testing.T) {
	type step struct {
		advance     time.Duration // move the clock first
		domain      string
		setup       func(s *dnstest.Server)
		wantStatus  Status
		wantQueries int // new queries this step caused
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "hit",
			steps: []step{
				{domain: "ok.test", wantStatus: StatusOK, wantQueries: 5},
				{domain: "ok.test", wantStatus: StatusOK, wantQueries: 0},
				{domain: "OK.TEST.", wantStatus: StatusOK, wantQueries: 0},
			},
		},
		{
			name: "MX hosts are cached across domains",
			steps: []step{
				{domain: "ok.test", wantStatus: StatusOK, wantQueries: 5},
				{domain: "mixednull.test", wantStatus: StatusOK, wantQueries: 1}, // MX only: mx1.ok.test is known
			},
		},
		{
			// ok.test lives as long as its shortest TTL, mx2.ok.test's A (60s).
			// Then the MX and mx2's A and AAAA are asked again; mx1's
			// addresses (3600s) are still cached.
			name: "positive TTL",
			steps: []step{
				{domain: "ok.test", wantStatus: StatusOK, wantQueries: 5},
				{advance: 59 * time.Second, domain: "ok.test", wantStatus: StatusOK, wantQueries: 0},
				{advance: time.Second, domain: "ok.test", wantStatus: StatusOK, wantQueries: 3},
			},
		},
		{
			// The SOA of test. has TTL 3600 and MINIMUM 300: NXDOMAIN is
			// cached for 300s (RFC 2308 §5).
			name: "negative TTL",
			steps: []step{
				{domain: "nosuch.test", wantStatus: StatusNXDomain, wantQueries: 1},
				{advance: 299 * time.Second, domain: "nosuch.test", wantStatus: StatusNXDomain, wantQueries: 0},
				{advance: time.Second, domain: "nosuch.test", wantStatus: StatusNXDomain, wantQueries: 1},
			},
		},
		{
			// NODATA for MX (300s) and no A/AAAA either (300s).
			name: "NODATA",
			steps: []step{
				{domain: "nomail.test", wantStatus: StatusNoMailServer, wantQueries: 3},
				{advance: 299 * time.Second, domain: "nomail.test", wantStatus: StatusNoMailServer, wantQueries: 0},
				{advance: time.Second, domain: "nomail.test", wantStatus: StatusNoMailServer, wantQueries: 3},
			},
		},
		{
			name: "temporary failure is cached for 5s",
			steps: []step{
				{
					domain: "ok.test", wantStatus: StatusTempFail, wantQueries: 1,
					setup: func(s *dnstest.Server) { s.SetRcode("ok.test", dns.RcodeServerFailure) },
				},
				{
					domain: "ok.test", wantStatus: StatusTempFail, wantQueries: 0,
					setup: func(s *dnstest.Server) { s.SetRcode("ok.test", dns.RcodeSuccess) },
				},
				{advance: 4 * time.Second, domain: "ok.test", wantStatus: StatusTempFail, wantQueries: 0},
				{advance: time.Second, domain: "ok.test", wantStatus: StatusOK, wantQueries: 5},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dnstest.NewServer(t, zone(t))
			clk := newClock()
			r := newResolver(t, Config{Now: clk.Now}, s)
			for i, st := range tc.steps {
				clk.Advance(st.advance)
				if st.setup != nil {
					st.setup(s)
				}
				before := s.Queries()
				res := lookup(t, r, st.domain)
				if res.Status != st.wantStatus {
					t.Errorf("step %d: status %s, want %s (%s)", i, res.Status, st.wantStatus, res.Detail)
				}
				if got := s.Queries() - before; got != st.wantQueries {
					t.Errorf("step %d: %d new queries, want %d", i, got, st.wantQueries)
				}
			}
		})
	}
}

// TestNegativeSOATTL covers replies whose SOA TTL exceeds MINIMUM, which
// dnstest (like an RFC 2308 §3 server) never sends.
func TestNegativeSOATTL(t *testing.T) {
	tests := []struct {
		ns   string
		want uint32
	}{
		{"test. 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300", 300},
		{"test. 120 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300", 120},
		{"test. 3600 IN NS ns.test.", 0},
		{"", 0},
	}
	for _, tc := range tests {
		msg := new(dns.Msg)
		if tc.ns != "" {
			rr, err := dns.NewRR(tc.ns)
			if err != nil {
				t.Fatal(err)
			}
			msg.Ns = append(msg.Ns, rr)
		}
		if got := negativeSOATTL(msg); got != tc.want {
			t.Errorf("%q: %d, want %d", tc.ns, got, tc.want)
		}
	}
}

func TestCacheEviction(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newCache[int](3)
	for i := range 10 {
		c.put(fmt.Sprint(i), entry[int]{val: i, expires: base.Add(time.Duration(i) * time.Hour)})
		if c.len() > 3 {
			t.Fatalf("after %d puts the cache holds %d entries, want at most 3", i+1, c.len())
		}
	}
	// With fewer entries than the sample, the one expiring first always goes.
	for i := range 10 {
		_, _, ok := c.get(fmt.Sprint(i), base)
		if want := i >= 7; ok != want {
			t.Errorf("entry %d cached = %v, want %v", i, ok, want)
		}
	}
	// Overwriting a key does not evict.
	c.put("9", entry[int]{val: 99, expires: base.Add(time.Hour)})
	if v, _, ok := c.get("9", base); !ok || v != 99 || c.len() != 3 {
		t.Errorf("overwrite: got %d %v with %d entries", v, ok, c.len())
	}
	// An entry is no longer valid from its expiry on.
	if _, _, ok := c.get("9", base.Add(time.Hour)); ok {
		t.Error("entry valid at its expiry time")
	}
}

// TestCacheSizeBound runs real lookups through a resolver with a tiny cache.
func TestCacheSizeBound(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	r := newResolver(t, Config{CacheSize: 2}, s)
	for _, d := range []string{"ok.test", "multi.test", "implicit.test", "nosuch.test", "dupmx.test"} {
		lookup(t, r, d)
		if r.domains.len() > 2 || r.hosts.len() > 2 {
			t.Fatalf("after %s: %d domains and %d hosts cached, want at most 2 each", d, r.domains.len(), r.hosts.len())
		}
	}
}

// waitFor polls until cond holds; the test's deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentLookupsShareOneQuery(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	r := newResolver(t, Config{Timeout: 10 * time.Second}, s)
	release := s.Hold("ok.test")
	const n = 10
	results := make(chan Result, n)
	for range n {
		go func() {
			res, err := r.Lookup(context.Background(), "ok.test")
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	// All n callers wait on the one call, whose MX query is held.
	waitFor(t, "callers to join", func() bool { return r.domainCalls.waiting("ok.test") == n })
	release()
	for range n {
		if res := <-results; res.Status != StatusOK || len(res.Hosts) != 2 {
			t.Errorf("got %+v", res)
		}
	}
	if got := s.Queries(); got != 5 {
		t.Errorf("server got %d queries for %d concurrent lookups, want 5", got, n)
	}
}

func TestContext(t *testing.T) {
	t.Run("already canceled", func(t *testing.T) {
		s := dnstest.NewServer(t, zone(t))
		r := newResolver(t, Config{}, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.Lookup(ctx, "ok.test"); !errors.Is(err, context.Canceled) {
			t.Errorf("Lookup: err %v, want context.Canceled", err)
		}
		if _, err := r.LookupAddrs(ctx, "mx1.ok.test"); !errors.Is(err, context.Canceled) {
			t.Errorf("LookupAddrs: err %v, want context.Canceled", err)
		}
		if s.Queries() != 0 {
			t.Errorf("%d queries sent for a canceled context", s.Queries())
		}
	})

	t.Run("deadline while the resolver is silent", func(t *testing.T) {
		s := dnstest.NewServer(t, zone(t))
		s.SetDrop("ok.test", true)
		r := newResolver(t, Config{Timeout: 5 * time.Second}, s)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := r.Lookup(ctx, "ok.test"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("the last caller leaving cancels the lookup", func(t *testing.T) {
		s := dnstest.NewServer(t, zone(t))
		r := newResolver(t, Config{Timeout: 10 * time.Second}, s)
		release := s.Hold("ok.test")
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := r.Lookup(ctx, "ok.test")
			errc <- err
		}()
		waitFor(t, "the MX query", func() bool { return s.Queries() == 1 })
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		if n := r.domainCalls.waiting("ok.test"); n != 0 {
			t.Errorf("%d callers still registered", n)
		}
		release()
		// Nothing was cached from the abandoned lookup: a new one asks again.
		res := lookup(t, r, "ok.test")
		if res.Status != StatusOK {
			t.Errorf("after cancel: %+v", res)
		}
		if got := s.Queries(); got != 6 {
			t.Errorf("server got %d queries, want 1 abandoned + 5", got)
		}
	})

	t.Run("one caller leaving does not fail the others", func(t *testing.T) {
		s := dnstest.NewServer(t, zone(t))
		r := newResolver(t, Config{Timeout: 10 * time.Second}, s)
		release := s.Hold("ok.test")
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		resc := make(chan Result, 1)
		go func() {
			_, err := r.Lookup(ctx, "ok.test")
			errc <- err
		}()
		go func() {
			res, err := r.Lookup(context.Background(), "ok.test")
			if err != nil {
				t.Error(err)
			}
			resc <- res
		}()
		waitFor(t, "both callers", func() bool { return r.domainCalls.waiting("ok.test") == 2 })
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("canceled caller: err %v, want context.Canceled", err)
		}
		release()
		if res := <-resc; res.Status != StatusOK {
			t.Errorf("other caller: %+v", res)
		}
		if got := s.Queries(); got != 5 {
			t.Errorf("server got %d queries, want 5", got)
		}
	})
}

func TestLookupAddrs(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	s.SetRcode("broken.test", dns.RcodeServerFailure)
	r := newResolver(t, Config{}, s)
	tests := []struct {
		host    string
		want    []string
		wantErr error
	}{
		{host: "mx1.ok.test", want: []string{"192.0.2.1", "2001:db8::1"}},
		{host: "MX1.ok.test.", want: []string{"192.0.2.1", "2001:db8::1"}},
		{host: "alias.mxalias.test", want: []string{"192.0.2.1", "2001:db8::1"}},
		{host: "v6.sixonly.test", want: []string{"2001:db8::60"}},
		{host: "mx.noaddr.test"}, // exists, no address
		{host: "gone.noaddr.test"},
		{host: "broken.test", wantErr: ErrTempFail},
		{host: "", wantErr: ErrDomain},
		{host: "a..b", wantErr: ErrDomain},
		{host: strings.Repeat("x", 64) + ".test", wantErr: ErrDomain},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			addrs, err := r.LookupAddrs(context.Background(), tc.host)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			var got []string
			for _, a := range addrs {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("addrs %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLookupInvalidDomain(t *testing.T) {
	r := newResolver(t, Config{Resolvers: []string{deadAddr(t)}})
	for _, d := range []string{"", ".", "a..", "a..b", strings.Repeat("x", 64) + ".test"} {
		if _, err := r.Lookup(context.Background(), d); !errors.Is(err, ErrDomain) {
			t.Errorf("Lookup(%q): err %v, want ErrDomain", d, err)
		}
	}
}

// TestResultIsACopy checks that a caller changing its Result does not change
// what the next caller gets.
func TestResultIsACopy(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	r := newResolver(t, Config{}, s)
	first := lookup(t, r, "ok.test")
	first.Hosts[0].Name = "changed"
	first.Hosts[0].Addrs[0] = netip.MustParseAddr("203.0.113.1")
	first.Hosts[0].Addrs = append(first.Hosts[0].Addrs, netip.MustParseAddr("203.0.113.2"))
	second := lookup(t, r, "ok.test")
	if second.Hosts[0].Name != "mx1.ok.test" || second.Hosts[0].Addrs[0].String() != "192.0.2.1" ||
		second.Hosts[1].Addrs[0].String() != "192.0.2.2" {
		t.Errorf("cached result was changed through a returned one: %+v", second)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		wantErr     error
		wantServers []string
	}{
		{
			name:        "defaults",
			cfg:         Config{Resolvers: []string{"127.0.0.1:5353", "[::1]:53"}},
			wantServers: []string{"127.0.0.1:5353", "[::1]:53"},
		},
		{
			name:        "resolv.conf",
			cfg:         Config{ResolvConf: "testdata/resolv.conf"},
			wantServers: []string{"127.0.0.1:53", "[::1]:53"},
		},
		{name: "resolv.conf without nameserver", cfg: Config{ResolvConf: "testdata/resolv-empty.conf"}, wantErr: ErrConfig},
		{name: "missing resolv.conf", cfg: Config{ResolvConf: "testdata/nonexistent.conf"}, wantErr: fs.ErrNotExist},
		{name: "no port", cfg: Config{Resolvers: []string{"127.0.0.1"}}, wantErr: ErrConfig},
		{name: "host name", cfg: Config{Resolvers: []string{"localhost:53"}}, wantErr: ErrConfig},
		{name: "negative timeout", cfg: Config{Resolvers: []string{"127.0.0.1:53"}, Timeout: -1}, wantErr: ErrConfig},
		{name: "negative attempts", cfg: Config{Resolvers: []string{"127.0.0.1:53"}, Attempts: -1}, wantErr: ErrConfig},
		{name: "negative cache size", cfg: Config{Resolvers: []string{"127.0.0.1:53"}, CacheSize: -1}, wantErr: ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(r.servers, tc.wantServers) {
				t.Errorf("servers %q, want %q", r.servers, tc.wantServers)
			}
			if r.timeout != DefaultTimeout || r.attempts != DefaultAttempts || r.maxHosts != DefaultMaxHosts ||
				r.domains.max != DefaultCacheSize || r.hosts.max != DefaultCacheSize {
				t.Errorf("defaults not applied: timeout %v attempts %d maxHosts %d cache %d/%d",
					r.timeout, r.attempts, r.maxHosts, r.domains.max, r.hosts.max)
			}
		})
	}
}

// TestConcurrentUse runs lookups of many domains from many goroutines while
// the clock moves, for the race detector, and checks every answer against a
// sequential run.
func TestConcurrentUse(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	domains := []string{"ok.test", "multi.test", "implicit.test", "nomail.test", "nullmx.test",
		"nosuch.test", "cname.test", "mxalias.test", "partial.test", "dupmx.test"}
	want := map[string]Status{}
	seq := newResolver(t, Config{}, s)
	for _, d := range domains {
		want[d] = lookup(t, seq, d).Status
	}

	clk := newClock()
	r := newResolver(t, Config{Now: clk.Now, CacheSize: 4, Shuffle: shuffleHosts}, s)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				d := domains[(g+i)%len(domains)]
				res, err := r.Lookup(context.Background(), d)
				if err != nil || res.Status != want[d] {
					t.Errorf("%s: status %s, err %v, want %s", d, res.Status, err, want[d])
				}
				if _, err := r.LookupAddrs(context.Background(), "mx1.ok.test"); err != nil {
					t.Errorf("LookupAddrs: %v", err)
				}
				if g == 0 {
					clk.Advance(time.Minute)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkLookupCached(b *testing.B) {
	s := dnstest.NewServer(b, zone(b))
	r := newResolver(b, Config{Shuffle: shuffleHosts}, s)
	ctx := context.Background()
	lookup(b, r, "ok.test")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Lookup(ctx, "ok.test"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupCachedParallel(b *testing.B) {
	s := dnstest.NewServer(b, zone(b))
	r := newResolver(b, Config{Shuffle: shuffleHosts}, s)
	ctx := context.Background()
	lookup(b, r, "ok.test")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Lookup(ctx, "ok.test"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLookupUncached moves the clock past every TTL before each lookup,
// so each one sends its five queries to the loopback server.
func BenchmarkLookupUncached(b *testing.B) {
	s := dnstest.NewServer(b, zone(b))
	clk := newClock()
	r := newResolver(b, Config{Now: clk.Now, Shuffle: shuffleHosts}, s)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(48 * time.Hour)
		res, err := r.Lookup(ctx, "ok.test")
		if err != nil || res.Status != StatusOK {
			b.Fatal(res, err)
		}
	}
}

package mx

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/preflight-email/preflight/internal/dnstest"
)

var update = flag.Bool("update", false, "rewrite testdata/lookup.golden")

// zone returns the test zone text.
func zone(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/zone.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clock is an injectable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// noShuffle keeps hosts of equal preference in name order.
func noShuffle([]Host) {}

// newResolver returns a Resolver for cfg. When cfg.Resolvers is empty it
// uses the servers given: tests never read /etc/resolv.conf.
func newResolver(t testing.TB, cfg Config, servers ...*dnstest.Server) *Resolver {
	t.Helper()
	if len(cfg.Resolvers) == 0 {
		for _, s := range servers {
			cfg.Resolvers = append(cfg.Resolvers, s.Addr)
		}
	}
	if len(cfg.Resolvers) == 0 {
		t.Fatal("test resolver without servers would read /etc/resolv.conf")
	}
	if cfg.Shuffle == nil {
		cfg.Shuffle = noShuffle
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deadAddr returns a 127.0.0.1 UDP address where nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func lookup(t testing.TB, r *Resolver, domain string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := r.Lookup(ctx, domain)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", domain, err)
	}
	return res
}

// render writes a Result in the golden-file format, with the resolver's
// address replaced by RESOLVER so the file does not depend on the port.
func render(res Result, ttl time.Duration, resolver string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status: %s\n", res.Status)
	for _, h := range res.Hosts {
		fmt.Fprintf(&b, "host: %d %s", h.Pref, h.Name)
		for _, a := range h.Addrs {
			fmt.Fprintf(&b, " %s", a)
		}
		b.WriteString("\n")
	}
	if res.Detail != "" {
		fmt.Fprintf(&b, "detail: %s\n", strings.ReplaceAll(res.Detail, resolver, "RESOLVER"))
	}
	fmt.Fprintf(&b, "cached for: %s\n", ttl)
	return b.String()
}

// TestLookupGolden looks up every domain of testdata/domains.txt in the zone
// of testdata/zone.txt and compares status, hosts, detail and cache lifetime
// with testdata/lookup.golden.
func TestLookupGolden(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	f, err := os.Open("testdata/domains.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var domains []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			domains = append(domains, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	var got strings.Builder
	for _, d := range domains {
		// A resolver per domain, so each answer and its TTL come from the
		// network rather than from an earlier domain's cached hosts.
		clk := newClock()
		r := newResolver(t, Config{Now: clk.Now}, s)
		res := lookup(t, r, d)
		name, err := normalize(d)
		if err != nil {
			t.Fatal(err)
		}
		_, expires, ok := r.domains.get(name, clk.Now())
		if !ok {
			t.Errorf("%s: answer not cached", d)
		}
		fmt.Fprintf(&got, "== %s\n%s\n", d, render(res, expires.Sub(clk.Now()), s.Addr))
	}

	const golden = "testdata/lookup.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got.String() != string(want) {
		t.Errorf("results differ from %s (run with -update after checking):\n%s", golden, diff(string(want), got.String()))
	}
}

// diff lists the lines that differ, for a readable failure.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

func hostNames(hosts []Host) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, h.Name)
	}
	return out
}

func TestShuffleEqualPreference(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	abc := []string{"a.multi.test", "b.multi.test", "c.multi.test"}
	tests := []struct {
		name      string
		maxHosts  int
		wantHosts []string
		wantCalls [2][][]string // the runs passed to Shuffle by the first and the second (cached) Lookup
	}{
		{
			// Sorted: d(5) a b c(10) e(20). Each Lookup reverses the run of 10s.
			name:      "all hosts",
			wantHosts: []string{"d.multi.test", "c.multi.test", "b.multi.test", "a.multi.test", "e.multi.test"},
			wantCalls: [2][][]string{{abc}, {abc}},
		},
		{
			// The cut after two hosts falls inside the run of 10s: the run is
			// shuffled (reversed) before the cut, so c is kept. Each host of
			// the result is then alone at its preference.
			name:      "cut inside a run",
			maxHosts:  2,
			wantHosts: []string{"d.multi.test", "c.multi.test"},
			wantCalls: [2][][]string{{abc}, nil},
		},
		{
			// The cut after four hosts ends the run of 10s: no shuffle before
			// it, the usual one after.
			name:      "cut at the end of a run",
			maxHosts:  4,
			wantHosts: []string{"d.multi.test", "c.multi.test", "b.multi.test", "a.multi.test"},
			wantCalls: [2][][]string{{abc}, {abc}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var calls [][]string
			reverse := func(h []Host) {
				mu.Lock()
				calls = append(calls, hostNames(h))
				mu.Unlock()
				slices.Reverse(h)
			}
			r := newResolver(t, Config{MaxHosts: tc.maxHosts, Shuffle: reverse}, s)
			// The second, cached, call must shuffle a fresh copy: if the
			// cache had been reversed in place it would come back sorted.
			for i := range 2 {
				mu.Lock()
				calls = nil
				mu.Unlock()
				res := lookup(t, r, "multi.test")
				if res.Status != StatusOK {
					t.Fatalf("call %d: status %s (%s)", i, res.Status, res.Detail)
				}
				if got := hostNames(res.Hosts); !slices.Equal(got, tc.wantHosts) {
					t.Errorf("call %d: hosts %q, want %q", i, got, tc.wantHosts)
				}
				mu.Lock()
				if !slices.EqualFunc(calls, tc.wantCalls[i], slices.Equal) {
					t.Errorf("call %d: Shuffle calls %q, want %q", i, calls, tc.wantCalls[i])
				}
				mu.Unlock()
			}
		})
	}
}

// TestDefaultShuffle checks that the default shuffle reorders the run of equal
// preference and nothing else. With three hosts, 200 lookups all in one order
// has probability (1/6)^199.
func TestDefaultShuffle(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	r, err := New(Config{Resolvers: []string{s.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	orders := map[string]int{}
	for range 200 {
		res := lookup(t, r, "multi.test")
		names := hostNames(res.Hosts)
		if len(names) != 5 || names[0] != "d.multi.test" || names[4] != "e.multi.test" {
			t.Fatalf("hosts %q: preference order broken", names)
		}
		run := slices.Clone(names[1:4])
		slices.Sort(run)
		if !slices.Equal(run, []string{"a.multi.test", "b.multi.test", "c.multi.test"}) {
			t.Fatalf("hosts %q: run of preference 10 wrong", names)
		}
		orders[strings.Join(names[1:4], ",")]++
	}
	if len(orders) < 2 {
		t.Errorf("200 lookups gave one order of equal-preference hosts: %v", orders)
	}
}

func TestTempFail(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(s *dnstest.Server)
		domain       string
		wantStatus   Status
		wantDetail   string // substring; RESOLVER stands for the server address
		wantHosts    []string
		wantQueries  int // queries the server received for this lookup
		timeoutShort bool
	}{
		{
			name:       "MX SERVFAIL is not retried",
			setup:      func(s *dnstest.Server) { s.SetRcode("ok.test", dns.RcodeServerFailure) },
			domain:     "ok.test",
			wantStatus: StatusTempFail, wantDetail: "MX ok.test: SERVFAIL from RESOLVER", wantQueries: 1,
		},
		{
			name:       "MX REFUSED",
			setup:      func(s *dnstest.Server) { s.SetRcode("ok.test", dns.RcodeRefused) },
			domain:     "ok.test",
			wantStatus: StatusTempFail, wantDetail: "MX ok.test: REFUSED from RESOLVER", wantQueries: 1,
		},
		{
			name:       "MX dropped: timeout, retried Attempts times",
			setup:      func(s *dnstest.Server) { s.SetDrop("ok.test", true) },
			domain:     "ok.test",
			wantStatus: StatusTempFail, wantDetail: "MX ok.test: timeout from RESOLVER", wantQueries: 2,
			timeoutShort: true,
		},
		{
			name: "every MX host SERVFAIL",
			setup: func(s *dnstest.Server) {
				s.SetRcode("mx1.ok.test", dns.RcodeServerFailure)
				s.SetRcode("mx2.ok.test", dns.RcodeServerFailure)
			},
			domain:     "ok.test",
			wantStatus: StatusTempFail, wantDetail: "A mx1.ok.test: SERVFAIL from RESOLVER", wantQueries: 5,
		},
		{
			name:       "one MX host SERVFAIL, the other is kept",
			setup:      func(s *dnstest.Server) { s.SetRcode("mx1.ok.test", dns.RcodeServerFailure) },
			domain:     "ok.test",
			wantStatus: StatusOK, wantHosts: []string{"mx2.ok.test"}, wantDetail: "A mx1.ok.test: SERVFAIL from RESOLVER", wantQueries: 5,
		},
		{
			name:       "one MX host without address, the other SERVFAIL",
			setup:      func(s *dnstest.Server) { s.SetRcode("mx.noaddr.test", dns.RcodeServerFailure) },
			domain:     "noaddr.test",
			wantStatus: StatusTempFail, wantDetail: "AAAA mx.noaddr.test: SERVFAIL from RESOLVER", wantQueries: 5,
		},
		{
			name:       "SERVFAIL at a CNAME target",
			setup:      func(s *dnstest.Server) { s.SetRcode("c1.other.test", dns.RcodeServerFailure) },
			domain:     "cname.test",
			wantStatus: StatusTempFail, wantDetail: "MX cname.test: at CNAME target c1.other.test: SERVFAIL from RESOLVER", wantQueries: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := dnstest.NewServer(t, zone(t))
			tc.setup(s)
			cfg := Config{Attempts: 2}
			if tc.timeoutShort {
				cfg.Timeout = 100 * time.Millisecond
			}
			r := newResolver(t, cfg, s)
			res := lookup(t, r, tc.domain)
			if res.Status != tc.wantStatus {
				t.Errorf("status %s, want %s (detail %q)", res.Status, tc.wantStatus, res.Detail)
			}
			if want := strings.ReplaceAll(tc.wantDetail, "RESOLVER", s.Addr); !strings.Contains(res.Detail, want) {
				t.Errorf("detail %q, want it to contain %q", res.Detail, want)
			}
			if got := hostNames(res.Hosts); !slices.Equal(got, tc.wantHosts) {
				t.Errorf("hosts %q, want %q", got, tc.wantHosts)
			}
			if got := s.Queries(); got != tc.wantQueries {
				t.Errorf("server got %d queries, want %d: %+v", got, tc.wantQueries, s.Log())
			}
		})
	}
}

func TestTruncatedRetriesOverTCP(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	s.SetTruncate("ok.test", true)
	s.SetTruncate("mx1.ok.test", true)
	r := newResolver(t, Config{}, s)
	res := lookup(t, r, "ok.test")
	if res.Status != StatusOK || len(res.Hosts) != 2 || len(res.Hosts[0].Addrs) != 2 {
		t.Fatalf("got %+v, want both hosts with mx1's two addresses", res)
	}
	var got []string
	for _, q := range s.Log() {
		if q.Name == "ok.test." || q.Name == "mx1.ok.test." {
			got = append(got, dns.TypeToString[q.Type]+" "+q.Name+" "+q.Net)
		}
	}
	slices.Sort(got) // the A and AAAA queries run concurrently
	want := []string{
		"A mx1.ok.test. tcp", "A mx1.ok.test. udp",
		"AAAA mx1.ok.test. tcp", "AAAA mx1.ok.test. udp",
		"MX ok.test. tcp", "MX ok.test. udp",
	}
	if !slices.Equal(got, want) {
		t.Errorf("queries %q, want %q", got, want)
	}
}

// TestQueryFlags checks that every query asks for recursion and offers a
// 1232-byte EDNS0 buffer over UDP.
func TestQueryFlags(t *testing.T) {
	s := dnstest.NewServer(t, zone(t))
	r := newResolver(t, Config{}, s)
	lookup(t, r, "ok.test")
	log := s.Log()
	if len(log) != 5 {
		t.Fatalf("got %d queries, want 5 (MX, and A and AAAA of two hosts): %+v", len(log), log)
	}
	for _, q := range log {
		if !q.RecursionDesired || q.UDPSize != 1232 || q.Net != "udp" {
			t.Errorf("query %+v: want RD, EDNS0 size 1232, over udp", q)
		}
	}
}

func TestFallbackToNextResolver(t *testing.T) {
	tests := []struct {
		name       string
		first      func(t testing.TB) string // the first resolver's address
		timeout    time.Duration
		wantDetail string // for the all-failed case
	}{
		{
			name:  "first resolver's port is closed",
			first: deadAddr,
		},
		{
			name: "first resolver answers SERVFAIL",
			first: func(t testing.TB) string {
				bad := dnstest.NewServer(t, zone(t))
				for _, n := range []string{"ok.test", "mx1.ok.test", "mx2.ok.test"} {
					bad.SetRcode(n, dns.RcodeServerFailure)
				}
				return bad.Addr
			},
		},
		{
			name: "first resolver never answers",
			first: func(t testing.TB) string {
				bad := dnstest.NewServer(t, zone(t))
				for _, n := range []string{"ok.test", "mx1.ok.test", "mx2.ok.test"} {
					bad.SetDrop(n, true)
				}
				return bad.Addr
			},
			timeout: 100 * time.Millisecond,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := dnstest.NewServer(t, zone(t))
			first := tc.first(t)
			r := newResolver(t, Config{Resolvers: []string{first, good.Addr}, Timeout: tc.timeout, Attempts: 1})
			res := lookup(t, r, "ok.test")
			if res.Status != StatusOK || len(res.Hosts) != 2 {
				t.Errorf("got %+v, want ok with two hosts", res)
			}
			if good.Queries() != 5 {
				t.Errorf("second resolver got %d queries, want 5", good.Queries())
			}
		})
	}

	t.Run("every resolver fails", func(t *testing.T) {
		dead := deadAddr(t)
		bad := dnstest.NewServer(t, zone(t))
		bad.SetRcode("ok.test", dns.RcodeServerFailure)
		r := newResolver(t, Config{Resolvers: []string{dead, bad.Addr}})
		res := lookup(t, r, "ok.test")
		want := fmt.Sprintf("MX ok.test: connection refused by %s; SERVFAIL from %s", dead, bad.Addr)
		if res.Status != StatusTempFail || res.Detail != want {
			t.Errorf("got %s %q, want temp_fail %q", res.Status, res.Detail, want)
		}
	})
}

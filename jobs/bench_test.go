package jobs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/egress"
	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"

	"github.com/preflight-email/preflight/store"
)

// benchList runs the 20,000-address list of the issue (200 domains on 20
// MX hosts, 127.0.0.2 to 127.0.0.21) through a job on the real pipeline,
// and reports addresses per second, SMTP sessions per address and the 421
// replies the fakes gave.
func benchList(b *testing.B, opt func(int) smtptest.Options, pc probe.Config, jc Config) {
	const n, hosts, domains = 20000, 20, 200
	csv, known := listCSV(domainNames(domains), n, 10)
	b.ReportAllocs()
	var secs, sessions, rejected, contradictions, canaries, backoffs float64
	for range b.N {
		b.StopTimer()
		w := newWorld(b, hosts, domains, func(h int) smtptest.Options {
			o := opt(h)
			o.Replies = known
			return o
		}, pc)
		db, _ := openDB(b, store.SQLite)
		m := newManager(b, db, jc, w.v)
		b.StartTimer()
		start := time.Now()
		st, err := m.Create(context.Background(), strings.NewReader(csv), CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s := waitStateFor(b, m, st.ID, Done, 10*time.Minute)
		secs += time.Since(start).Seconds()
		b.StopTimer()
		if s.Counts[outcome.Deliverable] != n-n/10 || s.Counts[outcome.Undeliverable] != n/10 {
			b.Fatalf("counts %v, reasons %v", s.Counts, s.Reasons)
		}
		sessions += float64(w.sessions())
		ps := w.probe.Stats()
		contradictions += float64(ps.Contradictions)
		canaries += float64(ps.Canaries)
		backoffs += float64(ps.Backoffs)
		for _, srv := range w.servers {
			rejected += float64(srv.Rejected())
		}
		m.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/secs, "addrs/s")
	b.ReportMetric(sessions/float64(n*b.N), "sessions/addr")
	b.ReportMetric(rejected/float64(b.N), "421s/op")
	b.ReportMetric(secs/float64(b.N), "s/list")
	b.ReportMetric(contradictions/float64(b.N), "contradictions/op")
	b.ReportMetric(canaries/float64(b.N), "canaries/op")
	b.ReportMetric(backoffs/float64(b.N), "backoffs/op")
}

// BenchmarkThroughput: limiters wide open.
func BenchmarkThroughput(b *testing.B) {
	benchList(b, func(int) smtptest.Options { return smtptest.Options{} },
		probe.Config{RatePerHost: 1e6, BurstPerHost: 1000, RcptRatePerHost: 1e6, RcptBurstPerHost: 1000, MaxSessionsPerHost: 4, MaxSessions: 200, BatchSize: 100}, Config{})
}

// BenchmarkPoliteness: every fake turns away a client that opens more
// than 5 sessions a second with a 421 banner; the probe runs on its
// production defaults (1 new session per second per host, bursts of 3, 2
// sessions per host, 20 RCPTs per transaction).
func BenchmarkPoliteness(b *testing.B) {
	benchList(b, func(int) smtptest.Options { return smtptest.Options{SessionsPerSecond: 5, SessionBurst: 5} },
		probe.Config{}, Config{})
}

func waitStateFor(t testing.TB, m *Manager, id string, want State, limit time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s, err := m.Status(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s (%d/%d)", s.Status, s.Processed, s.Total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// millionRows streams a CSV of n rows (a Mailchimp-like export; a tenth of
// the addresses repeat) without holding it in memory.
func millionRows(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		bw.WriteString("Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,TAGS\n")
		for i := range n {
			k := i
			if i%10 == 9 {
				k = i / 2
			}
			fmt.Fprintf(bw, "user%d@d%d.example,First%d,Last%d,%d,2024-03-01 10:%02d:00,\"tag%d,vip\"\n", k, k%5000, i, i, i%5, i%60, i%7)
		}
		bw.Flush()
		pw.Close()
	}()
	return pr
}

// peakRSS reads the process's high-water mark of resident memory (Linux).
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// BenchmarkMillionRows uploads, checks and exports a 1,000,000-row CSV
// and reports the time of each stage and the process's peak RSS. The
// checks go to the rule verifier: the point is the jobs layer's memory
// (the stream, the store, the export), not the network.
// JOBS_BENCH_ROWS sets another number of rows, and JOBS_BENCH_ENGINE=postgres
// runs it on PostgreSQL (storetest's PREFLIGHT_TEST_POSTGRES_URL).
func BenchmarkMillionRows(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("JOBS_BENCH_ROWS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	engine := store.SQLite
	if e := os.Getenv("JOBS_BENCH_ENGINE"); e != "" {
		engine = store.Dialect(e)
	}
	b.ReportAllocs()
	for range b.N {
		db, _ := openDB(b, engine)
		m := newManager(b, db, Config{}, newRuleVerifier())
		t0 := time.Now()
		st, err := m.Create(context.Background(), millionRows(n), CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		waitStateFor(b, m, st.ID, Done, 30*time.Minute)
		t2 := time.Now()
		cw := &countWriter{}
		if err := m.Export(context.Background(), st.ID, cw, ExportOptions{}); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if cw.lines != n+1 {
			b.Fatalf("%d lines exported", cw.lines)
		}
		b.ReportMetric(t1.Sub(t0).Seconds(), "upload-s")
		b.ReportMetric(t2.Sub(t1).Seconds(), "check-s")
		b.ReportMetric(t3.Sub(t2).Seconds(), "export-s")
		b.ReportMetric(float64(cw.n)/(1<<20), "export-MiB")
		m.Close()
	}
	rss, err := peakRSS()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
}

type countWriter struct {
	n     int64
	lines int
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	for _, b := range p {
		if b == '\n' {
			c.lines++
		}
	}
	return len(p), nil
}

// BenchmarkPolitenessEager is the same list with a probe configured too
// eagerly for these servers (8 sessions per host at once, no rate limit):
// the 421 banners it meets make it back off the host, and the addresses
// still rate-limited after its attempts are asked again by the job.
func BenchmarkPolitenessEager(b *testing.B) {
	benchList(b, func(int) smtptest.Options { return smtptest.Options{SessionsPerSecond: 5, SessionBurst: 5} },
		probe.Config{RatePerHost: 1e6, BurstPerHost: 1000, MaxSessionsPerHost: 8, MaxSessions: 200, BackoffMin: time.Second},
		Config{GreylistDelay: 2 * time.Second})
}

// BenchmarkHostsAtOnce: 3,000 addresses at 3 domains, each on its own MX
// host, with the probe on its production defaults (20 RCPTs a second per
// host). The hosts' limits allow the list in 3000/(3×20) = 50 s; a runner
// that worked one domain after the other would need 150 s.
//
//	go test ./jobs -run '^$' -bench HostsAtOnce -benchtime 1x
func BenchmarkHostsAtOnce(b *testing.B) {
	const n, hosts = 3000, 3
	for range b.N {
		b.StopTimer()
		w := newWorld(b, hosts, hosts, func(int) smtptest.Options { return smtptest.Options{Default: smtptest.Accept()} }, probe.Config{})
		var csv strings.Builder
		csv.WriteString("email\n")
		for i := range n {
			fmt.Fprintf(&csv, "user%d@%s\n", i, w.domains[i*hosts/n])
		}
		db, _ := openDB(b, store.SQLite)
		m := newManager(b, db, Config{}, w.v)
		b.StartTimer()
		start := time.Now()
		st, err := m.Create(context.Background(), strings.NewReader(csv.String()), CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		waitStateFor(b, m, st.ID, Done, 10*time.Minute)
		b.ReportMetric(time.Since(start).Seconds(), "s/list")
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
}

// BenchmarkPolitenessRoutes is BenchmarkPoliteness with three egress
// routes (127.0.0.70-72): each route has its own per-host limits, so when
// the receiving hosts' limits per client IP set the pace, three routes go
// about three times as fast.
//
//	go test ./jobs -run '^$' -bench 'PolitenessRoutes' -benchtime 1x
func BenchmarkPolitenessRoutes(b *testing.B) {
	var routes []egress.Route
	for _, s := range []string{"127.0.0.70", "127.0.0.71", "127.0.0.72"} {
		r, err := egress.Parse(s)
		if err != nil {
			b.Fatal(err)
		}
		routes = append(routes, r)
	}
	benchList(b, func(int) smtptest.Options { return smtptest.Options{SessionsPerSecond: 5, SessionBurst: 5} },
		probe.Config{Routes: routes}, Config{})
}

// BenchmarkRcptBound is the politeness list where the per-host RCPT rate
// (20 a second per client IP) is the only limit that binds (the refusal
// cap lifted), over one route and over three: the case egress routes are
// for.
//
//	go test ./jobs -run '^$' -bench 'RcptBound' -benchtime 1x
func BenchmarkRcptBound(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			var routes []egress.Route
			for i := range n {
				r, err := egress.Parse(fmt.Sprintf("127.0.0.%d", 70+i))
				if err != nil {
					b.Fatal(err)
				}
				routes = append(routes, r)
			}
			benchList(b, func(int) smtptest.Options { return smtptest.Options{SessionsPerSecond: 5, SessionBurst: 5} },
				probe.Config{Routes: routes, MaxRefusalsPerSession: 1000}, Config{})
		})
	}
}

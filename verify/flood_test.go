package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/probe"
)

// tarpitWorld is one domain whose MX accepts connections and never says a
// word, with the probe on its production defaults (a 30-second banner
// timeout): every check of it waits, which is what an attacker who wants
// to pile up work picks.
func tarpitWorld(tb testing.TB, maxBackground, maxQueue int) (*Verifier, *probe.Engine) {
	tb.Helper()
	dns := dnstest.NewServer(tb, `
$ORIGIN test.
$TTL 300
@          IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
tarpit     IN MX 10 mx.tarpit.test.
mx.tarpit  IN A  127.0.0.15
`)
	port, lns := smtptest.Listen(tb, "127.0.0.15")
	smtptest.ServeRaw(tb, lns[0], smtptest.RawOptions{Behavior: smtptest.Tarpit})
	lists, err := disposable.New()
	if err != nil {
		tb.Fatal(err)
	}
	res, err := mx.New(mx.Config{Resolvers: []string{dns.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := probe.DefaultConfig()
	cfg.Port, cfg.AllowPrivate = port, true
	cfg.HELO, cfg.MailFrom = "probe.preflight.test", "verify@preflight.test"
	cfg.MaxQueuePerHost = maxQueue
	eng, err := probe.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	v := New(Config{ProbeEnabled: true, ProbeTimeout: 90 * time.Second, CacheTTL: time.Hour, UnknownTTL: time.Minute,
		CacheSize: 1000, MaxBackground: maxBackground}, Deps{Lists: lists, Resolver: res, Prober: eng})
	tb.Cleanup(func() {
		v.Close()
		eng.Close()
	})
	return v, eng
}

// flood has clients callers each verify calls random addresses at the
// tarpit with a 5 ms budget, and returns the latencies.
func flood(v *Verifier, clients, calls int) []time.Duration {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range clients {
		wg.Go(func() {
			for range calls {
				n := next.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
				start := time.Now()
				v.Verify(ctx, fmt.Sprintf("user%d@tarpit.test", n))
				d := time.Since(start)
				cancel()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat
}

// TestFloodStaysBounded: many short-budget calls at a tarpit leave at most
// verify.max_background_probes probes behind, the tarpit's queue holds at
// most probe.max_queue_per_host recipients, and the goroutines stay within
// a bound instead of growing with the number of calls.
func TestFloodStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a fake tarpit")
	}
	const maxBackground, maxQueue = 50, 40
	v, eng := tarpitWorld(t, maxBackground, maxQueue)
	before := runtime.NumGoroutine()
	lat := flood(v, 32, 40) // 1,280 calls
	if n := v.Background(); n > maxBackground {
		t.Errorf("%d probes in the background, cap %d", n, maxBackground)
	}
	st := eng.Stats()
	if st.Queued > maxQueue {
		t.Errorf("%d recipients queued at the tarpit, cap %d", st.Queued, maxQueue)
	}
	// Each background probe is a goroutine and a queued recipient; the
	// sessions stuck at the tarpit are bounded by the probe's caps.
	if g := runtime.NumGoroutine() - before; g > maxBackground+2*maxQueue+50 {
		t.Errorf("%d goroutines more than before the flood of %d calls", g, len(lat))
	}
	slices.Sort(lat)
	t.Logf("%d calls, p50 %s, p99 %s, background %d, queued %d, saturated %d, goroutines +%d",
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100], v.Background(), st.Queued, st.Saturated, runtime.NumGoroutine()-before)
}

// peakRSS is this process's peak resident set (VmHWM): run one
// sub-benchmark per process to read it.
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

// BenchmarkFlood: 64 callers with a 5 ms budget calling random addresses
// at a tarpit, with the caps on (defaults) and off (as before them).
// Reports the p99 latency, and the goroutines and heap left behind.
//
//	go test ./verify -run '^$' -bench 'Flood/caps=default' -benchtime 100000x
//	go test ./verify -run '^$' -bench 'Flood/caps=off' -benchtime 100000x
func BenchmarkFlood(b *testing.B) {
	for _, caps := range []struct {
		name              string
		background, queue int
	}{{"caps=default", DefaultMaxBackground, probe.DefaultMaxQueuePerHost}, {"caps=off", 1 << 30, 1 << 30}} {
		b.Run(caps.name, func(b *testing.B) {
			v, eng := tarpitWorld(b, caps.background, caps.queue)
			runtime.GC()
			var m0 runtime.MemStats
			runtime.ReadMemStats(&m0)
			g0 := runtime.NumGoroutine()
			b.ResetTimer()
			lat := flood(v, 64, max(b.N/64, 1))
			b.StopTimer()
			runtime.GC()
			var m1 runtime.MemStats
			runtime.ReadMemStats(&m1)
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(runtime.NumGoroutine()-g0), "goroutines-left")
			b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/(1<<20), "heap-MiB-left")
			b.ReportMetric(float64(eng.Stats().Queued), "queued")
			if rss, err := peakRSS(); err == nil {
				b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
			}
		})
	}
}

package probe_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

// BenchmarkCheck probes many recipients, at 60 domains spread over three
// fake MX hosts, from 64 concurrent callers, as a bulk job would. It
// reports recipients per second and how many sessions and RCPTs each
// recipient cost.
func BenchmarkCheck(b *testing.B) {
	ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	port, lns := smtptest.Listen(b, ips...)
	// Real addresses start with "user-"; the random local part of the
	// catch-all test never has a "-", so every domain tests as not
	// catch-all.
	rcpt := func(to string) (smtptest.Reply, bool) {
		if strings.HasPrefix(to, "user-") {
			return smtptest.Accept(), true
		}
		return smtptest.UserUnknown(), true
	}
	var servers []*smtptest.Server
	for _, ln := range lns {
		servers = append(servers, smtptest.Serve(b, ln, smtptest.Options{Rcpt: rcpt}))
	}
	cfg := testConfig(port)
	cfg.RatePerHost = 1000
	cfg.BurstPerHost = 100
	cfg.RcptRatePerHost = 1e6 // measure the engine, not the limiter
	cfg.RcptBurstPerHost = 1000
	cfg.MaxSessionsPerHost = 4
	cfg.IdleTimeout = time.Second
	cfg.CommandTimeout = 10 * time.Second
	e := newEngine(b, cfg)
	targets := make([][]probe.Target, len(ips))
	for i, ip := range ips {
		targets[i] = []probe.Target{target(fmt.Sprintf("mx%d.bench.test", i), ip)}
	}

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				d := i % 60
				req := probe.Request{Address: fmt.Sprintf("user-%d@d%d.test", i, d), Targets: targets[d%3]}
				res, err := e.Check(context.Background(), req)
				if err != nil || res.Reason != outcome.Accepted || res.CatchAll != probe.CatchAllNo {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d checks failed", failed.Load(), b.N)
	}
	sessions, rcpts := 0, 0
	for _, s := range servers {
		sessions += s.Sessions()
		rcpts += s.Rcpts()
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "recipients/s")
	b.ReportMetric(float64(sessions)/float64(b.N), "sessions/recipient")
	b.ReportMetric(float64(rcpts)/float64(b.N), "rcpts/recipient")
}

package probe_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
)

// benchRTT is the simulated round trip to the fake provider: about what a
// big provider's MX costs from a nearby data centre.
const benchRTT = 40 * time.Millisecond

// BenchmarkRoundTrips measures what one real-time check costs in round
// trips, against a fake provider with a simulated 40 ms RTT, STARTTLS and
// PIPELINING, one address at a time as signups arrive:
//
//   - warm: calls 0.3 s apart, the domain's catch-all status known;
//   - sparse: calls 8 s apart (longer than IdleTimeout, within KeepWarm);
//   - cold: the first call of a fresh engine, to an unknown domain.
//
// It reports the median (p50-rtt) and the slowest (max-rtt) call in round
// trips. Run it with
//
//	go test ./probe -run '^$' -bench RoundTrips -benchtime 8x
func BenchmarkRoundTrips(b *testing.B) {
	for _, bc := range []struct {
		name string
		gap  time.Duration // between calls; 0: every call is cold
	}{
		{"warm", 300 * time.Millisecond},
		{"sparse", 8 * time.Second},
		{"cold", 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			port, lns := smtptest.Listen(b, "127.0.0.2")
			smtptest.Serve(b, lns[0], smtptest.Options{
				TLS: true,
				RTT: benchRTT,
				Rcpt: func(to string) (smtptest.Reply, bool) {
					if strings.HasPrefix(to, "user-") {
						return smtptest.Accept(), true
					}
					return smtptest.UserUnknown(), true
				},
			})
			cfg := testConfig(port)
			// The real-time defaults: idle time, timeouts and limits as
			// in production, so the figures are today's.
			def := probe.DefaultConfig()
			cfg.IdleTimeout, cfg.KeepWarm, cfg.MaxWarm = def.IdleTimeout, def.KeepWarm, def.MaxWarm
			cfg.BannerTimeout, cfg.CommandTimeout = 5*time.Second, 5*time.Second
			tgt := []probe.Target{target("mx.provider.test", "127.0.0.2")}
			var e *probe.Engine
			call := func(i int, domain string) time.Duration {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				start := time.Now()
				res, err := e.Check(ctx, probe.Request{Address: fmt.Sprintf("user-%d@%s", i, domain), Targets: tgt})
				took := time.Since(start)
				if err != nil || res.Reason != outcome.Accepted || res.CatchAll != probe.CatchAllNo {
					b.Fatalf("call %d: %+v, %v", i, res, err)
				}
				return took
			}
			if bc.gap > 0 {
				e = newEngine(b, cfg)
				call(-1, "provider.test") // the provider is known
				time.Sleep(bc.gap)
			}
			var took []time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if bc.gap == 0 {
					b.StopTimer()
					e = newEngine(b, cfg)
					b.StartTimer()
					took = append(took, call(i, fmt.Sprintf("d%d.test", i)))
					b.StopTimer()
					e.Close()
					b.StartTimer()
					continue
				}
				took = append(took, call(i, "provider.test"))
				if i+1 < b.N {
					b.StopTimer()
					time.Sleep(bc.gap)
					b.StartTimer()
				}
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2])/float64(benchRTT), "p50-rtt")
			b.ReportMetric(float64(took[len(took)-1])/float64(benchRTT), "max-rtt")
		})
	}
}

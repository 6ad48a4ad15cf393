package fleet_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/testworld"
)

// TestFleetRcptLimit: two instances check many addresses at one fake MX
// host whose provider has a fleet-wide limit of 10 RCPTs a second. Each
// instance's own per-IP limit (20 a second, bursts of 5) would let the two
// together send 40 a second; the RCPTs the host sees stay within the fleet
// limit and its one-second burst.
func TestFleetRcptLimit(t *testing.T) {
	url := redisURL(t)
	prefix := testPrefix(t, url)
	w := testworld.New(t)
	const rate, burst = 10, 10 // burst: a second's worth (fleet.AllowRcpt)
	env := map[string]string{
		"PREFLIGHT_CACHE_URL":                 url,
		"PREFLIGHT_CACHE_PREFIX":              prefix,
		"PREFLIGHT_CACHE_PROVIDER_RCPT_RATES": fmt.Sprintf("mx0.test=%d", rate),
		"PREFLIGHT_PROBE_RCPT_RATE_PER_HOST":  "20",
		"PREFLIGHT_PROBE_RCPT_BURST_PER_HOST": "5",
	}
	a, b := newApp(t, w, nil, env), newApp(t, w, nil, env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mx0 := w.Servers[0] // d0, d4, … d36 have their MX at mx0.test
	before := mx0.Rcpts()

	const perInstance = 20
	var wg sync.WaitGroup
	for i := range perInstance {
		for n, inst := range []*struct{ name string }{{"a"}, {"b"}} {
			v := a.Verifier
			if n == 1 {
				v = b.Verifier
			}
			email := fmt.Sprintf("user%d@d%d.test", 1000*(n+1)+i, 4*(i%10))
			wg.Go(func() {
				if r := v.Verify(ctx, email); r.SMTP == nil {
					t.Errorf("%s %s: no SMTP answer: %+v", inst.name, email, r)
				}
			})
		}
	}
	wg.Wait()

	if oa, ob := a.Fleet.Stats().Outages, b.Fleet.Stats().Outages; oa+ob != 0 {
		t.Fatalf("Redis was unreachable during the test (outages %d, %d): the local limits applied", oa, ob)
	}
	times := mx0.RcptTimes()[before:]
	if len(times) < 2*perInstance {
		t.Fatalf("mx0 saw %d RCPTs, want at least %d", len(times), 2*perInstance)
	}
	// No second holds more than the rate and the burst (plus two for the
	// edges of the window and the time from Redis' clock to the fake's).
	peak := 0
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			n++
		}
		peak = max(peak, n)
	}
	span := times[len(times)-1].Sub(times[0])
	t.Logf("%d RCPTs in %s, peak %d in one second; fleet waits a=%d b=%d",
		len(times), span, peak, a.Fleet.Stats().RcptWaits, b.Fleet.Stats().RcptWaits)
	if peak > rate+burst+2 {
		t.Errorf("peak %d RCPTs in one second, fleet limit %d/s with burst %d", peak, rate, burst)
	}
	// Over the whole run, the rate holds: the local limits alone would
	// have sent everything in about a second.
	if allowed := burst + rate*span.Seconds() + 1; float64(len(times)) > allowed {
		t.Errorf("%d RCPTs in %s, the fleet limit allows %.0f", len(times), span, allowed)
	}
	if min := time.Duration(float64(len(times)-burst-1) / rate * float64(time.Second)); span < min*9/10 {
		t.Errorf("%d RCPTs in %s: faster than %d/s", len(times), span, rate)
	}
}

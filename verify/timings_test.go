package verify

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/syntax"
)

type slowResolver struct{ d time.Duration }

func (r slowResolver) Lookup(ctx context.Context, domain string) (mx.Result, error) {
	time.Sleep(r.d)
	return mx.Result{Status: mx.StatusOK, Hosts: []mx.Host{{Name: "mx." + domain, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}}, nil
}

type timedProber struct{ t probe.Timings }

func (p timedProber) Check(ctx context.Context, req probe.Request) (probe.Result, error) {
	return probe.Result{Reason: outcome.Accepted, CatchAll: probe.CatchAllNo, Host: req.Targets[0].Host, Code: 250, Timings: p.t}, nil
}

// TestTimings checks timings_ms: the DNS stage measured, the probe's steps
// passed on, OnTimings told once, and a cached answer without any.
func TestTimings(t *testing.T) {
	lists, err := disposable.New()
	if err != nil {
		t.Fatal(err)
	}
	var seen []Timings
	pt := probe.Timings{Connect: 41 * time.Millisecond, TLS: 83 * time.Millisecond, SMTP: 265 * time.Millisecond}
	v := New(Config{ProbeEnabled: true, ProbeTimeout: 10 * time.Second, CacheTTL: time.Hour, UnknownTTL: time.Minute, CacheSize: 100},
		Deps{Lists: lists, Resolver: slowResolver{5 * time.Millisecond}, Prober: timedProber{pt}, Suggester: syntax.DefaultSuggester(),
			OnTimings: func(t Timings) { seen = append(seen, t) }})
	defer v.Close()
	r := v.Verify(context.Background(), "jane@example.com")
	if r.Reason != outcome.Accepted {
		t.Fatalf("result %+v", r)
	}
	if r.Timings.DNS < 5 || r.Timings.Connect != 41 || r.Timings.TLS != 83 || r.Timings.SMTP != 265 {
		t.Errorf("timings %+v", r.Timings)
	}
	if len(seen) != 1 || seen[0] != r.Timings {
		t.Errorf("OnTimings got %+v", seen)
	}
	if r := v.Verify(context.Background(), "jane@example.com"); r.Timings != (Timings{}) || len(seen) != 1 {
		t.Errorf("cached answer: timings %+v, OnTimings %d times", r.Timings, len(seen))
	}
}

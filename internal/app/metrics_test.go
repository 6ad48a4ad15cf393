package app

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/verify"
)

// TestTimingsHistograms checks preflight_check_step_seconds: one sample
// per step an answer went through, none for the connection of a session
// that was already open.
func TestTimingsHistograms(t *testing.T) {
	a := &App{timings: newTimings()}
	reg := prometheus.NewRegistry()
	a.RegisterMetrics(reg)
	a.observeTimings(verify.Timings{DNS: 12, Connect: 41, TLS: 83, SMTP: 265}) // a new session
	a.observeTimings(verify.Timings{DNS: 3, SMTP: 40})                         // a warm one
	a.observeTimings(verify.Timings{DNS: 5})                                   // no probe
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	sums := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "preflight_check_step_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			step := m.GetLabel()[0].GetValue()
			got[step] = m.GetHistogram().GetSampleCount()
			sums[step] = m.GetHistogram().GetSampleSum()
		}
	}
	want := map[string]uint64{"dns": 3, "connect": 1, "tls": 1, "smtp": 2}
	for step, n := range want {
		if got[step] != n {
			t.Errorf("%s: %d samples, want %d", step, got[step], n)
		}
	}
	if s := sums["smtp"]; s < 0.304 || s > 0.306 {
		t.Errorf("smtp sum %v s, want 0.305", s)
	}
}

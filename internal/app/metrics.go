package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/probe"
)

// RegisterMetrics exposes the probe's counters: how polite we are
// (sessions, RCPTs, 421 replies, back-offs) is what operators watch.
func (a *App) RegisterMetrics(reg prometheus.Registerer) {
	p := a.Prober
	if p == nil {
		return
	}
	counter := func(name, help string, get func(probe.Stats) uint64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "preflight_probe_" + name, Help: help},
			func() float64 { return float64(get(p.Stats())) }))
	}
	counter("checks_total", "Recipients checked over SMTP.", func(s probe.Stats) uint64 { return s.Checks })
	counter("sessions_total", "SMTP sessions opened.", func(s probe.Stats) uint64 { return s.Sessions })
	counter("connect_failures_total", "Failed attempts to open a session.", func(s probe.Stats) uint64 { return s.ConnectFailures })
	counter("rcpts_total", "RCPT TO commands sent, catch-all tests included.", func(s probe.Stats) uint64 { return s.Rcpts })
	counter("catch_all_probes_total", "RCPT TO a random local part.", func(s probe.Stats) uint64 { return s.CatchAllProbes })
	counter("replies_421_total", "421 replies in the middle of a session.", func(s probe.Stats) uint64 { return s.Replies421 })
	counter("backoffs_total", "Times an MX host was paused.", func(s probe.Stats) uint64 { return s.Backoffs })
	counter("catch_all_cached_total", "Catch-all tests answered from the cache (hits; misses are catch_all_probes_total).", func(s probe.Stats) uint64 { return s.CatchAllCached })
	counter("requeued_total", "Recipients queued again after a session was lost.", func(s probe.Stats) uint64 { return s.Requeued })
	counter("tls_sessions_total", "Sessions encrypted with STARTTLS.", func(s probe.Stats) uint64 { return s.TLSSessions })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preflight_probe_dispatchers", Help: "MX hosts with a live dispatcher."},
		func() float64 { return float64(p.Stats().Dispatchers) }))
}

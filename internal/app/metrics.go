package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/internal/fleet"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/verify"
)

// RegisterMetrics exposes the probe's counters: how polite we are
// (sessions, RCPTs, 421 replies, back-offs) is what operators watch.
func (a *App) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "preflight_store_retries_total", Help: "Store operations tried again after an error (contention)."},
		func() float64 { r, _ := store.ContentionStats(); return float64(r) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "preflight_store_failures_total", Help: "Store operations that failed after their retries."},
		func() float64 { _, f := store.ContentionStats(); return float64(f) }))
	if a.Verifier != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preflight_verify_background_probes", Help: "Probes going on after their callers gave up (verify.max_background_probes bounds them)."},
			func() float64 { return float64(a.Verifier.Background()) }))
	}
	if a.timings != nil {
		reg.MustRegister(a.timings)
	}
	if a.Fleet != nil {
		reg.MustRegister(fleetMetrics{a.Fleet})
	}
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
	reg.MustRegister(routeRefusals{p})
	counter("route_benches_total", "Times a mail server refused an egress route (blocklist, reputation) and the route was benched for it.", func(s probe.Stats) uint64 { return s.RouteBenches })
	counter("saturated_total", "Checks refused at once because the mail server's queue was full (probe.max_queue_per_host).", func(s probe.Stats) uint64 { return s.Saturated })
	counter("catch_all_cached_total", "Catch-all tests answered from the cache (hits; misses are catch_all_probes_total).", func(s probe.Stats) uint64 { return s.CatchAllCached })
	counter("requeued_total", "Recipients queued again after a session was lost.", func(s probe.Stats) uint64 { return s.Requeued })
	counter("fleet_waits_total", "RCPTs held back by a fleet-wide provider limit (cache.provider_rcpt_rates).", func(s probe.Stats) uint64 { return s.FleetWaits })
	counter("tls_sessions_total", "Sessions encrypted with STARTTLS.", func(s probe.Stats) uint64 { return s.TLSSessions })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preflight_probe_dispatchers", Help: "MX hosts with a live dispatcher."},
		func() float64 { return float64(p.Stats().Dispatchers) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preflight_probe_queued", Help: "Recipients waiting in the mail servers' queues."},
		func() float64 { return float64(p.Stats().Queued) }))
}

// routeRefusals exports the sender-side refusals per egress route: the
// first sign that a receiving provider started refusing one of our IPs.
type routeRefusals struct{ p *probe.Engine }

var routeRefusalsDesc = prometheus.NewDesc("preflight_probe_route_refusals_total",
	"Sender-side refusals (blocklist, reputation, PTR) per egress route.", []string{"route"}, nil)

func (r routeRefusals) Describe(ch chan<- *prometheus.Desc) { ch <- routeRefusalsDesc }

func (r routeRefusals) Collect(ch chan<- prometheus.Metric) {
	for name, n := range r.p.RouteRefusals() {
		ch <- prometheus.MustNewConstMetric(routeRefusalsDesc, prometheus.CounterValue, float64(n), name)
	}
}

// newTimings is a histogram per step of a check, from 1 ms (a warm session
// on a nearby server) to 30 s (a slow banner).
func newTimings() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "preflight_check_step_seconds",
		Help:    "Time spent per step of a check that was not answered from the cache: dns, connect, tls, smtp (timings_ms).",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"step"})
}

// observeTimings records one answer's timings. Connect and TLS count only
// when a session was opened for it, and SMTP only when a probe ran, so
// that cached and offline answers do not drown them in zeros.
func (a *App) observeTimings(t verify.Timings) {
	ms := func(step string, v int64) {
		a.timings.WithLabelValues(step).Observe(float64(v) / 1000)
	}
	ms("dns", t.DNS)
	if t.Connect > 0 {
		ms("connect", t.Connect)
	}
	if t.TLS > 0 {
		ms("tls", t.TLS)
	}
	if t.SMTP > 0 || t.Connect > 0 {
		ms("smtp", t.SMTP)
	}
}

// fleetMetrics exports the shared layer (cache.url): lookups per cache and
// level, Redis errors and outages, and whether Redis is reachable now.
type fleetMetrics struct{ c *fleet.Client }

var (
	cacheLookupsDesc = prometheus.NewDesc("preflight_cache_lookups_total",
		"Cache lookups per cache (result, mx, catchall), level (local, shared) and result (hit, miss); shared is asked after a local miss.",
		[]string{"cache", "level", "result"}, nil)
	redisErrorsDesc  = prometheus.NewDesc("preflight_redis_errors_total", "Redis operations that failed (the caller went on without Redis).", nil, nil)
	redisOutagesDesc = prometheus.NewDesc("preflight_redis_outages_total", "Times Redis became unreachable (degraded mode).", nil, nil)
	redisUpDesc      = prometheus.NewDesc("preflight_redis_up", "1 while Redis answers, 0 in degraded mode.", nil, nil)
	fleetWaitsDesc   = prometheus.NewDesc("preflight_fleet_rcpt_limited_total", "Answers of the fleet-wide provider limiter that held an RCPT back.", nil, nil)
)

func (m fleetMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheLookupsDesc, redisErrorsDesc, redisOutagesDesc, redisUpDesc, fleetWaitsDesc} {
		ch <- d
	}
}

func (m fleetMetrics) Collect(ch chan<- prometheus.Metric) {
	s := m.c.Stats()
	for name, c := range s.Caches {
		for _, v := range []struct {
			level, result string
			n             uint64
		}{
			{"local", "hit", c.LocalHits}, {"local", "miss", c.LocalMisses},
			{"shared", "hit", c.SharedHits}, {"shared", "miss", c.SharedMisses},
		} {
			ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(v.n), name, v.level, v.result)
		}
	}
	up := 0.0
	if s.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(redisErrorsDesc, prometheus.CounterValue, float64(s.Errors))
	ch <- prometheus.MustNewConstMetric(redisOutagesDesc, prometheus.CounterValue, float64(s.Outages))
	ch <- prometheus.MustNewConstMetric(redisUpDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(fleetWaitsDesc, prometheus.CounterValue, float64(s.RcptWaits))
}

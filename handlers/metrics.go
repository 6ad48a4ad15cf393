package handlers

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/verify"
)

type metrics struct {
	results *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "preflight_verifications_total",
			Help: "Addresses verified through the API, by verdict and reason.",
		}, []string{"verdict", "reason"}),
	}
	reg.MustRegister(m.results)
	return m
}

func (m *metrics) observe(r verify.Result) {
	m.results.WithLabelValues(string(r.Verdict), string(r.Reason)).Inc()
}

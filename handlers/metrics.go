package handlers

import (
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/verify"
)

type metrics struct {
	results  *prometheus.CounterVec
	replies  *prometheus.CounterVec
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "preflight_verifications_total",
			Help: "Addresses verified through the API, by verdict and reason.",
		}, []string{"verdict", "reason"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "preflight_http_requests_total",
			Help: "HTTP requests by route, method, status and API key name (\"\" without a key).",
		}, []string{"route", "method", "status", "key"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "preflight_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
	}
	m.replies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "preflight_smtp_replies_total",
		Help: "SMTP replies to RCPT TO behind API answers, by class (2xx, 4xx, 5xx) and receiving provider.",
	}, []string{"class", "provider"})
	reg.MustRegister(m.results, m.replies, m.calls, m.duration)
	return m
}

func (m *metrics) observe(r verify.Result) {
	m.results.WithLabelValues(string(r.Verdict), string(r.Reason)).Inc()
	if r.SMTP != nil && r.SMTP.Code >= 200 && r.SMTP.Code < 600 {
		m.replies.WithLabelValues(strconv.Itoa(r.SMTP.Code/100)+"xx", provider(r.SMTP.Host)).Inc()
	}
}

// providers name the big receiving platforms by their MX host's domain. A
// label per MX domain would grow without bound; the rest are "other".
var providers = map[string]string{
	"google.com":          "google",
	"googlemail.com":      "google",
	"outlook.com":         "microsoft",
	"hotmail.com":         "microsoft",
	"yahoodns.net":        "yahoo",
	"icloud.com":          "apple",
	"me.com":              "apple",
	"aol.com":             "aol",
	"pphosted.com":        "proofpoint",
	"mimecast.com":        "mimecast",
	"messagingengine.com": "fastmail",
	"protonmail.ch":       "proton",
	"zoho.com":            "zoho",
	"yandex.net":          "yandex",
	"gmx.net":             "gmx",
	"web.de":              "webde",
	"mail.ru":             "mailru",
}

func provider(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for {
		if p, ok := providers[host]; ok {
			return p
		}
		_, rest, ok := strings.Cut(host, ".")
		if !ok || !strings.Contains(rest, ".") {
			return "other"
		}
		host = rest
	}
}

// requests counts every request once it is answered. Unmatched paths
// share one route label, so a scan cannot grow the label set.
func (m *metrics) requests(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	k, _ := caller(c)
	m.calls.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status()), k.Name).Inc()
	m.duration.WithLabelValues(route, c.Request.Method).Observe(time.Since(start).Seconds())
}

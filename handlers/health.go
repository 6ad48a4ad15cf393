package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/preflight-email/preflight/jobs"
)

// Pinger is the store as /healthz sees it: *sql.DB is one.
type Pinger interface {
	PingContext(ctx context.Context) error
}

// Queue reports the depth of the bulk jobs' queue.
type Queue interface {
	Queue(ctx context.Context) (jobs.QueueStats, error)
}

type health struct {
	Status string `json:"status"`
	// Role is "api", "api+worker" or "worker".
	Role string `json:"role,omitempty"`
	// Auth is "required", or "off" when anyone who reaches the port may
	// use the API.
	Auth    string `json:"auth,omitempty"`
	Warning string `json:"warning,omitempty"`
	// Store is "ok" or why the store cannot be reached; Queue counts the
	// bulk jobs' River jobs by state.
	Store string           `json:"store,omitempty"`
	Queue *jobs.QueueStats `json:"queue,omitempty"`
	// Doctor sums up the latest check of our sending identity.
	Doctor *doctorSummary `json:"doctor,omitempty"`
	// Redis is "ok" or "degraded" when cache.url is set. Degraded is
	// still 200: the instance answers with its local caches and limits.
	Redis string `json:"redis,omitempty"`
}

// healthTimeout bounds the store's part of a health check.
const healthTimeout = 2 * time.Second

// components fills in the store and the queue. An unreachable store makes
// the instance unhealthy (503): keys, jobs and the suppression list live
// there.
func components(ctx context.Context, h *health, store Pinger, queue Queue, redis Health) int {
	if redis != nil {
		h.Redis = redis.Health()
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	code := http.StatusOK
	if store != nil {
		h.Store = "ok"
		if err := store.PingContext(ctx); err != nil {
			h.Status, h.Store, code = "unavailable", "unreachable", http.StatusServiceUnavailable
		}
	}
	if queue != nil && code == http.StatusOK {
		if q, err := queue.Queue(ctx); err == nil {
			h.Queue = &q
		}
	}
	return code
}

func (a *API) healthz(c *gin.Context) {
	h := health{Status: "ok", Auth: "required"}
	if !a.auth.Required {
		h.Auth, h.Warning = "off", "auth.required is false: anyone who can reach this port can use the API"
	}
	if a.doctor != nil {
		if rep, ok := a.doctor.Last(); ok {
			h.Doctor = &doctorSummary{OK: rep.OK, FailedChecks: len(rep.Failures()), At: rep.At}
		}
	}
	h.Role = a.cfg.Role
	code := components(c.Request.Context(), &h, a.store, a.queue, a.redis)
	c.JSON(code, h)
}

// NewHealth serves /healthz and /metrics alone: what a worker (preflight
// worker), which serves no API, offers its orchestrator.
func NewHealth(reg *prometheus.Registry, store Pinger, queue Queue, redis Health) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := health{Status: "ok", Role: "worker"}
		code := components(r.Context(), &h, store, queue, redis)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		writeJSON(w, h)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.Write(b)
}

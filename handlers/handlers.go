// Package handlers is Preflight's HTTP layer (gin). It is the only package
// that imports gin. Handlers parse and validate requests, call the pipeline
// and render JSON; every error body is {"error": {"code", "message"}} and
// never carries an internal error's text (docs/design.md "Interfaces").
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preflight-email/preflight/doctor"
	"github.com/preflight-email/preflight/probe"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/preflight-email/preflight/verify"
)

// Verifier checks addresses.
type Verifier interface {
	Verify(ctx context.Context, email string) verify.Result
}

// Config tunes the HTTP layer.
type Config struct {
	DefaultTimeout time.Duration // a check's time budget when ?timeout= is absent
	MaxTimeout     time.Duration // the largest ?timeout= accepted
	BatchMax       int           // addresses per batch request
	MaxBodyBytes   int64         // request bodies larger than this get 413
	Auth           AuthConfig
	// TrustedProxies are the addresses (or CIDR ranges) whose
	// X-Forwarded-For is believed for the client's IP; none by default.
	TrustedProxies []string
	// Role is reported by /healthz: "api" (serve --no-worker) or
	// "api+worker" (serve).
	Role string
}

// Deps are the services behind the routes. Verifier is required; a nil
// optional service leaves its routes out.
type Deps struct {
	Verifier Verifier
	Logger   *slog.Logger
	// Registry receives the metrics that /metrics serves; nil gets a fresh
	// registry.
	Registry *prometheus.Registry
	// Jobs runs bulk list verification; nil leaves /v1/jobs out.
	Jobs Jobs
	// Bounces is the suppression list; nil leaves /v1/suppressions and
	// /v1/sender-health out (/v1/bounces/classify needs no store).
	Bounces Bounces
	// Keys checks API keys and counts their use; required when
	// Config.Auth.Required is set.
	Keys Keys
	// Doctor holds the latest check of our sending identity; nil leaves
	// /v1/doctor out.
	Doctor Doctor
	// Routes gives the sender-side refusals per egress route; nil leaves
	// them out of sender health.
	Routes Routes
	// Store and Queue, when set, are reported by /healthz.
	Store Pinger
	Queue Queue
	// Redis is the layer a fleet shares (cache.url); nil, or a Health of
	// "", leaves it out of /healthz.
	Redis Health
}

// Health is the state of a dependency the instance can do without:
// "ok", or "degraded" while it works alone.
type Health interface {
	Health() string
}

// Routes counts the refusals of our egress routes by receiving providers.
type Routes interface {
	RouteSignals(now time.Time) []probe.RouteSignal
}

// Doctor gives the latest doctor report, false before the first;
// Disabled says why the checks do not run, or "".
type Doctor interface {
	Last() (doctor.Report, bool)
	Disabled() string
}

// API holds the handlers' dependencies.
type API struct {
	cfg     Config
	v       Verifier
	log     *slog.Logger
	metrics *metrics
	jobs    Jobs
	doctor  Doctor
	routes  Routes
	store   Pinger
	queue   Queue
	keys    Keys
	auth    AuthConfig
	guard   *guard
	redis   Health
}

// New builds the gin engine with every route.
func New(cfg Config, deps Deps) *gin.Engine {
	logger, reg := deps.Logger, deps.Registry
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if cfg.Auth.Required && deps.Keys == nil {
		panic("handlers: Config.Auth.Required needs Deps.Keys")
	}
	api := &API{cfg: cfg, v: deps.Verifier, log: logger, metrics: newMetrics(reg),
		keys: deps.Keys, auth: cfg.Auth, guard: newGuard(cfg.Auth), doctor: deps.Doctor, routes: deps.Routes,
		store: deps.Store, queue: deps.Queue, redis: deps.Redis}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// The client's IP (per-IP limits of publishable keys) is the peer's
	// unless a trusted proxy forwards it.
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		panic("handlers: TrustedProxies: " + err.Error()) // config validates them
	}
	r.Use(api.recover, api.metrics.requests, api.limitBody, api.cors)
	r.NoRoute(func(c *gin.Context) { abort(c, http.StatusNotFound, "not_found", "no such endpoint") })
	r.NoMethod(func(c *gin.Context) {
		abort(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint")
	})

	r.GET("/healthz", api.healthz)
	r.GET("/openapi.json", serveOpenAPI)
	api.registerConsole(r)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))

	v1 := r.Group("/v1", api.authenticate, api.ownJob)
	if deps.Keys != nil {
		v1.GET("/usage", api.usage)
	}
	v1.GET("/verify", api.verifyGet)
	v1.POST("/verify", api.verifyPost)
	v1.POST("/verify/batch", api.verifyBatch)
	// More route groups (jobs, bounces, suppressions) register here.
	if deps.Jobs != nil {
		api.jobs = deps.Jobs
		api.registerJobs(v1)
		v1.GET("/jobs", api.jobList)
	}
	api.registerClassify(v1)
	if deps.Doctor != nil {
		v1.GET("/doctor", func(c *gin.Context) {
			if why := deps.Doctor.Disabled(); why != "" {
				abort(c, http.StatusServiceUnavailable, "doctor_off", why)
				return
			}
			rep, ok := deps.Doctor.Last()
			if !ok {
				c.Header("Retry-After", "10")
				abort(c, http.StatusServiceUnavailable, "doctor_not_ready", "the first check of our sending identity is still running")
				return
			}
			c.JSON(http.StatusOK, rep)
		})
	}
	if deps.Bounces != nil {
		api.registerBounces(v1, deps.Bounces)
	}
	return r
}

type doctorSummary struct {
	OK           bool      `json:"ok"`
	FailedChecks int       `json:"failed_checks"`
	At           time.Time `json:"at"`
}

// errorBody is the one shape of every error reply.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func abort(c *gin.Context, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	c.AbortWithStatusJSON(status, b)
}

// recover turns a panic into a 500 that says nothing about our internals.
func (a *API) recover(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("panic in handler", "path", c.FullPath(), "panic", p)
			abort(c, http.StatusInternalServerError, "internal", "internal error")
		}
	}()
	c.Next()
}

func (a *API) limitBody(c *gin.Context) {
	if c.Request.Body != nil && !ownsBodyLimit(c) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, a.cfg.MaxBodyBytes)
	}
	c.Next()
}

// budget derives the check's context from the request's, bounded by
// ?timeout= (for example 2s or 1500ms) or the default.
func (a *API) budget(c *gin.Context) (context.Context, context.CancelFunc, bool) {
	d := a.cfg.DefaultTimeout
	if s := c.Query("timeout"); s != "" {
		t, err := time.ParseDuration(s)
		if err != nil || t <= 0 {
			abort(c, http.StatusBadRequest, "invalid_timeout", "timeout must be a positive duration such as 2s or 500ms")
			return nil, nil, false
		}
		d = min(t, a.cfg.MaxTimeout)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), d)
	return ctx, cancel, true
}

func (a *API) verifyGet(c *gin.Context) {
	email := c.Query("email")
	if strings.TrimSpace(email) == "" {
		abort(c, http.StatusBadRequest, "missing_email", "query parameter email is required")
		return
	}
	a.verifyOne(c, email)
}

type verifyRequest struct {
	Email *string `json:"email"`
}

func (a *API) verifyPost(c *gin.Context) {
	var req verifyRequest
	if !a.bindJSON(c, &req) {
		return
	}
	if req.Email == nil || strings.TrimSpace(*req.Email) == "" {
		abort(c, http.StatusBadRequest, "missing_email", `body must be {"email": "..."}`)
		return
	}
	a.verifyOne(c, *req.Email)
}

func (a *API) verifyOne(c *gin.Context, email string) {
	ctx, cancel, ok := a.budget(c)
	if !ok {
		return
	}
	defer cancel()
	r := a.verifier(c).Verify(ctx, email)
	a.observe(c, r)
	c.JSON(http.StatusOK, r)
}

type batchRequest struct {
	Emails []string `json:"emails"`
}

type batchResponse struct {
	Results []verify.Result `json:"results"`
}

// batchWorkers bounds the checks of one batch request that run at once;
// the probe's own caps protect the receiving servers.
const batchWorkers = 16

func (a *API) verifyBatch(c *gin.Context) {
	var req batchRequest
	if !a.bindJSON(c, &req) {
		return
	}
	switch {
	case req.Emails == nil:
		abort(c, http.StatusBadRequest, "missing_emails", `body must be {"emails": ["...", ...]}`)
		return
	case len(req.Emails) > a.cfg.BatchMax:
		abort(c, http.StatusRequestEntityTooLarge, "batch_too_large",
			"at most "+strconv.Itoa(a.cfg.BatchMax)+" addresses per batch; use POST /v1/jobs for lists")
		return
	}
	ctx, cancel, ok := a.budget(c)
	if !ok {
		return
	}
	defer cancel()
	out := batchResponse{Results: make([]verify.Result, len(req.Emails))}
	v := a.verifier(c)
	sem := make(chan struct{}, batchWorkers)
	var wg sync.WaitGroup
	for i, e := range req.Emails {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out.Results[i] = v.Verify(ctx, e)
		})
	}
	wg.Wait()
	for _, r := range out.Results {
		a.observe(c, r)
	}
	c.JSON(http.StatusOK, out)
}

// bindJSON decodes the body and answers 400 or 413 itself when it cannot.
func (a *API) bindJSON(c *gin.Context, dst any) bool {
	err := c.ShouldBindJSON(dst)
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		abort(c, http.StatusRequestEntityTooLarge, "body_too_large", "request body larger than "+strconv.FormatInt(a.cfg.MaxBodyBytes, 10)+" bytes")
		return false
	}
	abort(c, http.StatusBadRequest, "invalid_json", "request body is not valid JSON of the expected shape")
	return false
}

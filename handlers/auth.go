package handlers

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/preflight-email/preflight/keys"
	"github.com/preflight-email/preflight/sandbox"
	"github.com/preflight-email/preflight/verify"
)

// Keys is the API key store (*keys.Store).
type Keys interface {
	Authenticate(ctx context.Context, token string) (keys.Key, error)
	// Take counts a call against the key's daily quota, or refuses it
	// with the time to wait.
	Take(ctx context.Context, k keys.Key) (bool, time.Duration, error)
	Count(id, verdict string)
	Usage(ctx context.Context, id string, days int) ([]keys.Day, error)
	// OriginAllowed answers CORS preflight requests, which carry no key.
	OriginAllowed(ctx context.Context, origin string) bool
}

// AuthConfig configures API keys (docs/design.md "HTTP").
type AuthConfig struct {
	// Required turns keys on. Off, the API is open to anyone who can
	// reach it: for a trusted network only.
	Required bool
	// IPRate and IPBurst limit the calls of publishable keys per client
	// IP, whatever the key: a page's visitors share its key.
	IPRate  float64
	IPBurst int
}

// keyCtx is where the caller's key is kept on the gin context.
const keyCtx = "preflight.key"

// caller returns the request's key; ok is false in open mode.
func caller(c *gin.Context) (keys.Key, bool) {
	v, ok := c.Get(keyCtx)
	if !ok {
		return keys.Key{}, false
	}
	k, ok := v.(keys.Key)
	return k, ok
}

// owner is the job owner for the request: the key's id, "" in open mode.
func owner(c *gin.Context) string {
	k, _ := caller(c)
	return k.ID
}

// verifier is the live pipeline, or the sandbox for a test key.
func (a *API) verifier(c *gin.Context) Verifier {
	if k, ok := caller(c); ok && k.Test {
		return sandbox.Verifier{}
	}
	return a.v
}

// observe counts a result in the metrics and in the caller's usage.
func (a *API) observe(c *gin.Context, r verify.Result) {
	a.metrics.observe(r)
	if k, ok := caller(c); ok && a.keys != nil {
		a.keys.Count(k.ID, string(r.Verdict))
	}
}

type route struct{ method, path string }

// publishableRoutes are what a browser may call with a pk_ key.
var publishableRoutes = map[route]bool{
	{http.MethodGet, "/v1/verify"}:  true,
	{http.MethodPost, "/v1/verify"}: true,
}

// testRoutes are what a test key may call: nothing that reaches the
// network.
var testRoutes = map[route]bool{
	{http.MethodGet, "/v1/verify"}:            true,
	{http.MethodPost, "/v1/verify"}:           true,
	{http.MethodPost, "/v1/verify/batch"}:     true,
	{http.MethodPost, "/v1/bounces/classify"}: true,
	{http.MethodGet, "/v1/usage"}:             true,
	{http.MethodGet, "/v1/jobs"}:              true,
}

// guard holds the per-key and per-IP limiters.
type guard struct {
	ipRate  rate.Limit
	ipBurst int
	ips     *lru.Cache[string, *rate.Limiter]

	mu   sync.Mutex
	byID map[string]keyLimiter
}

type keyLimiter struct {
	rate float64
	lim  *rate.Limiter
}

func newGuard(cfg AuthConfig) *guard {
	ips, _ := lru.New[string, *rate.Limiter](1 << 16)
	r, b := cfg.IPRate, cfg.IPBurst
	if r <= 0 {
		r = 2
	}
	if b < 1 {
		b = 10
	}
	return &guard{ipRate: rate.Limit(r), ipBurst: b, ips: ips, byID: map[string]keyLimiter{}}
}

// wait reports how long a caller over lim must wait, or 0 if it may go.
func wait(lim *rate.Limiter) time.Duration {
	res := lim.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return d
	}
	return 0
}

func (g *guard) key(k keys.Key) time.Duration {
	if k.Rate <= 0 {
		return 0
	}
	g.mu.Lock()
	kl, ok := g.byID[k.ID]
	if !ok || kl.rate != k.Rate {
		kl = keyLimiter{rate: k.Rate, lim: rate.NewLimiter(rate.Limit(k.Rate), max(1, int(math.Ceil(k.Rate))))}
		g.byID[k.ID] = kl
	}
	g.mu.Unlock()
	return wait(kl.lim)
}

func (g *guard) ip(ip string) time.Duration {
	lim, ok := g.ips.Get(ip)
	if !ok {
		lim = rate.NewLimiter(g.ipRate, g.ipBurst)
		if prev, found, _ := g.ips.PeekOrAdd(ip, lim); found {
			lim = prev
		}
	}
	return wait(lim)
}

// retryAfter sets Retry-After in whole seconds, rounded up (RFC 9110 §10.2.3).
func retryAfter(c *gin.Context, d time.Duration) {
	c.Header("Retry-After", strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10))
}

// bearer reads the key: Authorization: Bearer …, or ?key= for a
// publishable key (a browser's simple GET then needs no preflight).
func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	if h != "" {
		return h // not Bearer: malformed, and answered so
	}
	if k := c.Query("key"); strings.HasPrefix(k, "pk_") {
		return k
	}
	return ""
}

// cors answers preflight requests for the verify routes. Browsers send
// them without the key, so they are allowed for any origin some active
// publishable key lists; the real request is then held to its own key's
// origins.
func (a *API) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if c.Request.Method != http.MethodOptions || origin == "" || !strings.HasPrefix(c.Request.URL.Path, "/v1/verify") {
		c.Next()
		return
	}
	if a.keys == nil || !a.keys.OriginAllowed(c.Request.Context(), origin) {
		abort(c, http.StatusForbidden, "origin_not_allowed", "no publishable key allows this origin")
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
	c.AbortWithStatus(http.StatusNoContent)
}

// authenticate guards /v1: the key, its kind, its origins, its limits.
func (a *API) authenticate(c *gin.Context) {
	if !a.auth.Required {
		c.Next()
		return
	}
	tok := bearer(c)
	if tok == "" {
		c.Header("WWW-Authenticate", `Bearer realm="preflight"`)
		abort(c, http.StatusUnauthorized, "missing_api_key", "send your API key as Authorization: Bearer sk_...")
		return
	}
	k, err := a.keys.Authenticate(c.Request.Context(), tok)
	switch {
	case errors.Is(err, keys.ErrUnauthorized):
		c.Header("WWW-Authenticate", `Bearer realm="preflight", error="invalid_token"`)
		abort(c, http.StatusUnauthorized, "invalid_api_key", "the API key is not valid: check it, or create a new one with preflight keys create")
		return
	case err != nil:
		a.log.Error("reading API key", "err", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", "keys cannot be checked right now; try again shortly")
		return
	}
	rt := route{c.Request.Method, c.FullPath()}
	if k.Kind == keys.Publishable {
		if !publishableRoutes[rt] {
			abort(c, http.StatusForbidden, "publishable_key_forbidden", "a publishable key may only call /v1/verify; use a secret key")
			return
		}
		if origin := c.GetHeader("Origin"); origin != "" {
			if !k.AllowsOrigin(origin) {
				abort(c, http.StatusForbidden, "origin_not_allowed", "this publishable key does not allow this origin")
				return
			}
			c.Header("Access-Control-Allow-Origin", origin)
			c.Header("Vary", "Origin")
		}
		if d := a.guard.ip(c.ClientIP()); d > 0 {
			retryAfter(c, d)
			abort(c, http.StatusTooManyRequests, "rate_limited", "too many checks from this address; slow down")
			return
		}
	}
	if k.Test && !testRoutes[rt] {
		abort(c, http.StatusForbidden, "live_key_required", "a test key may only verify; use a live key for this endpoint")
		return
	}
	if d := a.guard.key(k); d > 0 {
		retryAfter(c, d)
		abort(c, http.StatusTooManyRequests, "rate_limited", "this key is over its rate of "+strconv.FormatFloat(k.Rate, 'f', -1, 64)+" calls a second")
		return
	}
	ok, d, err := a.keys.Take(c.Request.Context(), k)
	switch {
	case err != nil:
		a.log.Error("counting API key usage", "err", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", "usage cannot be counted right now; try again shortly")
		return
	case !ok:
		retryAfter(c, d)
		abort(c, http.StatusTooManyRequests, "quota_exceeded", "this key has used its daily quota of "+strconv.FormatInt(k.DailyQuota, 10)+" calls; it starts again at midnight UTC")
		return
	}
	c.Set(keyCtx, k)
	c.Next()
}

// usageReply is GET /v1/usage.
type usageReply struct {
	Key  usageKey   `json:"key"`
	Days []keys.Day `json:"days"`
}

type usageKey struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	Test       bool    `json:"test"`
	DailyQuota int64   `json:"daily_quota"`
	Rate       float64 `json:"rate"`
}

// usage returns the caller's own calls and verdicts per day.
func (a *API) usage(c *gin.Context) {
	k, ok := caller(c)
	if !ok {
		abort(c, http.StatusNotFound, "no_api_key", "usage is counted per API key; the API runs without keys (auth.required=false)")
		return
	}
	days := 30
	if s := c.Query("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 366 {
			abort(c, http.StatusBadRequest, "invalid_days", "days must be 1-366")
			return
		}
		days = n
	}
	ds, err := a.keys.Usage(c.Request.Context(), k.ID, days)
	if err != nil {
		a.log.Error("reading usage", "err", err)
		abort(c, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	if ds == nil {
		ds = []keys.Day{}
	}
	c.JSON(http.StatusOK, usageReply{
		Key:  usageKey{ID: k.ID, Name: k.Name, Kind: string(k.Kind), Test: k.Test, DailyQuota: k.DailyQuota, Rate: k.Rate},
		Days: ds,
	})
}

// ownJob hides a job from every key but the one that made it: to another
// key it does not exist (404), as a wrong id.
func (a *API) ownJob(c *gin.Context) {
	if !a.auth.Required || a.jobs == nil || !strings.HasPrefix(c.FullPath(), "/v1/jobs/:id") {
		c.Next()
		return
	}
	st, err := a.jobs.Status(c.Request.Context(), c.Param("id"))
	if err == nil && st.Owner != owner(c) {
		abort(c, http.StatusNotFound, "job_not_found", "no such job")
		return
	}
	c.Next() // the handler answers a missing job itself
}

package handlers

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/syntax"
	"github.com/preflight-email/preflight/verify"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// zone is the fake DNS every handler test resolves against. The probe is
// off here: the pipeline's SMTP paths are tested end to end in verify.
const zone = `
$ORIGIN test.
$TTL 300
@            IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
nullmx       IN MX  0 .
mail         IN MX  10 mx.mail.test.
mx.mail      IN A   127.0.0.1
mailinator.com. IN MX 10 mx.mail.test.
`

func newTestEngine(t *testing.T) (*gin.Engine, *prometheus.Registry) {
	t.Helper()
	dns := dnstest.NewServer(t, zone)
	lists, err := disposable.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := mx.New(mx.Config{Resolvers: []string{dns.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	v := verify.New(verify.Config{ProbeEnabled: false, CacheTTL: time.Hour, UnknownTTL: time.Minute, CacheSize: 100},
		verify.Deps{Lists: lists, Resolver: res, Suggester: syntax.DefaultSuggester()})
	t.Cleanup(func() { v.Close() })
	reg := prometheus.NewRegistry()
	e := New(Config{DefaultTimeout: 2 * time.Second, MaxTimeout: 5 * time.Second, BatchMax: 3, MaxBodyBytes: 2048},
		Deps{Verifier: v, Registry: reg})
	return e, reg
}

func TestAPI(t *testing.T) {
	e, _ := newTestEngine(t)
	tests := []struct {
		name, method, target, body string
		status                     int
	}{
		{"get_invalid_syntax", "GET", "/v1/verify?email=jane.doe%40%40example.com", "", 200},
		{"get_missing_email", "GET", "/v1/verify", "", 400},
		{"get_blank_email", "GET", "/v1/verify?email=%20", "", 400},
		{"get_disposable", "GET", "/v1/verify?email=someone%40mailinator.com", "", 200},
		{"get_nxdomain", "GET", "/v1/verify?email=jane%40nowhere.test", "", 200},
		{"get_null_mx", "GET", "/v1/verify?email=jane%40nullmx.test", "", 200},
		{"get_probe_disabled", "GET", "/v1/verify?email=Jane.Doe%40MAIL.test", "", 200},
		{"get_bad_timeout", "GET", "/v1/verify?email=a%40mail.test&timeout=soon", "", 400},
		{"post_ok", "POST", "/v1/verify", `{"email": "display name <a@b.test>"}`, 200},
		{"post_missing_email", "POST", "/v1/verify", `{"mail": "a@b.test"}`, 400},
		{"post_bad_json", "POST", "/v1/verify", `{"email": `, 400},
		{"post_too_large", "POST", "/v1/verify", `{"email": "` + strings.Repeat("a", 4096) + `"}`, 413},
		{"batch", "POST", "/v1/verify/batch", `{"emails": ["x@nowhere.test", "bad", "y@mailinator.com"]}`, 200},
		{"batch_too_many", "POST", "/v1/verify/batch", `{"emails": ["a@b.test", "b@b.test", "c@b.test", "d@b.test"]}`, 413},
		{"batch_missing", "POST", "/v1/verify/batch", `{}`, 400},
		{"not_found", "GET", "/v2/verify", "", 404},
		{"method_not_allowed", "DELETE", "/v1/verify", "", 405},
		{"healthz", "GET", "/healthz", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
			golden(t, tt.name, rec.Body.Bytes())
			if tt.status != http.StatusNotFound && tt.status != http.StatusMethodNotAllowed {
				checkResponse(t, req, rec)
			}
		})
	}
}

func TestTimeoutIsCapped(t *testing.T) {
	e, _ := newTestEngine(t)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/verify?email=a%40mail.test&timeout=10m", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("a timeout above the cap must be capped, not refused: %d %s", rec.Code, rec.Body)
	}
}

func TestMetricsCountVerdicts(t *testing.T) {
	e, _ := newTestEngine(t)
	for range 2 {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/verify?email=nope", nil))
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `preflight_verifications_total{reason="invalid_syntax",verdict="undeliverable"} 2`
	if !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %q:\n%s", want, rec.Body)
	}
}

// golden compares a JSON body, with duration_ms and timings_ms zeroed, to
// testdata/NAME.json.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	zeroDurations(v)
	got, _ := json.MarshalIndent(v, "", "  ")
	goldenFile(t, name+".json", append(got, '\n'))
}

func zeroDurations(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "duration_ms" {
				v[k] = 0
				continue
			}
			if t, ok := x.(map[string]any); ok && k == "timings_ms" {
				for step := range t {
					t[step] = 0
				}
				continue
			}
			zeroDurations(x)
		}
	case []any:
		for _, x := range v {
			zeroDurations(x)
		}
	}
}

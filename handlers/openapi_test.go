package handlers

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/keys"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
)

var spec = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(context.Background())
})

var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := spec()
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// checkResponse validates one handler response against the document: its
// status must be documented for the route, and a JSON body must match the
// schema.
func checkResponse(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	router, err := specRouter()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	// The router matches on the request as a client sent it.
	r := req.Clone(context.Background())
	r.URL.Scheme, r.URL.Host, r.Host = "", "", ""
	route, params, err := router.FindRoute(r)
	if err != nil {
		t.Errorf("%s %s is not documented: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			// Only JSON bodies have schemas worth checking; CSV and
			// Prometheus text are strings.
			ExcludeResponseBody: ct != "application/json",
		},
	}
	if rec.Code == http.StatusNoContent || rec.Code == http.StatusMethodNotAllowed {
		out.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s answered %d against the document: %v\n%s", req.Method, req.URL, rec.Code, err, rec.Body.String())
	}
}

// fullEngine registers every route: all optional services present.
func fullEngine(t *testing.T) *gin.Engine {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "all.db"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.New(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := &liveVerifier{}
	m, err := jobs.New(ctx, jobs.Config{}, db, jobs.Deps{Verifier: live})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := suppression.New(ctx, db, suppression.Policy{SoftLimit: 3, SoftWindow: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); sup.Close(); db.Close() })
	return New(Config{DefaultTimeout: time.Second, MaxTimeout: time.Second, BatchMax: 10, MaxBodyBytes: 4096},
		Deps{Verifier: live, Keys: ks, Jobs: m, Bounces: sup, Doctor: fakeDoctor{rep: listedReport, ready: true}})
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

func TestOpenAPICoversRoutes(t *testing.T) {
	doc, err := spec()
	if err != nil {
		t.Fatalf("openapi.json does not validate: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	registered := map[string]bool{}
	for _, r := range fullEngine(t).Routes() {
		registered[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range registered {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !registered[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes that do not exist: %v", extra)
	}
}

// TestOpenAPIResponses drives every route through its usual answers and
// validates each against the document.
func TestOpenAPIResponses(t *testing.T) {
	e := fullEngine(t)
	do := func(method, target, contentType, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		checkResponse(t, req, rec)
		return rec
	}
	do("GET", "/healthz", "", "")
	do("GET", "/openapi.json", "", "")
	do("GET", "/metrics", "", "")
	do("GET", "/", "", "")
	do("GET", "/widget.js", "", "")
	do("GET", "/assets/console.js", "", "")
	do("GET", "/assets/console.css", "", "")
	do("GET", "/assets/nope.js", "", "")
	do("GET", "/demo?key=pk_test", "", "")
	do("GET", "/v1/verify?email=jane@gmial.com", "", "")
	do("GET", "/v1/verify", "", "")
	do("GET", "/v1/verify?email=a@b.example&timeout=x", "", "")
	do("POST", "/v1/verify", "application/json", `{"email":"temp@example.com"}`)
	do("POST", "/v1/verify", "application/json", `{`)
	do("POST", "/v1/verify/batch", "application/json", `{"emails":["a@example.com","not an address"]}`)
	do("GET", "/v1/usage", "", "")
	created := do("POST", "/v1/jobs", "text/csv", "email\na@example.com\nb@example.com\n")
	do("POST", "/v1/jobs", "text/csv", "")
	do("POST", "/v1/jobs?sample=0", "text/csv", "email\na@example.com\n")
	preview := do("POST", "/v1/jobs?sample=2", "text/csv", "email\na@example.com\nb@example.com\nc@example.com\ntemp@example.com\n")
	pid := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(preview.Body.String())[1]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec := do("GET", "/v1/jobs/"+pid, "", "")
		if strings.Contains(rec.Body.String(), `"status":"done"`) {
			if !strings.Contains(rec.Body.String(), `"population_rows":4`) {
				t.Errorf("preview: %s", rec.Body.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the preview did not finish")
		}
	}
	id := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(created.Body.String())[1]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if rec := do("GET", "/v1/jobs/"+id, "", ""); strings.Contains(rec.Body.String(), `"status":"done"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not finish")
		}
	}
	do("GET", "/v1/jobs", "", "")
	do("GET", "/v1/jobs?limit=0", "", "")
	do("GET", "/v1/jobs/"+id+"/results", "", "")
	do("GET", "/v1/jobs/"+id+"/results?format=jsonl", "", "")
	do("GET", "/v1/jobs/nope", "", "")
	do("DELETE", "/v1/jobs/"+id, "", "")
	do("POST", "/v1/bounces/classify", "application/json", `{"message":"smtp;550 5.1.1 user unknown"}`)
	do("POST", "/v1/suppressions/events", "application/json", `{"email":"gone@example.com","message":"550 5.1.1 User unknown","at":"2026-11-20T10:00:00Z"}`)
	do("GET", "/v1/suppressions/gone@example.com", "", "")
	do("GET", "/v1/suppressions", "", "")
	do("GET", "/v1/sender-health", "", "")
	do("DELETE", "/v1/suppressions/gone@example.com?reason=confirmed", "", "")
	do("GET", "/v1/suppressions/gone@example.com", "", "")
}

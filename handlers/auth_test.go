package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/keys"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/sandbox"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/verify"
)

// liveVerifier stands in for the live pipeline and counts its calls, so a
// test can tell that a test key never reached it.
type liveVerifier struct{ calls atomic.Int64 }

func (v *liveVerifier) Verify(_ context.Context, email string) verify.Result {
	v.calls.Add(1)
	r := verify.Result{Email: email, Normalized: email, Verdict: outcome.Deliverable, Reason: outcome.Accepted, Risk: 3, MX: []string{"mx.example.test"}}
	if strings.HasPrefix(email, "jane@gmial") {
		r.Suggestion = "jane@gmail.com"
	}
	if strings.HasPrefix(email, "temp@") {
		r.Verdict, r.Reason, r.Risk, r.Flags.Disposable = outcome.Risky, outcome.Disposable, 60, true
	}
	return r
}

func (v *liveVerifier) Recheck(ctx context.Context, email string) verify.Result {
	return v.Verify(ctx, email)
}

type authEnv struct {
	e    *gin.Engine
	keys *keys.Store
	live *liveVerifier
}

func newAuthEnv(t *testing.T) authEnv {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "auth.db"))
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
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); db.Close() })
	e := New(Config{DefaultTimeout: time.Second, MaxTimeout: 5 * time.Second, BatchMax: 10, MaxBodyBytes: 4096,
		Auth: AuthConfig{Required: true, IPRate: 0.001, IPBurst: 3}},
		Deps{Verifier: live, Keys: ks, Jobs: m})
	return authEnv{e: e, keys: ks, live: live}
}

func (env authEnv) key(t *testing.T, spec keys.Spec) (keys.Key, string) {
	t.Helper()
	k, tok, err := env.keys.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return k, tok
}

// call makes a request; header holds name, value pairs. Every answer but
// a CORS preflight's is checked against openapi.json.
func (env authEnv) call(t *testing.T, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.1:5000"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	env.e.ServeHTTP(rec, req)
	if method != http.MethodOptions {
		checkResponse(t, req, rec)
	}
	return rec
}

func errCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	return b.Error.Code
}

func TestAuthAnswers(t *testing.T) {
	env := newAuthEnv(t)
	_, sk := env.key(t, keys.Spec{Name: "server", Kind: keys.Secret})
	revokedKey, revoked := env.key(t, keys.Spec{Name: "old", Kind: keys.Secret})
	if err := env.keys.Revoke(context.Background(), revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	_, pk := env.key(t, keys.Spec{Name: "widget", Kind: keys.Publishable, Origins: []string{"https://shop.example"}})
	_, tk := env.key(t, keys.Spec{Name: "ci", Kind: keys.Secret, Test: true})
	unknown := sk[:len(sk)-5] + "AAAAA"
	wrongID := "sk_000000000000" + sk[15:]
	const v = "/v1/verify?email=a@example.com"
	tests := []struct {
		name, method, target string
		header               []string
		status               int
		code                 string
	}{
		{"no key", "GET", v, nil, 401, "missing_api_key"},
		{"malformed", "GET", v, []string{"Authorization", "Bearer abc"}, 401, "invalid_api_key"},
		{"not bearer", "GET", v, []string{"Authorization", "Basic " + sk}, 401, "invalid_api_key"},
		{"unknown secret", "GET", v, []string{"Authorization", "Bearer " + unknown}, 401, "invalid_api_key"},
		{"unknown id", "GET", v, []string{"Authorization", "Bearer " + wrongID}, 401, "invalid_api_key"},
		{"revoked", "GET", v, []string{"Authorization", "Bearer " + revoked}, 401, "invalid_api_key"},
		{"secret in query", "GET", v + "&key=" + sk, nil, 401, "missing_api_key"},
		{"secret", "GET", v, []string{"Authorization", "Bearer " + sk}, 200, ""},
		{"bearer any case", "GET", v, []string{"Authorization", "bearer " + sk}, 200, ""},
		{"publishable verify", "GET", v, []string{"Authorization", "Bearer " + pk}, 200, ""},
		{"publishable in query", "GET", v + "&key=" + pk, nil, 200, ""},
		{"publishable batch", "POST", "/v1/verify/batch", []string{"Authorization", "Bearer " + pk}, 403, "publishable_key_forbidden"},
		{"publishable usage", "GET", "/v1/usage", []string{"Authorization", "Bearer " + pk}, 403, "publishable_key_forbidden"},
		{"publishable jobs", "GET", "/v1/jobs", []string{"Authorization", "Bearer " + pk}, 403, "publishable_key_forbidden"},
		{"test key on jobs upload", "POST", "/v1/jobs", []string{"Authorization", "Bearer " + tk}, 403, "live_key_required"},
		{"healthz needs no key", "GET", "/healthz", nil, 200, ""},
		{"metrics need no key", "GET", "/metrics", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.call(t, tt.method, tt.target, "", tt.header...)
			if rec.Code != tt.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body.String(), tt.status)
			}
			if tt.code != "" {
				if got := errCode(t, rec); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if rec.Code >= 400 && (strings.Contains(rec.Body.String(), sk[:20]) || strings.Contains(rec.Body.String(), revoked[:20])) {
				t.Error("an error body echoes a key")
			}
		})
	}
}

func TestAuthLimits(t *testing.T) {
	env := newAuthEnv(t)
	_, quota := env.key(t, keys.Spec{Name: "quota", Kind: keys.Secret, DailyQuota: 2})
	_, slow := env.key(t, keys.Spec{Name: "slow", Kind: keys.Secret, Rate: 0.5})
	_, pk := env.key(t, keys.Spec{Name: "widget", Kind: keys.Publishable, Origins: []string{"https://shop.example"}})
	_, pk2 := env.key(t, keys.Spec{Name: "widget2", Kind: keys.Publishable, Origins: []string{"https://shop.example"}})
	const v = "/v1/verify?email=a@example.com"

	for i := range 2 {
		if rec := env.call(t, "GET", v, "", "Authorization", "Bearer "+quota); rec.Code != 200 {
			t.Fatalf("quota call %d: %d", i, rec.Code)
		}
	}
	rec := env.call(t, "GET", v, "", "Authorization", "Bearer "+quota)
	if rec.Code != 429 || errCode(t, rec) != "quota_exceeded" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over quota: %d %s %q", rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
	}

	if rec := env.call(t, "GET", v, "", "Authorization", "Bearer "+slow); rec.Code != 200 {
		t.Fatalf("first call at rate: %d", rec.Code)
	}
	rec = env.call(t, "GET", v, "", "Authorization", "Bearer "+slow)
	if rec.Code != 429 || errCode(t, rec) != "rate_limited" || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("over rate: %d %s Retry-After %q", rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
	}

	// Publishable keys: three calls per IP (IPBurst) whatever the key,
	// then 429; another IP goes on.
	for i, k := range []string{pk, pk2, pk} {
		if rec := env.call(t, "GET", v, "", "Authorization", "Bearer "+k); rec.Code != 200 {
			t.Fatalf("publishable call %d: %d", i, rec.Code)
		}
	}
	rec = env.call(t, "GET", v, "", "Authorization", "Bearer "+pk2)
	if rec.Code != 429 || errCode(t, rec) != "rate_limited" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the IP limit: %d %s", rec.Code, rec.Body.String())
	}
	req := httptest.NewRequest("GET", v, nil)
	req.RemoteAddr = "198.51.100.7:4000"
	req.Header.Set("Authorization", "Bearer "+pk2)
	other := httptest.NewRecorder()
	env.e.ServeHTTP(other, req)
	if other.Code != 200 {
		t.Fatalf("another IP: %d", other.Code)
	}
	// X-Forwarded-For is not believed from an untrusted peer.
	rec = env.call(t, "GET", v, "", "Authorization", "Bearer "+pk, "X-Forwarded-For", "203.0.113.9")
	if rec.Code != 429 {
		t.Fatalf("X-Forwarded-For dodged the IP limit: %d", rec.Code)
	}
}

func TestAuthCORS(t *testing.T) {
	env := newAuthEnv(t)
	_, pk := env.key(t, keys.Spec{Name: "widget", Kind: keys.Publishable, Origins: []string{"https://shop.example", "http://localhost:3000"}})
	_, sk := env.key(t, keys.Spec{Name: "server", Kind: keys.Secret})
	const v = "/v1/verify?email=a@example.com"
	for _, origin := range []string{"https://shop.example", "http://localhost:3000"} {
		rec := env.call(t, "GET", v, "", "Authorization", "Bearer "+pk, "Origin", origin)
		if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("%s: %d, ACAO %q", origin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
		pre := env.call(t, "OPTIONS", v, "", "Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
		if pre.Code != 204 || pre.Header().Get("Access-Control-Allow-Origin") != origin || !strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight %s: %d %v", origin, pre.Code, pre.Header())
		}
	}
	for _, origin := range []string{"https://evil.example", "https://shop.example.evil", "null"} {
		rec := env.call(t, "GET", v, "", "Authorization", "Bearer "+pk, "Origin", origin)
		if rec.Code != 403 || errCode(t, rec) != "origin_not_allowed" || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d ACAO %q", origin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
		pre := env.call(t, "OPTIONS", v, "", "Origin", origin, "Access-Control-Request-Method", "GET")
		if pre.Code != 403 || pre.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %s: %d", origin, pre.Code)
		}
	}
	// Secret keys get no CORS headers: they are not for browsers.
	rec := env.call(t, "GET", v, "", "Authorization", "Bearer "+sk, "Origin", "https://shop.example")
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("a secret key's answer carries CORS headers")
	}
}

// A test key gives every fixed answer and never reaches the live pipeline.
func TestAuthTestMode(t *testing.T) {
	env := newAuthEnv(t)
	_, tk := env.key(t, keys.Spec{Name: "ci", Kind: keys.Secret, Test: true})
	for _, lp := range sandbox.LocalParts() {
		rec := env.call(t, "GET", "/v1/verify?email="+lp+"@gmail.com", "", "Authorization", "Bearer "+tk)
		var r verify.Result
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &r) != nil {
			t.Fatalf("%s@: %d %s", lp, rec.Code, rec.Body.String())
		}
		want := sandbox.Verifier{}.Verify(context.Background(), lp+"@gmail.com")
		if r.Verdict != want.Verdict || r.Reason != want.Reason {
			t.Errorf("%s@: %s/%s", lp, r.Verdict, r.Reason)
		}
	}
	rec := env.call(t, "POST", "/v1/verify/batch", `{"emails":["blocked@x.example","timeout@y.example"]}`, "Authorization", "Bearer "+tk)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"reason":"blocked"`) || !strings.Contains(rec.Body.String(), `"reason":"timeout"`) {
		t.Fatalf("batch: %d %s", rec.Code, rec.Body.String())
	}
	if n := env.live.calls.Load(); n != 0 {
		t.Fatalf("a test key reached the live verifier %d times", n)
	}
}

func TestUsageAndJobOwnership(t *testing.T) {
	env := newAuthEnv(t)
	_, a := env.key(t, keys.Spec{Name: "a", Kind: keys.Secret})
	_, b := env.key(t, keys.Spec{Name: "b", Kind: keys.Secret})
	env.call(t, "GET", "/v1/verify?email=a@example.com", "", "Authorization", "Bearer "+a)
	env.call(t, "POST", "/v1/verify/batch", `{"emails":["b@example.com","temp@example.com"]}`, "Authorization", "Bearer "+a)
	rec := env.call(t, "GET", "/v1/usage", "", "Authorization", "Bearer "+a)
	var u usageReply
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &u) != nil || len(u.Days) != 1 {
		t.Fatalf("usage: %d %s", rec.Code, rec.Body.String())
	}
	// Two verify calls before this one; this GET /v1/usage is the third.
	if d := u.Days[0]; d.Calls != 3 || d.Verdicts["deliverable"] != 2 || d.Verdicts["risky"] != 1 || u.Key.Name != "a" {
		t.Fatalf("usage = %+v", u)
	}

	req := httptest.NewRequest("POST", "/v1/jobs", strings.NewReader("email\nx@example.com\n"))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+a)
	created := httptest.NewRecorder()
	env.e.ServeHTTP(created, req)
	if created.Code != 202 {
		t.Fatalf("create: %d %s", created.Code, created.Body.String())
	}
	var job struct{ ID string }
	json.Unmarshal(created.Body.Bytes(), &job)
	for _, path := range []string{"/v1/jobs/" + job.ID, "/v1/jobs/" + job.ID + "/results"} {
		if rec := env.call(t, "GET", path, "", "Authorization", "Bearer "+b); rec.Code != 404 || errCode(t, rec) != "job_not_found" {
			t.Errorf("another key's GET %s: %d", path, rec.Code)
		}
	}
	if rec := env.call(t, "DELETE", "/v1/jobs/"+job.ID, "", "Authorization", "Bearer "+b); rec.Code != 404 {
		t.Errorf("another key's DELETE: %d", rec.Code)
	}
	if rec := env.call(t, "GET", "/v1/jobs/"+job.ID, "", "Authorization", "Bearer "+a); rec.Code != 200 {
		t.Errorf("owner's GET: %d", rec.Code)
	}
	var page jobPage
	rec = env.call(t, "GET", "/v1/jobs", "", "Authorization", "Bearer "+b)
	if json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != 200 || len(page.Jobs) != 0 {
		t.Errorf("b's list: %d %s", rec.Code, rec.Body.String())
	}
	rec = env.call(t, "GET", "/v1/jobs", "", "Authorization", "Bearer "+a)
	if json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != 200 || len(page.Jobs) != 1 || page.Jobs[0].ID != job.ID {
		t.Errorf("a's list: %d %s", rec.Code, rec.Body.String())
	}
}

func TestHealthzOpenMode(t *testing.T) {
	e, _ := newTestEngine(t)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"auth":"off"`) || !strings.Contains(rec.Body.String(), "warning") {
		t.Fatalf("healthz in open mode: %s", rec.Body.String())
	}
}

func TestProvider(t *testing.T) {
	for host, want := range map[string]string{
		"aspmx.l.google.com.":                  "google",
		"shop-com.mail.protection.outlook.com": "microsoft",
		"mta7.am0.yahoodns.net":                "yahoo",
		"mx.shop.test":                         "other",
		"google.com.evil.example":              "other",
		"":                                     "other",
	} {
		if got := provider(host); got != want {
			t.Errorf("provider(%q) = %q, want %q", host, got, want)
		}
	}
}

// Concurrent calls share one quota exactly.
func TestAuthQuotaConcurrent(t *testing.T) {
	env := newAuthEnv(t)
	_, k := env.key(t, keys.Spec{Name: "busy", Kind: keys.Secret, DailyQuota: 150})
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				req := httptest.NewRequest("GET", "/v1/verify?email=a@example.com", nil)
				req.Header.Set("Authorization", "Bearer "+k)
				rec := httptest.NewRecorder()
				env.e.ServeHTTP(rec, req)
				switch rec.Code {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 150 || limited.Load() != 50 {
		t.Fatalf("%d answered, %d refused; want 150 and 50", ok.Load(), limited.Load())
	}
}

package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/doctor"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
)

// fakeDoctor holds a fixed report; ready false is before the first run.
type fakeDoctor struct {
	rep   doctor.Report
	ready bool
}

func (f fakeDoctor) Last() (doctor.Report, bool) { return f.rep, f.ready }

func (f fakeDoctor) Disabled() string { return "" }

var listedReport = doctor.Report{At: time.Date(2026, 12, 1, 14, 2, 0, 0, time.UTC), Checks: []doctor.Check{
	{Route: "203.0.113.7", Name: "port25", Status: doctor.Pass, Detail: "mx answered"},
	{Route: "203.0.113.7", Name: "dnsbl:zen.spamhaus.org", Status: doctor.Fail, Detail: "203.0.113.7 is listed on zen.spamhaus.org (127.0.0.2); request delisting from the list's site"},
}}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

// TestDoctorRoutes: /v1/doctor serves the last report (503 before the
// first), /healthz summarises it, and sender health lists the failed
// checks of our own routes as block signals.
func TestDoctorRoutes(t *testing.T) {
	if rec := get(t, New(Config{MaxBodyBytes: 1 << 20}, Deps{Doctor: fakeDoctor{}}), "/v1/doctor"); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("before the first run: %d %s", rec.Code, rec.Body)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	list, err := suppression.New(ctx, db, suppression.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Close() })
	e := New(Config{MaxBodyBytes: 1 << 20}, Deps{Doctor: fakeDoctor{rep: listedReport, ready: true}, Bounces: fixedClock{list}})

	rec := get(t, e, "/v1/doctor")
	var rep doctor.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); rec.Code != 200 || err != nil || len(rep.Checks) != 2 {
		t.Errorf("/v1/doctor: %d %s", rec.Code, rec.Body)
	}
	if rec := get(t, e, "/healthz"); !strings.Contains(rec.Body.String(), `"failed_checks":1`) {
		t.Errorf("/healthz: %s", rec.Body)
	}
	rec = get(t, e, "/v1/sender-health")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"route_signals":[{"route":"203.0.113.7","check":"dnsbl:zen.spamhaus.org"`) {
		t.Errorf("/v1/sender-health: %d %s", rec.Code, rec.Body)
	}
}

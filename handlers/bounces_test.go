package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
)

// healthNow is the fixed "now" of sender health in these tests; the
// events in testdata/bounces carry explicit times before it.
var healthNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixedClock is the real list with Health pinned to healthNow, so that
// the golden sender-health body does not depend on the day the test runs.
type fixedClock struct{ *suppression.List }

func (f fixedClock) Health(ctx context.Context, _ time.Time) (suppression.Health, error) {
	return f.List.Health(ctx, healthNow)
}

func newBounceEngine(t *testing.T) *gin.Engine {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "preflight.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	list, err := suppression.New(ctx, db, suppression.Policy{SoftLimit: 3, SoftWindow: 30 * 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { list.Close() })
	return New(Config{DefaultTimeout: time.Second, MaxTimeout: time.Second, BatchMax: 3, MaxBodyBytes: 1 << 20},
		Deps{Bounces: fixedClock{list}})
}

func bounceFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bounces", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// multipartReport splits a DSN file into the Content-Type of its
// multipart/report and its body, as a client posts the report alone.
func multipartReport(t *testing.T, eml string) (contentType, body string) {
	t.Helper()
	head, body, ok := strings.Cut(eml, "\r\n\r\n")
	if !ok {
		t.Fatal("no header/body separator")
	}
	for _, line := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(line, "Content-Type: "); ok {
			return v, body
		}
	}
	t.Fatal("no Content-Type")
	return "", ""
}

// TestBounceRoutes runs in order on one list: events first, then the
// reads that depend on them.
func TestBounceRoutes(t *testing.T) {
	e := newBounceEngine(t)
	dsn := bounceFile(t, "dsn.eml")
	reportType, reportBody := multipartReport(t, dsn)
	tests := []struct {
		name, method, target, contentType, body string
		status                                  int
	}{
		// Classification.
		{"bounces_classify_message", "POST", "/v1/bounces/classify", "application/json",
			`{"message": "smtp;550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550 5.1.1 unnecessary spaces. - gsmtp"}`, 200},
		{"bounces_classify_messages", "POST", "/v1/bounces/classify", "application/json",
			`{"messages": ["550 5.7.1 Service unavailable, MailFrom domain is listed in Spamhaus", "452 4.2.2 The email account that you tried to reach is over quota. - gsmtp", "550 5.2.0 Message rejected due to DMARC", "552 5.3.4 Message size exceeds fixed maximum message size", "550 rejected"]}`, 200},
		{"bounces_classify_dsn", "POST", "/v1/bounces/classify", "message/rfc822", dsn, 200},
		{"bounces_classify_dsn_multipart", "POST", "/v1/bounces/classify", reportType, reportBody, 200},
		{"bounces_classify_not_dsn", "POST", "/v1/bounces/classify", "message/rfc822", bounceFile(t, "not_dsn.eml"), 400},
		{"bounces_classify_missing", "POST", "/v1/bounces/classify", "application/json", `{}`, 400},
		{"bounces_classify_blank", "POST", "/v1/bounces/classify", "application/json", `{"message": "  "}`, 400},
		{"bounces_classify_both", "POST", "/v1/bounces/classify", "application/json", `{"message": "550", "messages": ["550"]}`, 400},
		{"bounces_classify_qmail", "POST", "/v1/bounces/classify", "message/rfc822", bounceFile(t, "qmail.eml"), 200},
		{"bounces_classify_arf", "POST", "/v1/bounces/classify", "message/rfc822", bounceFile(t, "arf.eml"), 200},
		{"bounces_classify_bad_json", "POST", "/v1/bounces/classify", "application/json", `{"message": `, 400},

		// Events.
		{"suppressions_events_postmark", "POST", "/v1/suppressions/events", "application/json", bounceFile(t, "postmark_hard.json"), 200},
		{"suppressions_events_postmark_again", "POST", "/v1/suppressions/events", "application/json", bounceFile(t, "postmark_hard.json"), 200},
		{"suppressions_events_ses_sns", "POST", "/v1/suppressions/events", "text/plain; charset=UTF-8", bounceFile(t, "ses_sns_permanent.json"), 200},
		{"suppressions_events_own", "POST", "/v1/suppressions/events", "application/json", bounceFile(t, "own_events.json"), 200},
		{"suppressions_events_sns_subscription", "POST", "/v1/suppressions/events", "text/plain; charset=UTF-8", bounceFile(t, "sns_subscription.json"), 400},
		{"suppressions_events_ses_complaint", "POST", "/v1/suppressions/events", "application/json", bounceFile(t, "ses_complaint.json"), 200},
		{"suppressions_events_malformed", "POST", "/v1/suppressions/events", "application/json", `{"email": "a@example.com"}`, 400},
		{"suppressions_events_invalid_email", "POST", "/v1/suppressions/events", "application/json", `{"email": "not an address", "message": "550 5.1.1 user unknown"}`, 400},

		// Lookups and removal.
		{"suppressions_get_hard", "GET", "/v1/suppressions/Gone%40Gmail.com", "", "", 200},
		{"suppressions_get_soft", "GET", "/v1/suppressions/soft@example.org", "", "", 200},
		{"suppressions_get_block", "GET", "/v1/suppressions/victim@example.net", "", "", 404},
		{"suppressions_get_invalid", "GET", "/v1/suppressions/not-an-address", "", "", 400},
		{"suppressions_delete_no_reason", "DELETE", "/v1/suppressions/gone@gmail.com", "", "", 400},
		{"suppressions_delete", "DELETE", "/v1/suppressions/gone@gmail.com?reason=customer+confirmed+new+mailbox", "", "", 200},
		{"suppressions_delete_again", "DELETE", "/v1/suppressions/gone@gmail.com?reason=again", "", "", 404},
		{"suppressions_get_after_delete", "GET", "/v1/suppressions/gone@gmail.com", "", "", 404},

		// Sender health (the fixed clock is 2026-03-01T12:00:00Z).
		{"sender_health", "GET", "/v1/sender-health", "", "", 200},
	}
	bodies := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
			bodies[tt.name] = rec.Body.String()
			golden(t, tt.name, rec.Body.Bytes())
		})
	}
	// The report posted alone reads the same as the whole message.
	if bodies["bounces_classify_dsn"] != bodies["bounces_classify_dsn_multipart"] {
		t.Errorf("multipart/report body differs from the message/rfc822 one")
	}

	t.Run("export", func(t *testing.T) {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/suppressions", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d: %s", rec.Code, rec.Body)
		}
		if ct, cd := rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"); ct != "text/csv; charset=utf-8" ||
			cd != `attachment; filename="suppressions.csv"` {
			t.Fatalf("headers: %q, %q", ct, cd)
		}
		goldenFile(t, "suppressions_export.csv", rec.Body.Bytes())
	})
}

// TestBounceRoutesWithoutStore: classification needs no store; the list
// routes are absent without one.
func TestBounceRoutesWithoutStore(t *testing.T) {
	e := New(Config{MaxBodyBytes: 1 << 20}, Deps{})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/bounces/classify", strings.NewReader(`{"message": "550 5.1.1 user unknown"}`)))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"class":"hard"`) {
		t.Fatalf("classify without a store: %d %s", rec.Code, rec.Body)
	}
	for _, target := range []string{"/v1/suppressions", "/v1/suppressions/a@example.com", "/v1/sender-health"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s without a store: %d", target, rec.Code)
		}
	}
}

func TestClassifyBodyTooLarge(t *testing.T) {
	e := New(Config{MaxBodyBytes: 64}, Deps{})
	for _, ct := range []string{"application/json", "message/rfc822"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/bounces/classify", strings.NewReader(`{"message": "`+strings.Repeat("x", 200)+`"}`))
		req.Header.Set("Content-Type", ct)
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: status %d, want 413", ct, rec.Code)
		}
	}
}

// TestIngestBounceMessage posts whole messages to /v1/suppressions/events:
// a bounce suppresses once however often it is posted, a complaint
// suppresses as complained, an auto-reply and an ordinary message are
// ignored.
func TestIngestBounceMessage(t *testing.T) {
	e := newBounceEngine(t)
	post := func(body string) (int, string) {
		req := httptest.NewRequest("POST", "/v1/suppressions/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "message/rfc822")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	get := func(email string) (int, string) {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/suppressions/"+email, nil))
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		name, body string
		want       []string // substrings of the response
	}{
		{"dsn", bounceFile(t, "dsn.eml"), []string{`"ingested":2`, `"duplicates":0`}},
		{"dsn again", bounceFile(t, "dsn.eml"), []string{`"ingested":0`, `"duplicates":2`}},
		{"arf", bounceFile(t, "arf.eml"), []string{`"ingested":1`, `"reason":"complained"`, `"suppressed":true`}},
		{"autoreply", bounceFile(t, "autoreply.eml"), []string{`"ingested":0`, `"ignored":"an auto-reply`}},
		{"not a bounce", bounceFile(t, "not_dsn.eml"), []string{`"ignored":"not a bounce`}},
	}
	for _, tt := range tests {
		code, body := post(tt.body)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tt.name, code, body)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: response lacks %s: %s", tt.name, w, body)
			}
		}
	}
	if code, body := get("gone@gmail.com"); code != http.StatusOK || !strings.Contains(body, `"reason":"mailbox_not_found"`) {
		t.Errorf("hard bounce not suppressed: %d %s", code, body)
	}
	if code, body := get("nekonyaan@example.org"); code != http.StatusNotFound {
		t.Errorf("auto-reply sender suppressed: %d %s", code, body)
	}
}

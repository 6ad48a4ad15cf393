package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/sandbox"
)

type fakeHealth string

func (f fakeHealth) Health() string { return string(f) }

// TestHealthzRedis: the shared layer's state is reported, and a degraded
// one is still a 200, since the instance answers without it.
func TestHealthzRedis(t *testing.T) {
	tests := []struct {
		name  string
		redis Health
		want  string
	}{
		{"none", nil, ""},
		{"not configured", fakeHealth(""), ""},
		{"ok", fakeHealth("ok"), `"redis":"ok"`},
		{"degraded", fakeHealth("degraded"), `"redis":"degraded"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(Config{}, Deps{Verifier: sandbox.Verifier{}, Redis: tt.redis})
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, body)
			}
			if tt.want == "" && strings.Contains(body, "redis") || !strings.Contains(body, tt.want) {
				t.Fatalf("healthz = %s, want %s", body, tt.want)
			}
		})
	}
}

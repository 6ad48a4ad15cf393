package redact

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.example.com/preflight?token=s3cret&x=1", "https://hooks.example.com/preflight?token=REDACTED&x=REDACTED"},
		{"socks5://user:pa55@127.0.0.4:1080", "socks5://user:REDACTED@127.0.0.4:1080"},
		{"postgres://app:pw@db.internal/preflight?sslmode=require", "postgres://app:REDACTED@db.internal/preflight?sslmode=REDACTED"},
		{"https://tok3n@hooks.example.com/x", "https://REDACTED@hooks.example.com/x"},
		{"https://hooks.example.com/path#frag", "https://hooks.example.com/path#REDACTED"},
		{"https://hooks.example.com/plain", "https://hooks.example.com/plain"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLogsCarryNoSecret logs what a failed webhook delivery really
// produces, the error of an HTTP client, and scans the output for the
// secret in the callback URL.
func TestLogsCarryNoSecret(t *testing.T) {
	const secret = "hunter2-secret-token"
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: ReplaceAttr}))
	client := &http.Client{Timeout: time.Second}
	// Nothing listens on port 9 of 127.0.0.1: the request fails at once.
	req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://user:"+secret+"@127.0.0.1:9/hook?token="+secret, nil)
	_, err := client.Do(req)
	if err == nil {
		t.Fatal("the request to a closed port succeeded")
	}
	if !strings.Contains(err.Error(), secret) {
		t.Fatalf("the test needs an error that carries the URL; got %v", err)
	}
	log.Error("webhook delivery failed", "err", err, "url", "https://hooks.example.com/x?sig="+secret)
	log.WithGroup("job").Info("callback", "target", "see https://hooks.example.com/x?sig="+secret+" now")
	if strings.Contains(out.String(), secret) {
		t.Fatalf("the logs carry the secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "127.0.0.1:9/hook?token=REDACTED") {
		t.Errorf("the redacted URL should still name the host and path:\n%s", out.String())
	}
}

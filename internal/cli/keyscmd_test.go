package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeysUsageErrors(t *testing.T) {
	env := map[string]string{"PREFLIGHT_STORE_URL": "sqlite://" + filepath.Join(t.TempDir(), "k.db")}
	for _, args := range [][]string{
		{"keys"},
		{"keys", "rotate"},
		{"keys", "create"}, // no name
		{"keys", "create", "--name", "w", "--publishable"},                  // no origins
		{"keys", "create", "--name", "w", "--rate", "fast"},                 // bad rate
		{"keys", "create", "--name", "w", "--origins", "https://a.example"}, // origins on a secret key
		{"keys", "revoke"},
		{"keys", "revoke", "000000000000"},
	} {
		err := Run(context.Background(), args, getenv(env), nil, &bytes.Buffer{}, &bytes.Buffer{})
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	var out bytes.Buffer
	err := Run(context.Background(), []string{"keys", "create", "--name", "signup", "--publishable", "--origins", "https://shop.example,http://localhost:3000",
		"--rate", "5/s", "--daily-quota", "1000"}, getenv(env), nil, &out, &bytes.Buffer{})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err != nil || !strings.HasPrefix(lines[len(lines)-1], "pk_") {
		t.Fatalf("create: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := Run(context.Background(), []string{"keys", "list"}, getenv(env), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"signup", "publishable", "1000", "5/s", "active", "https://shop.example,http://localhost:3000"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("keys list lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), lines[len(lines)-1]) {
		t.Error("keys list shows a key")
	}
}

// Open mode: no key is made, a warning is logged, and /healthz says so.
func TestServeOpenMode(t *testing.T) {
	env := cliWorld(t)
	env["PREFLIGHT_AUTH_REQUIRED"] = "false"
	port, stop := startStoppable(t, env, "serve")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(body.String(), `"auth":"off"`) {
		t.Errorf("healthz: %s", body.String())
	}
	if logs := stop(); !strings.Contains(logs, "auth.required is false") {
		t.Errorf("no warning in the log:\n%s", logs)
	}
	dir := filepath.Dir(strings.TrimPrefix(env["PREFLIGHT_STORE_URL"], "sqlite://"))
	if _, err := os.Stat(filepath.Join(dir, "preflight.key")); err == nil {
		t.Error("open mode made a key file")
	}
}

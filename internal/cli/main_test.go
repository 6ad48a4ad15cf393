package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
	"github.com/preflight-email/preflight/verify"
)

// cliWorld starts a fake DNS server and one fake MX on loopback and returns
// the environment that points preflight at them, exactly as an operator
// would with PREFLIGHT_DNS_RESOLVERS and PREFLIGHT_PROBE_ALLOW_PRIVATE.
func cliWorld(t *testing.T) map[string]string {
	t.Helper()
	dns := dnstest.NewServer(t, `
$ORIGIN test.
$TTL 300
@       IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
shop    IN MX 10 mx.shop.test.
mx.shop IN A  127.0.0.40
null    IN MX 0 .
`)
	port, lns := smtptest.Listen(t, "127.0.0.40")
	smtptest.Serve(t, lns[0], smtptest.Options{Replies: map[string]smtptest.Reply{
		"anna@shop.test": smtptest.Accept(),
	}})
	return map[string]string{
		"PREFLIGHT_DNS_RESOLVERS":       dns.Addr,
		"PREFLIGHT_PROBE_ALLOW_PRIVATE": "true",
		"PREFLIGHT_PROBE_PORT":          fmt.Sprint(port),
		"PREFLIGHT_PROBE_HELO":          "probe.preflight.test",
		"PREFLIGHT_PROBE_MAIL_FROM":     "verify@preflight.test",
		"PREFLIGHT_STORE_URL":           "sqlite://" + t.TempDir() + "/p.db",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestVerifyJSON(t *testing.T) {
	env := cliWorld(t)
	var out, errOut bytes.Buffer
	stdin := strings.NewReader("anna@shop.test\n\nbob@shop.test\n  x@null.test  \nnot-an-address\n")
	if err := Run(context.Background(), []string{"verify", "--json"}, getenv(env), stdin, &out, &errOut); err != nil {
		t.Fatalf("run: %v (stderr %s)", err, errOut.String())
	}
	want := []struct{ email, verdict, reason string }{
		{"anna@shop.test", "deliverable", "accepted"},
		{"bob@shop.test", "undeliverable", "mailbox_not_found"},
		{"x@null.test", "undeliverable", "no_mail_server"},
		{"not-an-address", "undeliverable", "invalid_syntax"},
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		var r verify.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if r.Email != want[i].email || string(r.Verdict) != want[i].verdict || string(r.Reason) != want[i].reason {
			t.Errorf("line %d = %s %s/%s, want %+v (input order must be kept)", i+1, r.Email, r.Verdict, r.Reason, want[i])
		}
	}
}

func TestVerifyTable(t *testing.T) {
	env := cliWorld(t)
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"verify", "anna@shop.test", "anna@shop.tset"}, getenv(env), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"EMAIL", "VERDICT", "anna@shop.test", "deliverable", "domain_not_found"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{}
	tests := []struct {
		args []string
		env  map[string]string
		msg  string
	}{
		{nil, env, "missing command"},
		{[]string{"frobnicate"}, env, "unknown command"},
		{[]string{"verify", "--no-such-flag"}, env, "unknown flag"},
		{[]string{"verify"}, env, "no addresses given"},
		{[]string{"serve"}, map[string]string{"PREFLIGHT_PROBE_PORT": "0"}, "probe.port"},
		{[]string{"verify", "--dns.timeout=soon", "a@b.test"}, env, "dns.timeout"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			err := Run(context.Background(), tt.args, getenv(tt.env), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want a usage error mentioning %q", err, tt.msg)
			}
			if code := ExitCode(err, &stderr); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.msg) {
				t.Fatalf("stderr %q does not explain the problem", stderr.String())
			}
		})
	}
	if code := ExitCode(nil, &bytes.Buffer{}); code != 0 {
		t.Fatalf("success exit code %d", code)
	}
	var stderr bytes.Buffer
	if code := ExitCode(fmt.Errorf("verify: %w", context.Canceled), &stderr); code != 130 || !strings.Contains(stderr.String(), "interrupted; re-run to resume") {
		t.Fatalf("interrupted: exit code %d, stderr %q; want 130 and how to resume", code, stderr.String())
	}
}

// TestHelpAndVersion: asking for help or the version succeeds and prints
// to stdout.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"verify", "--help"}, {"serve", "-h"}, {"bounce", "--help"}, {"--version"}, {"version"}} {
		var stdout bytes.Buffer
		if err := Run(context.Background(), args, getenv(nil), strings.NewReader(""), &stdout, &bytes.Buffer{}); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		want := "Usage:"
		if strings.Contains(args[0], "version") {
			want = "preflight "
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("%v printed %q, want %q in it", args, stdout.String(), want)
		}
	}
}

// TestVerifyWarnsNothingAboutIdentity: the HELO and MAIL FROM warnings are
// for serve's start-up, not for every run of the CLI.
func TestVerifyWarnsNothingAboutIdentity(t *testing.T) {
	env := cliWorld(t)
	delete(env, "PREFLIGHT_PROBE_HELO")
	delete(env, "PREFLIGHT_PROBE_MAIL_FROM")
	var stderr bytes.Buffer
	if err := Run(context.Background(), []string{"verify", "--json", "anna@shop.test"}, getenv(env), nil, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "probe.helo") {
		t.Errorf("verify warned about the HELO name: %s", stderr.String())
	}
}

// TestServeShutsDownGracefully starts the service in-process, answers one
// request and stops cleanly when its context is cancelled.
func TestServeShutsDownGracefully(t *testing.T) {
	env := cliWorld(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan net.Addr, 1)
	opts := serveOptions{Listener: ln, NotifyStarted: func(a net.Addr) { started <- a }}
	var logs bytes.Buffer
	go func() { done <- runServe(ctx, "serve", nil, getenv(env), &logs, opts) }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}

	// On first start serve makes a key and writes it next to the
	// database, readable by its user only.
	keyPath := filepath.Join(filepath.Dir(strings.TrimPrefix(env["PREFLIGHT_STORE_URL"], "sqlite://")), "preflight.key")
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("preflight.key: %v, mode %v", err, fi.Mode())
	}
	b, _ := os.ReadFile(keyPath)
	key := strings.TrimSpace(string(b))
	get := func(url, key string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	verifyURL := fmt.Sprintf("http://127.0.0.1:%d/v1/verify?email=anna@shop.test", port)
	if resp := get(verifyURL, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key: %d, want 401", resp.StatusCode)
	}
	// keys create and revoke work while serve runs on the same store.
	var created bytes.Buffer
	if err := Run(context.Background(), []string{"keys", "create", "--name", "ci", "--test"}, getenv(env), nil, &created, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(created.String()), "\n")
	testKey := lines[len(lines)-1]
	if resp := get(fmt.Sprintf("http://127.0.0.1:%d/v1/verify?email=undeliverable@gmail.com", port), testKey); resp.StatusCode != http.StatusOK {
		t.Fatalf("test key: %d", resp.StatusCode)
	}
	var list bytes.Buffer
	if err := Run(context.Background(), []string{"keys", "list", "--json"}, getenv(env), nil, &list, &bytes.Buffer{}); err != nil || strings.Count(list.String(), "\n") != 2 {
		t.Fatalf("keys list: %v\n%s", err, list.String())
	}
	id := strings.Fields(lines[0])[1]
	if err := Run(context.Background(), []string{"keys", "revoke", id}, getenv(env), nil, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp := get(verifyURL, testKey); resp.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a revoked key still works after 5s")
		}
	}

	resp := get(verifyURL, key)
	var r verify.Result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Verdict != "deliverable" {
		t.Fatalf("verify through the service: %v %+v", err, r)
	}
	resp.Body.Close()
	mresp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{"preflight_probe_sessions_total 1", "preflight_probe_rcpts_total", `preflight_verifications_total{reason="accepted",verdict="deliverable"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v on shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if strings.Contains(logs.String(), key) || !strings.Contains(logs.String(), keyPath) {
		t.Errorf("the log must name the key file and never the key:\n%s", logs.String())
	}
}

// TestVerifyConsultsExistingStore: the CLI reads the service's suppression
// list when the store exists, and creates no store when it does not.
func TestVerifyConsultsExistingStore(t *testing.T) {
	env := cliWorld(t)
	path := strings.TrimPrefix(env["PREFLIGHT_STORE_URL"], "sqlite://")
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"verify", "--json", "anna@shop.test"}, getenv(env), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the CLI created a store it did not need")
	}

	ctx := context.Background()
	db, err := store.Open(ctx, env["PREFLIGHT_STORE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	list, err := suppression.New(ctx, db, suppression.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := list.Ingest(ctx, []suppression.Event{{Email: "anna@shop.test", Message: "550 5.1.1 User unknown", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	list.Close()
	db.Close()

	out.Reset()
	if err := Run(context.Background(), []string{"verify", "--json", "anna@shop.test"}, getenv(env), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var r verify.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Reason != "suppressed" || r.Suppression == nil {
		t.Fatalf("got %s/%s, want undeliverable/suppressed from the existing store", r.Verdict, r.Reason)
	}
}

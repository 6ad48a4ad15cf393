package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// startRole runs serve or worker in-process on a loopback socket and
// returns its port; the process stops with the test.
func startRole(t *testing.T, env map[string]string, cmd string, args ...string) int {
	t.Helper()
	port, _ := startStoppable(t, env, cmd, args...)
	return port
}

// startStoppable is startRole with a stop function, which cancels the
// process, waits for it to end and returns what it logged.
func startStoppable(t *testing.T, env map[string]string, cmd string, args ...string) (int, func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan net.Addr, 1)
	var logs bytes.Buffer
	go func() {
		done <- runServe(ctx, cmd, args, getenv(env), &logs, serveOptions{Listener: ln, NotifyStarted: func(a net.Addr) { started <- a }})
	}()
	var once sync.Once
	stop := func() string {
		t.Helper()
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", cmd, err)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("%s did not stop", cmd)
			}
		})
		return logs.String()
	}
	t.Cleanup(func() { stop() })
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("%s: %v\n%s", cmd, err, logs.String())
	}
	return ln.Addr().(*net.TCPAddr).Port, stop
}

// TestRoles: serve --no-worker serves the API and says so; a worker serves
// /healthz and /metrics and no API; preflight health reads /healthz.
func TestRoles(t *testing.T) {
	env := cliWorld(t)
	env["PREFLIGHT_AUTH_REQUIRED"] = "false"
	for _, tc := range []struct {
		cmd      string
		args     []string
		role     string
		verifyOK bool
	}{
		{"serve", []string{"--no-worker"}, "api", true},
		{"worker", nil, "worker", false},
		{"serve", nil, "api+worker", true},
	} {
		t.Run(tc.role, func(t *testing.T) {
			port := startRole(t, env, tc.cmd, tc.args...)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			resp, err := http.Get(base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			var h struct {
				Status, Role, Store string
				Queue               *struct{ Available int }
			}
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode != 200 || h.Status != "ok" || h.Role != tc.role || h.Store != "ok" || h.Queue == nil {
				t.Errorf("healthz: %d %+v", resp.StatusCode, h)
			}
			resp, err = http.Get(base + "/v1/verify?email=anna@shop.test")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (resp.StatusCode == 200) != tc.verifyOK {
				t.Errorf("verify on a %s: %d", tc.role, resp.StatusCode)
			}
			var out bytes.Buffer
			if err := Run(context.Background(), []string{"health", "--url", base + "/healthz"}, getenv(env), nil, &out, &bytes.Buffer{}); err != nil {
				t.Errorf("preflight health: %v\n%s", err, out.String())
			}
		})
	}
	// Nothing listens there: health fails.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if err := Run(context.Background(), []string{"health", "--url", "http://" + addr + "/healthz"}, getenv(env), nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("preflight health succeeded with nothing listening")
	}
}

// TestNoWorkerQueuesForWorker: a job uploaded to serve --no-worker waits,
// queued, until a worker on the same store takes it and finishes it.
func TestNoWorkerQueuesForWorker(t *testing.T) {
	env := cliWorld(t)
	env["PREFLIGHT_AUTH_REQUIRED"] = "false"
	base := fmt.Sprintf("http://127.0.0.1:%d", startRole(t, env, "serve", "--no-worker"))
	resp, err := http.Post(base+"/v1/jobs", "text/csv", strings.NewReader("email\nanna@shop.test\nbob@shop.test\nx@null.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ ID, Status string }
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || st.ID == "" {
		t.Fatalf("upload: %d %+v", resp.StatusCode, st)
	}
	status := func() string {
		t.Helper()
		resp, err := http.Get(base + "/v1/jobs/" + st.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s struct{ Status string }
		json.NewDecoder(resp.Body).Decode(&s)
		return s.Status
	}
	time.Sleep(500 * time.Millisecond)
	if s := status(); s != "queued" {
		t.Fatalf("with no worker the job is %q, want queued", s)
	}
	startRole(t, env, "worker")
	deadline := time.Now().Add(30 * time.Second)
	for status() != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not finish the job: %s", status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

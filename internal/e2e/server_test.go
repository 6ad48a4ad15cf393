package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/testworld"
)

// server is one preflight serve process.
type server struct {
	cmd  *exec.Cmd
	base string
	logs *testworld.SyncBuffer
}

// startServer runs `preflight serve` with env (PREFLIGHT_* keys) and
// extraEnv (KEY=value) as its whole environment. The test makes the
// listening socket and hands it over as systemd does (LISTEN_FDS=1,
// descriptor 3): connections wait in its backlog until the server accepts
// them, so there is no port to guess and no race for it.
func startServer(t testing.TB, bin, dbPath string, env map[string]string, extraEnv ...string) *server {
	t.Helper()
	return startProcess(t, bin, "serve", "sqlite://"+dbPath, env, extraEnv...)
}

// startProcess runs `preflight CMD` (serve or worker) on the store at
// storeURL, as startServer does.
func startProcess(t testing.TB, bin, command, storeURL string, env map[string]string, extraEnv ...string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, command)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LISTEN_FDS=1", "PREFLIGHT_STORE_URL=" + storeURL, "PREFLIGHT_LOG_LEVEL=info",
		// These tests are about jobs and crashes, not keys.
		"PREFLIGHT_AUTH_REQUIRED=false"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.ExtraFiles = []*os.File{f}
	s := &server{cmd: cmd, base: "http://" + ln.Addr().String(), logs: &testworld.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return s
}

// kill9 ends the process with SIGKILL: no deferred function, no flush.
func (s *server) kill9(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
}

type jobStatus struct {
	ID        string         `json:"id"`
	Status    string         `json:"status"`
	Total     int            `json:"total"`
	Processed int            `json:"processed"`
	Counts    map[string]int `json:"counts"`
}

func (s *server) upload(t testing.TB, body []byte) string {
	t.Helper()
	return s.uploadFrom(t, bytes.NewReader(body))
}

func (s *server) uploadFrom(t testing.TB, body io.Reader) string {
	t.Helper()
	resp, err := http.Post(s.base+"/v1/jobs", "text/csv", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st jobStatus
	json.NewDecoder(resp.Body).Decode(&st)
	if resp.StatusCode != http.StatusAccepted || st.ID == "" {
		t.Fatalf("upload: %d %+v", resp.StatusCode, st)
	}
	return st.ID
}

func (s *server) status(t testing.TB, id string) jobStatus {
	t.Helper()
	resp, err := http.Get(s.base + "/v1/jobs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st jobStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		logs := s.logs.String()
		t.Fatalf("status: %d %v\n%s", resp.StatusCode, err, logs[max(0, len(logs)-3000):])
	}
	return st
}

// waitThird waits until a third of the job is processed, and fails the
// test if the job is done by then: a kill meant for the middle of a job
// would come too late.
func (s *server) waitThird(t testing.TB, id string) {
	t.Helper()
	for {
		st := s.status(t, id)
		if st.Status == "done" {
			t.Fatal("the job finished before it could be killed; slow the fakes down")
		}
		if st.Processed >= st.Total/3 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *server) waitDone(t testing.TB, id string) jobStatus {
	t.Helper()
	return s.waitDoneFor(t, id, 60*time.Second)
}

func (s *server) waitDoneFor(t testing.TB, id string, limit time.Duration) jobStatus {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := s.status(t, id)
		if st.Status == "done" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s at %d/%d\n%s", id, st.Status, st.Processed, st.Total, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) results(t testing.TB, id string) []byte {
	t.Helper()
	resp, err := http.Get(s.base + "/v1/jobs/" + id + "/results")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("results: %d %v", resp.StatusCode, err)
	}
	return b
}

// metric reads one sample of the process's /metrics, 0 when absent.
func (s *server) metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func buildBinary(t testing.TB, bin string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", bin, "github.com/preflight-email/preflight")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

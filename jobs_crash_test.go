package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/store"
)

// crashWorld is what the preflight binary talks to: a fake DNS server and
// fake MX hosts on loopback, slow enough per RCPT that a job of a few
// thousand rows takes seconds.
type crashWorld struct {
	dns     *dnstest.Server
	port    int
	servers []*smtptest.Server
	csv     []byte
	rows    int
}

func newCrashWorld(t *testing.T) *crashWorld {
	t.Helper()
	const hosts, domains, rows = 4, 40, 3000
	var zone strings.Builder
	zone.WriteString("$ORIGIN test.\n$TTL 3600\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n")
	ips := make([]string, hosts)
	for h := range hosts {
		ips[h] = fmt.Sprintf("127.0.0.%d", 30+h)
		fmt.Fprintf(&zone, "mx%d IN A %s\n", h, ips[h])
	}
	for d := range domains {
		fmt.Fprintf(&zone, "d%d IN MX 10 mx%d.test.\n", d, d%hosts)
	}
	w := &crashWorld{dns: dnstest.NewServer(t, zone.String()), rows: rows}
	// Every address exists but those of user numbers divisible by 7;
	// d5.test is a catch-all. Rows repeat addresses (i%2400), so
	// duplicates are in play too.
	exists := func(rcpt string) bool {
		var n, d int
		if _, err := fmt.Sscanf(rcpt, "user%d@d%d.test", &n, &d); err != nil {
			return d == 5 && strings.HasSuffix(rcpt, "@d5.test")
		}
		return n%7 != 0 || d == 5
	}
	port, lns := smtptest.Listen(t, ips...)
	w.port = port
	for _, ln := range lns {
		w.servers = append(w.servers, smtptest.Serve(t, ln, smtptest.Options{
			RcptDelay: 4 * time.Millisecond,
			Rcpt: func(rcpt string) (smtptest.Reply, bool) {
				if exists(rcpt) || strings.HasSuffix(rcpt, "@d5.test") {
					return smtptest.Accept(), true
				}
				return smtptest.UserUnknown(), true
			},
		}))
	}
	var b bytes.Buffer
	b.WriteString("Email Address,First Name,Row\n")
	for i := range rows {
		n := i % 2400
		fmt.Fprintf(&b, "user%d@d%d.test,Name %d,%d\n", n, n%domains, i, i)
	}
	w.csv = b.Bytes()
	return w
}

// mark returns how many RCPTs each fake has received so far.
func (w *crashWorld) mark() []int {
	out := make([]int, len(w.servers))
	for i, s := range w.servers {
		out[i] = s.Rcpts()
	}
	return out
}

// since returns the RCPTs the fakes received after mark.
func (w *crashWorld) since(mark []int) []string {
	var out []string
	for i, s := range w.servers {
		out = append(out, s.Recipients()[mark[i]:]...)
	}
	return out
}

// server is one preflight serve process.
type server struct {
	cmd  *exec.Cmd
	base string
	logs *bytes.Buffer
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer runs `preflight serve` against the world, with extraEnv
// (KEY=value) added to its environment.
func startServer(t testing.TB, bin, dbPath string, w *crashWorld, extraEnv ...string) *server {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		fmt.Sprintf("PREFLIGHT_HTTP_ADDR=127.0.0.1:%d", port),
		"PREFLIGHT_STORE_URL=sqlite://" + dbPath,
		"PREFLIGHT_DNS_RESOLVERS=" + w.dns.Addr,
		"PREFLIGHT_PROBE_ALLOW_PRIVATE=true",
		fmt.Sprintf("PREFLIGHT_PROBE_PORT=%d", w.port),
		"PREFLIGHT_PROBE_HELO=probe.preflight.test",
		"PREFLIGHT_PROBE_MAIL_FROM=verify@preflight.test",
		"PREFLIGHT_PROBE_RATE_PER_HOST=1000",
		"PREFLIGHT_PROBE_BURST_PER_HOST=1000",
		"PREFLIGHT_PROBE_RCPT_RATE_PER_HOST=1000",
		"PREFLIGHT_PROBE_RCPT_BURST_PER_HOST=1000",
		"PREFLIGHT_PROBE_MAX_SESSIONS_PER_HOST=3",
		"PREFLIGHT_JOBS_CONCURRENCY=64",
		"PREFLIGHT_LOG_LEVEL=info",
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	s := &server{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &bytes.Buffer{}}
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
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
		t.Fatalf("status: %d %v", resp.StatusCode, err)
	}
	return st
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

// settled reads, from the database a killed process left, the addresses
// whose answers had been committed.
func settled(t *testing.T, dbPath, id string) map[string]bool {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT a.akey FROM job_addresses a JOIN jobs j ON j.pk = a.job WHERE j.id = ? AND a.state = 2`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		out[k] = true
	}
	return out
}

func buildBinary(t testing.TB, bin string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// TestJobSurvivesKill9 runs the real binary: one uninterrupted run for
// reference, then a run that is killed with SIGKILL in the middle of the
// job and restarted on the same database. The restarted process resumes
// the job by itself; its results must equal the reference byte for byte,
// with every row once and in order, and no address whose answer was
// committed before the kill may be asked about again.
func TestJobSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "preflight")
	buildBinary(t, bin)
	w := newCrashWorld(t)

	ref := startServer(t, bin, filepath.Join(dir, "ref.db"), w)
	refID := ref.upload(t, w.csv)
	ref.waitDone(t, refID)
	want := ref.results(t, refID)
	ref.kill9(t)

	dbPath := filepath.Join(dir, "crash.db")
	start := w.mark()
	first := startServer(t, bin, dbPath, w)
	id := first.upload(t, w.csv)
	for {
		st := first.status(t, id)
		if st.Status == "done" {
			t.Fatal("the job finished before it could be killed; slow the fakes down")
		}
		if st.Processed >= st.Total/3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	first.kill9(t)
	// Let the fakes read what the dead client had already sent.
	time.Sleep(200 * time.Millisecond)
	before := w.mark()
	done := settled(t, dbPath, id)
	if len(done) == 0 {
		t.Fatal("nothing was committed before the kill")
	}

	second := startServer(t, bin, dbPath, w)
	st := second.waitDone(t, id)
	got := second.results(t, id)
	if st.Total != w.rows || st.Processed != w.rows {
		t.Errorf("total %d, processed %d; want %d", st.Total, st.Processed, w.rows)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("results after kill -9 and restart differ from an uninterrupted run")
	}
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != w.rows+1 {
		t.Fatalf("%d data rows, want %d", len(recs)-1, w.rows)
	}
	for i, r := range recs[1:] {
		if r[2] != fmt.Sprint(i) {
			t.Fatalf("row %d holds row %s: lost, duplicated or out of order", i, r[2])
		}
	}
	asked := map[string]int{}
	after := w.since(before)
	for _, r := range after {
		asked[strings.ToLower(r)]++
	}
	again := 0
	for a := range done {
		if asked[strings.ToLower(a)] > 0 {
			again++
		}
	}
	if again > 0 {
		t.Errorf("%d addresses committed before the kill were asked again after the restart", again)
	}
	redone := 0
	for i, s := range w.servers {
		for _, r := range s.Recipients()[start[i]:before[i]] {
			if asked[strings.ToLower(r)] > 0 && strings.HasPrefix(r, "user") {
				redone++
				asked[strings.ToLower(r)] = 0
			}
		}
	}
	t.Logf("%d rows, 2400 distinct; %d committed before the kill; %d RCPTs after the restart; %d addresses in flight at the kill were asked again",
		w.rows, len(done), len(after), redone)
}

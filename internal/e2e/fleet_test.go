package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/internal/testworld"
	"github.com/preflight-email/preflight/store"
)

// fleetEnv is the world's configuration with small chunks, so that a job
// of 2,400 addresses is 24 River jobs for the instances to share, and
// short budgets, so that a dead instance's chunks are rescued in seconds
// rather than minutes: rescue_after must exceed chunk_time plus a check's
// budget (verify.probe_timeout + dns.timeout × dns.attempts + 10 s).
func fleetEnv(w *testworld.World) map[string]string {
	env := w.Env()
	env["PREFLIGHT_JOBS_CHUNK_SIZE"] = "100"
	env["PREFLIGHT_JOBS_CHUNK_TIME"] = "1s"
	env["PREFLIGHT_VERIFY_PROBE_TIMEOUT"] = "3s"
	env["PREFLIGHT_DNS_TIMEOUT"] = "500ms"
	env["PREFLIGHT_JOBS_RESCUE_AFTER"] = "16s"
	return env
}

// checkRows fails unless got is want: every row of the list once, in
// order, with the same answers as an uninterrupted single instance (or
// run).
func checkRows(t *testing.T, w *testworld.World, got, want []byte) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != w.Rows+1 {
		t.Fatalf("%d data rows, want %d", len(recs)-1, w.Rows)
	}
	for i, r := range recs[1:] {
		if r[2] != fmt.Sprint(i) {
			t.Fatalf("row %d holds row %s: lost, duplicated or out of order", i, r[2])
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the fleet's results differ from a single instance's")
	}
}

// fleetSetup gives a fleet test its PostgreSQL schema (skipping without
// PostgreSQL), the binary, the world and one SQLite instance's results.
func fleetSetup(t *testing.T) (url, bin string, w *testworld.World, want []byte) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	url = storetest.URL(t, store.Postgres)
	bin = filepath.Join(t.TempDir(), "preflight")
	buildBinary(t, bin)
	w = testworld.New(t)
	return url, bin, w, reference(t, bin, w)
}

// reference runs the list through one instance on SQLite.
func reference(t *testing.T, bin string, w *testworld.World) []byte {
	t.Helper()
	ref := startServer(t, bin, filepath.Join(t.TempDir(), "ref.db"), fleetEnv(w))
	id := ref.upload(t, w.CSV)
	ref.waitDone(t, id)
	out := ref.results(t, id)
	ref.kill9(t)
	return out
}

// TestFleetTwoInstances: two processes of the binary on one PostgreSQL
// share one job: both work chunks of it, and the results are complete,
// in order and the same as one instance's.
func TestFleetTwoInstances(t *testing.T) {
	url, bin, w, want := fleetSetup(t)

	a := startProcess(t, bin, "serve", url, fleetEnv(w))
	b := startProcess(t, bin, "serve", url, fleetEnv(w))
	id := a.upload(t, w.CSV)
	st := b.waitDone(t, id)
	if st.Processed != w.Rows {
		t.Errorf("processed %d of %d", st.Processed, w.Rows)
	}
	checkRows(t, w, b.results(t, id), want)
	na, nb := a.metric(t, "preflight_jobs_chunk_seconds_count"), b.metric(t, "preflight_jobs_chunk_seconds_count")
	t.Logf("chunks worked: %v by the instance that took the upload, %v by the other", na, nb)
	if na == 0 || nb == 0 {
		t.Errorf("one instance worked no chunk: %v and %v", na, nb)
	}
}

// TestFleetKill9: of two instances working one job, one is killed with
// SIGKILL in the middle. River rescues its chunks and the other finishes
// the job: every row comes back once, as one instance would answer, and
// no address whose answer was committed before the kill is asked again.
func TestFleetKill9(t *testing.T) {
	url, bin, w, want := fleetSetup(t)

	// The fakes answer slowly enough that the job is still running when
	// a third of it is done.
	a := startProcess(t, bin, "serve", url, fleetEnv(w))
	b := startProcess(t, bin, "worker", url, fleetEnv(w))
	id := a.upload(t, w.CSV)
	a.waitThird(t, id)
	// Kill the worker: the API instance must finish what it had.
	b.kill9(t)
	killed := time.Now()
	time.Sleep(200 * time.Millisecond)
	before := w.Mark()
	done := settledIn(t, url, id)
	if len(done) == 0 {
		t.Fatal("nothing was committed before the kill")
	}
	takeover := orphansGone(t, url, killed)
	st := a.waitDoneFor(t, id, 3*time.Minute)
	t.Logf("the dead instance's chunks were taken over %v after the kill, the job done %v after it (rescue_after 16s; River's rescuer runs every 30s)",
		takeover.Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond))
	if st.Processed != w.Rows {
		t.Errorf("processed %d of %d", st.Processed, w.Rows)
	}
	checkRows(t, w, a.results(t, id), want)
	asked := map[string]bool{}
	for _, r := range w.Since(before) {
		asked[strings.ToLower(r)] = true
	}
	again := 0
	for addr := range done {
		if asked[strings.ToLower(addr)] {
			again++
		}
	}
	if again > 0 {
		t.Errorf("%d addresses committed before the kill were asked again", again)
	}
}

// settledIn reads, from the store a killed process left (a store.url),
// the addresses of a job whose answers had been committed.
func settledIn(t *testing.T, url, id string) map[string]bool {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(db.Rebind(`SELECT a.akey FROM job_addresses a JOIN jobs j ON j.pk = a.job WHERE j.id = ? AND a.state = 2`), id)
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

// orphansGone waits until no River job that was running at the kill is
// still marked running (River rescued them, and the survivor took them),
// and returns how long that took.
func orphansGone(t *testing.T, url string, killed time.Time) time.Duration {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := killed.Add(3 * time.Minute)
	for {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE state = 'running' AND attempted_at < $1`, killed).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return time.Since(killed)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d chunks of the dead instance still marked running", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

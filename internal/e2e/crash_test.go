// Package e2e holds the tests that build the preflight binary and run it
// as an operator would: a job that survives kill -9, a fleet of processes
// on one PostgreSQL, and the memory of a million-row list.
package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/testworld"
)

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
	w := testworld.New(t)

	ref := startServer(t, bin, filepath.Join(dir, "ref.db"), w.Env())
	refID := ref.upload(t, w.CSV)
	ref.waitDone(t, refID)
	want := ref.results(t, refID)
	ref.kill9(t)

	dbPath := filepath.Join(dir, "crash.db")
	start := w.Mark()
	first := startServer(t, bin, dbPath, w.Env())
	id := first.upload(t, w.CSV)
	first.waitThird(t, id)
	first.kill9(t)
	// Let the fakes read what the dead client had already sent.
	time.Sleep(200 * time.Millisecond)
	before := w.Mark()
	done := settledIn(t, "sqlite://"+dbPath, id)
	if len(done) == 0 {
		t.Fatal("nothing was committed before the kill")
	}

	second := startServer(t, bin, dbPath, w.Env())
	st := second.waitDone(t, id)
	got := second.results(t, id)
	if st.Total != w.Rows || st.Processed != w.Rows {
		t.Errorf("total %d, processed %d; want %d", st.Total, st.Processed, w.Rows)
	}
	checkRows(t, w, got, want)
	asked := map[string]int{}
	after := w.Since(before)
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
	for i, s := range w.Servers {
		for _, r := range s.Recipients()[start[i]:before[i]] {
			if asked[strings.ToLower(r)] > 0 && strings.HasPrefix(r, "user") {
				redone++
				asked[strings.ToLower(r)] = 0
			}
		}
	}
	t.Logf("%d rows, 2400 distinct; %d committed before the kill; %d RCPTs after the restart; %d addresses in flight at the kill were asked again",
		w.Rows, len(done), len(after), redone)
}

package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/internal/app"
	"github.com/preflight-email/preflight/internal/testworld"
)

func fileTestApp(t *testing.T, w *testworld.World) (config.Config, *app.App) {
	t.Helper()
	env := w.Env()
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return cfg, a
}

// TestVerifyFileResume interrupts `preflight verify --file --out` part way,
// runs it again, and compares the output with an uninterrupted run.
func TestVerifyFileResume(t *testing.T) {
	w := testworld.New(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "list.csv")
	if err := os.WriteFile(in, w.CSV, 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, a := fileTestApp(t, w)
	refOut := filepath.Join(dir, "ref.csv")
	var refErr testworld.SyncBuffer
	if err := runFile(context.Background(), cfg, a, in, refOut, &refErr); err != nil {
		t.Fatalf("%v\n%s", err, refErr.String())
	}
	want, _ := os.ReadFile(refOut)
	for _, s := range []string{fmt.Sprintf("%d rows (2400 distinct addresses) written to %s", w.Rows, refOut), "deliverable"} {
		if !strings.Contains(refErr.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, refErr.String())
		}
	}
	if _, err := os.Stat(refOut + stateSuffix); !os.IsNotExist(err) {
		t.Errorf("state file left after success: %v", err)
	}
	if strings.Contains(refErr.String(), "\r") || strings.Contains(refErr.String(), "rows/s") {
		t.Errorf("progress-bar frames written to a stderr that is not a terminal:\n%q", refErr.String())
	}

	// A second app, so that its result cache is cold as after a restart.
	cfg, a = fileTestApp(t, w)
	out := filepath.Join(dir, "out.csv")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Interrupt once a third of the addresses are committed.
		for ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			// Read-only, so that the watcher never competes with the run
			// for the write lock (nor creates the file before it does).
			if _, err := os.Stat(out + stateSuffix); err != nil {
				continue
			}
			db, err := sql.Open("sqlite", "file:"+out+stateSuffix+"?mode=ro&_pragma=busy_timeout(10000)")
			if err != nil {
				continue
			}
			var n int
			db.QueryRow(`SELECT coalesce(max(settled), 0) FROM jobs`).Scan(&n)
			db.Close()
			if n >= 800 {
				cancel()
			}
		}
	}()
	var first testworld.SyncBuffer
	err := runFile(ctx, cfg, a, in, out, &first)
	cancel()
	if err == nil {
		t.Fatal("the run finished before it was interrupted; slow the fakes down")
	}
	if !strings.Contains(first.String(), "run the same command again to resume") {
		t.Errorf("interrupted run (%v) says:\n%s", err, first.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("out written by an interrupted run: %v", err)
	}

	var second testworld.SyncBuffer
	if err := runFile(context.Background(), cfg, a, in, out, &second); err != nil {
		t.Fatalf("%v\n%s", err, second.String())
	}
	if !strings.Contains(second.String(), "resuming") {
		t.Errorf("second run did not resume:\n%s", second.String())
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the output holds personal data; its mode is %v, %v, want 0600", st.Mode().Perm(), err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Errorf("resumed output differs from the uninterrupted one")
	}
	if _, err := os.Stat(out + stateSuffix); !os.IsNotExist(err) {
		t.Errorf("state file left after success: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".out.csv.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

package jobs

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/outcome"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// TestEmptyEmailCell: a row whose email cell is empty or blank is stored
// under the empty key, which sorts first; it must still be handed to the
// verifier and settle (as invalid syntax), not fail the job as "not
// listed", and the row comes back in the export.
func TestEmptyEmailCell(t *testing.T) { storetest.Each(t, testEmptyEmailCell) }

func testEmptyEmailCell(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	v := newRuleVerifier()
	m := newManager(t, db, Config{}, v)
	in := "Email,Name\n,A\nc@example.com,C\n   ,B\n"
	st, err := m.Create(context.Background(), strings.NewReader(in), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 3 || st.Addresses != 2 {
		t.Fatalf("total %d, addresses %d; want 3 and 2", st.Total, st.Addresses)
	}
	done := waitSettled(t, m, st.ID)
	if done.Status != Done {
		t.Fatalf("job %s: %q", done.Status, done.Error)
	}
	if done.Processed != 3 || done.Counts[outcome.Undeliverable] != 2 || done.Counts[outcome.Deliverable] != 1 {
		t.Errorf("processed %d, counts %v; want 2 undeliverable and 1 deliverable", done.Processed, done.Counts)
	}
	if c, _ := v.calls(""); c != 1 {
		t.Errorf("the empty address was checked %d times, want 1", c)
	}
	var out bytes.Buffer
	if err := m.Export(context.Background(), st.ID, &out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "Email,Name,preflight_verdict,preflight_risk,preflight_reason,preflight_suggestion\n" +
		",A,undeliverable,100,invalid_syntax,\n" +
		"c@example.com,C,deliverable,2,accepted,\n" +
		"\"   \",B,undeliverable,100,invalid_syntax,\n"
	if got := out.String(); got != want {
		t.Errorf("export:\n%s\nwant:\n%s", got, want)
	}
}

// waitSettled polls a job until it is done, failed or canceled; the
// deadline only keeps a broken test from hanging.
func waitSettled(t testing.TB, m *Manager, id string) Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := m.Status(context.Background(), id)
		if err != nil {
			t.Fatalf("status of %s: %v", id, err)
		}
		switch s.Status {
		case Done, Failed, Canceled:
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 30s", id, s.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

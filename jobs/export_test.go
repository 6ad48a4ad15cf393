package jobs

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// TestExportWideRow: one row far longer than the header widens neither
// the header nor the other rows; the result columns stay at the header's
// width on every row, and the long row's extra cells follow them. A job
// stored by an earlier version, whose width is its widest row's, exports
// padded to that width as before.
func TestExportWideRow(t *testing.T) { storetest.Each(t, testExportWideRow) }

func testExportWideRow(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{}, newRuleVerifier())
	extra := make([]string, 998)
	for i := range extra {
		extra[i] = fmt.Sprint("x", i)
	}
	in := "email,name\na@wide.example,Ann\nb@wide.example,Bob," + strings.Join(extra, ",") + "\nc@wide.example\n"
	st, err := m.Create(context.Background(), strings.NewReader(in), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, Done)
	read := func() [][]string {
		t.Helper()
		var out bytes.Buffer
		if err := m.Export(context.Background(), st.ID, &out, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(&out)
		cr.FieldsPerRecord = -1
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	results := []string{"deliverable", "2", "accepted", ""}
	want := [][]string{
		append([]string{"email", "name"}, resultColumns...),
		append([]string{"a@wide.example", "Ann"}, results...),
		append(append([]string{"b@wide.example", "Bob"}, results...), extra...),
		append([]string{"c@wide.example", ""}, results...),
	}
	if got := read(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("export:\n%.300q\nwant:\n%.300q", got, want)
	}

	// An earlier version stored the widest row's width.
	if _, err := db.Exec(`UPDATE jobs SET width = 1000`); err != nil {
		t.Fatal(err)
	}
	got := read()
	if len(got) != 4 {
		t.Fatalf("%d rows", len(got))
	}
	for i, r := range got {
		verdict := "deliverable"
		if i == 0 {
			verdict = "preflight_verdict"
		}
		if len(r) != 1004 || r[1000] != verdict {
			t.Errorf("old job, row %d: %d cells, %q at 1000; want 1004, %q", i, len(r), r[min(1000, len(r)-1)], verdict)
		}
	}
}

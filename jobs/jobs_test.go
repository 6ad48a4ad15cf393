package jobs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/csvio"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/verify"

	"github.com/preflight-email/preflight/internal/storetest"
)

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDialectsGolden uploads each export style under testdata/upload,
// plain and gzipped, and compares the results with testdata/golden.
func TestDialectsGolden(t *testing.T) { storetest.Each(t, testDialectsGolden) }

func testDialectsGolden(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{GreylistDelay: time.Millisecond}, newRuleVerifier())
	files, err := filepath.Glob("testdata/upload/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			in := readFile(t, f)
			var outs [][]byte
			for _, body := range [][]byte{in, gz(t, in)} {
				st, err := m.Create(context.Background(), bytes.NewReader(body), CreateOptions{})
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				waitState(t, m, st.ID, Done)
				var out bytes.Buffer
				if err := m.Export(context.Background(), st.ID, &out, ExportOptions{}); err != nil {
					t.Fatalf("export: %v", err)
				}
				outs = append(outs, out.Bytes())
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Errorf("gzipped upload gave different results:\n%s\nvs\n%s", outs[0], outs[1])
			}
			golden(t, filepath.Join("testdata/golden", name), outs[0])
			checkShape(t, in, outs[0])
		})
	}
}

// checkShape re-reads input and output with csvio and checks that every
// input row comes back in order, its cells unchanged (bar neutralisation),
// with the four result cells right after the header's columns and the
// cells of a longer row after those; without a header, after the widest
// row's cells.
func checkShape(t *testing.T, in, out []byte) {
	t.Helper()
	read := func(b []byte) (csvio.Dialect, [][]string) {
		r, err := csvio.NewReader(bytes.NewReader(b), "", csvio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]string
		for {
			rec, err := r.Next()
			if err != nil {
				break
			}
			rows = append(rows, rec.Fields)
		}
		return r.Dialect(), rows
	}
	di, rin := read(in)
	do, rout := read(out)
	if di.Delimiter != do.Delimiter || di.BOM != do.BOM || di.HasHeader != do.HasHeader {
		t.Errorf("dialect changed: in %+v, out %+v", di, do)
	}
	if len(rin) != len(rout) {
		t.Fatalf("%d rows in, %d out", len(rin), len(rout))
	}
	width := di.Columns
	if !di.HasHeader {
		for _, r := range rin {
			width = max(width, len(r))
		}
	}
	for i := range rin {
		got := rout[i]
		if want := max(len(rin[i]), width) + 4; len(got) != want {
			t.Fatalf("row %d: %d cells out for %d in, want %d", i, len(got), len(rin[i]), want)
		}
		for k, cell := range rin[i] {
			at := k
			if k >= width {
				at += 4
			}
			if got[at] != csvio.Neutralize(cell) {
				t.Errorf("row %d cell %d: %q, want %q", i, k, got[at], csvio.Neutralize(cell))
			}
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestDuplicatesCheckedOnce: an address repeated on many rows, with its
// domain in other cases, is checked once and reported on every row.
func TestDuplicatesCheckedOnce(t *testing.T) { storetest.Each(t, testDuplicatesCheckedOnce) }

func testDuplicatesCheckedOnce(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	v := newRuleVerifier()
	m := newManager(t, db, Config{}, v)
	var b strings.Builder
	b.WriteString("email,n\n")
	for i := range 300 {
		domain := []string{"dup.example", "DUP.example", "Dup.Example"}[i%3]
		fmt.Fprintf(&b, "user%d@%s,%d\n", i%50, domain, i)
	}
	st, err := m.Create(context.Background(), strings.NewReader(b.String()), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 300 || st.Addresses != 50 {
		t.Fatalf("total %d, addresses %d; want 300 and 50", st.Total, st.Addresses)
	}
	done := waitState(t, m, st.ID, Done)
	if done.Processed != 300 || done.Counts[outcome.Deliverable] != 300 {
		t.Errorf("processed %d, counts %v; want 300 deliverable", done.Processed, done.Counts)
	}
	if n := v.total(); n != 50 {
		t.Errorf("%d checks for 50 distinct addresses", n)
	}
	for i := range 50 {
		if c, _ := v.calls(fmt.Sprintf("user%d@dup.example", i)); c != 1 {
			t.Errorf("user%d checked %d times", i, c)
		}
	}
	var out bytes.Buffer
	if err := m.Export(context.Background(), st.ID, &out, ExportOptions{Format: JSONL}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 300 {
		t.Fatalf("%d JSONL rows, want 300", len(lines))
	}
	for i, l := range lines {
		var rec struct {
			Line   int               `json:"line"`
			Fields map[string]string `json:"fields"`
			Result verify.Result     `json:"result"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if rec.Line != i+2 || rec.Fields["n"] != fmt.Sprint(i) || rec.Result.Email != rec.Fields["email"] ||
			rec.Result.Verdict != outcome.Deliverable {
			t.Fatalf("row %d: %+v", i, rec)
		}
	}
}

// TestRejectedUploads: bad files get an UploadError naming the line, and
// leave nothing in the database.
func TestRejectedUploads(t *testing.T) { storetest.Each(t, testRejectedUploads) }

func testRejectedUploads(t *testing.T, engine store.Dialect) {
	many := "email\n" + strings.Repeat("x@rows.example\n", 6)
	big := "email,pad\n" + strings.Repeat("y@size.example,"+strings.Repeat("z", 100)+"\n", 30)
	tests := []struct {
		name     string
		body     []byte
		column   string
		sentinel error
		line     int
		tooLarge bool
	}{
		{"unterminated quote", []byte("email,name\na@x.example,A\nb@x.example,\"B\nc@x.example,C\n"), "", csvio.ErrRagged, 3, false},
		{"stray quote in quoted field", []byte("email,name\na@x.example,A\nb@x.example,\"B\"x\"\n"), "", csvio.ErrRagged, 3, false},
		{"excel workbook", append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0, 1, 2}, 50)...), "", csvio.ErrNotCSV, 0, false},
		{"no email column", []byte("name,city\nJane,Paris\nBob,Rome\n"), "", csvio.ErrNoEmailColumn, 0, false},
		{"unknown column", []byte("email,name\na@x.example,A\n"), "mail", csvio.ErrUnknownColumn, 0, false},
		{"empty", nil, "", csvio.ErrEmpty, 0, false},
		{"header only", []byte("email,name\n"), "", ErrEmpty, 0, false},
		{"damaged gzip", gz(t, []byte(many))[:30], "", csvio.ErrNotCSV, 0, false},
		{"too many fields", []byte("email\na@x.example\nb@x.example" + strings.Repeat(",", csvio.DefaultMaxFields) + "\n"), "", csvio.ErrRagged, 3, false},
		{"too many rows", []byte(many), "", csvio.ErrTooManyRows, 0, true},
		{"too large", []byte(big), "", csvio.ErrTooLarge, 0, true},
		{"too large gzipped", gz(t, []byte(big)), "", csvio.ErrTooLarge, 0, true},
	}
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{MaxRows: 5, MaxUploadBytes: 2048}, newRuleVerifier())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Create(context.Background(), bytes.NewReader(tt.body), CreateOptions{Column: tt.column})
			var ue *UploadError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v (%T), want an *UploadError", err, err)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v, want %v", err, tt.sentinel)
			}
			if ue.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", ue.Line, tt.line, err)
			}
			if tt.line > 0 && !strings.Contains(err.Error(), fmt.Sprintf("line %d", tt.line)) {
				t.Errorf("message %q does not name line %d", err, tt.line)
			}
			if ue.TooLarge() != tt.tooLarge {
				t.Errorf("TooLarge() = %v", ue.TooLarge())
			}
			for tbl, n := range tableCounts(t, db) {
				if n != 0 {
					t.Errorf("%s has %d rows after a rejected upload", tbl, n)
				}
			}
		})
	}
}

// TestCallbackURLChecked: a callback that is not http(s), or a literal
// private address while the guard is on, is refused before any row is
// stored.
func TestCallbackURLChecked(t *testing.T) { storetest.Each(t, testCallbackURLChecked) }

func testCallbackURLChecked(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{}, newRuleVerifier())
	for _, u := range []string{"ftp://example.com/x", "/relative", "http://127.0.0.1:8080/hook", "http://[::1]/x", "http://10.1.2.3/x", "http://169.254.169.254/latest"} {
		_, err := m.Create(context.Background(), strings.NewReader("email\na@b.example\n"), CreateOptions{CallbackURL: u})
		if !errors.Is(err, ErrCallback) {
			t.Errorf("%s: error %v, want ErrCallback", u, err)
		}
	}
	if n := tableCounts(t, db)["jobs"]; n != 0 {
		t.Errorf("%d jobs left", n)
	}
}

// TestGreylistRetry: a greylisted address is asked again through Recheck
// after the delay, and settles with the answer it then gets; one that
// stays greylisted (or rate-limited) settles on unknown after
// GreylistAttempts retries.
func TestGreylistRetry(t *testing.T) { storetest.Each(t, testGreylistRetry) }

func testGreylistRetry(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	v := newRuleVerifier()
	v.greyFirst["later@grey.example"] = 2
	m := newManager(t, db, Config{GreylistDelay: 20 * time.Millisecond, GreylistAttempts: 3}, v)
	st, err := m.Create(context.Background(), strings.NewReader("email\nlater@grey.example\ngrey.always@grey.example\nok@fine.example\nbusy@busy.example\n"), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, m, st.ID, Done)
	if vc, rc := v.calls("later@grey.example"); vc != 1 || rc != 2 {
		t.Errorf("later@: %d Verify + %d Recheck, want 1 + 2", vc, rc)
	}
	if vc, rc := v.calls("grey.always@grey.example"); vc != 1 || rc != 3 {
		t.Errorf("grey.always@: %d Verify + %d Recheck, want 1 + 3", vc, rc)
	}
	if vc, rc := v.calls("busy@busy.example"); vc != 1 || rc != 3 {
		t.Errorf("busy@ (rate-limited): %d Verify + %d Recheck, want 1 + 3", vc, rc)
	}
	if s.Counts[outcome.Deliverable] != 2 || s.Counts[outcome.Unknown] != 2 || s.Reasons[outcome.Greylisted] != 1 || s.Reasons[outcome.RateLimited] != 1 {
		t.Errorf("counts %v, reasons %v", s.Counts, s.Reasons)
	}
}

// TestResumeAfterStop stops a Manager in the middle of a job and starts a
// new one on the same database: the job finishes, every row is reported
// once, and no address settled before the stop is checked again.
func TestResumeAfterStop(t *testing.T) { storetest.Each(t, testResumeAfterStop) }

func testResumeAfterStop(t *testing.T, engine store.Dialect) {
	db, path := openDB(t, engine)
	v1 := newRuleVerifier()
	v1.gate = make(chan struct{})
	m1, err := New(context.Background(), Config{Concurrency: 8, FlushRows: 10, FlushInterval: time.Millisecond}, db, Deps{Verifier: v1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("email,n\n")
	for i := range 400 {
		fmt.Fprintf(&b, "u%d@d%d.example,%d\n", i%300, (i%300)%7, i)
	}
	st, err := m1.Create(context.Background(), strings.NewReader(b.String()), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Let about a third through, then stop.
	released := 0
	for released < 100 {
		v1.gate <- struct{}{}
		released++
	}
	for {
		s, _ := m1.Status(context.Background(), st.ID)
		if s.Processed > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	m1.Close()
	settledBefore := settledKeys(t, db, st.ID)
	if len(settledBefore) == 0 || len(settledBefore) >= 300 {
		t.Fatalf("%d settled before the stop", len(settledBefore))
	}

	db2 := reopenDB(t, path)
	v2 := newRuleVerifier()
	m2 := newManager(t, db2, Config{}, v2)
	s := waitState(t, m2, st.ID, Done)
	if s.Processed != 400 || s.Total != 400 {
		t.Errorf("processed %d of %d", s.Processed, s.Total)
	}
	for k := range settledBefore {
		if c, _ := v2.calls(k); c != 0 {
			t.Errorf("%s settled before the stop, checked again", k)
		}
	}
	if got := v2.total(); got != 300-len(settledBefore) {
		t.Errorf("second run made %d checks, want %d: %s", got, 300-len(settledBefore), v2.dump())
	}
	var out bytes.Buffer
	if err := m2.Export(context.Background(), st.ID, &out, ExportOptions{Raw: true}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 401 {
		t.Fatalf("%d records, want 401", len(recs))
	}
	for i, r := range recs[1:] {
		if r[1] != fmt.Sprint(i) || r[2] != "deliverable" {
			t.Fatalf("row %d: %v", i, r)
		}
	}
}

// settledKeys lists the addresses of job id that have their final answer.
func settledKeys(t *testing.T, db *store.DB, id string) map[string]bool {
	t.Helper()
	rows, err := db.Query(db.Rebind(`SELECT a.akey FROM job_addresses a JOIN jobs j ON j.pk = a.job WHERE j.id = ? AND a.state = 2`), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

func (v *ruleVerifier) dump() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	hist := map[int]int{}
	for _, c := range v.verify {
		hist[c]++
	}
	return fmt.Sprint(len(v.verify), hist, len(v.recheck))
}

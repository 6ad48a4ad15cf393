package csvio

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"testing"
)

func TestNeutralize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"=HYPERLINK(\"http://example.invalid\",\"x\")", "'=HYPERLINK(\"http://example.invalid\",\"x\")"},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"-SUM(1,2)", "'-SUM(1,2)"},
		{"+A1", "'+A1"},
		{"-", "'-"},
		{"+ ", "'+ "},
		{"-1*2", "'-1*2"},
		{"+\"x\"", "'+\"x\""},
		// Plain numbers and phone numbers are data, kept as they are.
		{"+33612345678", "+33612345678"},
		{"+1 555-0100", "+1 555-0100"},
		{"+44 (20) 7946 0958", "+44 (20) 7946 0958"},
		{"-5", "-5"},
		{"-87.63", "-87.63"},
		{"-1,234.50", "-1,234.50"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=cmd", "'\t=cmd"},
		{"\r=cmd", "'\r=cmd"},
		// Safe cells come back as they are.
		{"", ""},
		{"ann@example.com", "ann@example.com"},
		{"Ann", "Ann"},
		{"12", "12"},
		{" =1+1", " =1+1"}, // not at the start
		{"a=b", "a=b"},
		{"'already", "'already"},
		{"Ünïcödé", "Ünïcödé"},
	}
	for _, tt := range tests {
		if got := Neutralize(tt.in); got != tt.want {
			t.Errorf("Neutralize(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestNeutralizeSafeCellsDoNotAllocate(t *testing.T) {
	cells := []string{"ann@example.com", "Ann", "", "12", "a=b", "-87.63", "+1 555-0100"}
	var sink string
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range cells {
			sink = Neutralize(c)
		}
	})
	_ = sink
	if allocs != 0 {
		t.Errorf("Neutralize allocated %v times for safe cells", allocs)
	}
}

// resultRows reads testdata/mailchimp.csv and appends two result columns,
// as a job's results export does.
func resultRows(t *testing.T) (Dialect, [][]string) {
	t.Helper()
	f, err := os.Open("testdata/mailchimp.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := NewReader(f, "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	d := rd.Dialect()
	rows := [][]string{append(d.Header, "preflight_verdict", "preflight_risk")}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, append(rec.Fields, "deliverable", "-1"))
	}
	return d, rows
}

// TestWriterRoundTrip writes rows with and without neutralization and reads
// them back with encoding/csv and with Reader.
func TestWriterRoundTrip(t *testing.T) {
	d, rows := resultRows(t)
	for _, tc := range []struct {
		name  string
		delim rune
		raw   bool
	}{
		{"neutralized", ',', false},
		{"raw", ',', true},
		{"semicolon", ';', false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, tc.delim, tc.raw)
			for _, r := range rows {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if tc.delim == ',' {
				checkGolden(t, "writer_"+tc.name, buf.String())
			}

			cr := csv.NewReader(bytes.NewReader(buf.Bytes()))
			cr.Comma = tc.delim
			back, err := cr.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(rows) {
				t.Fatalf("read back %d rows; want %d", len(back), len(rows))
			}
			changed := 0
			for i := range rows {
				for j, cell := range rows[i] {
					want := cell
					if !tc.raw {
						want = Neutralize(cell)
					}
					if back[i][j] != want {
						t.Fatalf("row %d cell %d = %q; want %q", i, j, back[i][j], want)
					}
					if want != cell {
						changed++
					}
				}
			}
			if !tc.raw && changed == 0 {
				t.Error("no cell was neutralized; the input has =1+1 and negative numbers")
			}

			// What we write, we read: same dialect and emails.
			rd, err := NewReader(bytes.NewReader(buf.Bytes()), "", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := rd.Dialect(); got.Delimiter != tc.delim || !got.HasHeader || got.EmailColumn != d.EmailColumn {
				t.Errorf("dialect of the written file: %+v", got)
			}
			for i := 1; ; i++ {
				rec, err := rd.Next()
				if err == io.EOF {
					if i != len(rows) {
						t.Errorf("read %d rows back; want %d", i-1, len(rows)-1)
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if rec.Email != rows[i][d.EmailColumn] {
					t.Errorf("row %d email %q; want %q", i, rec.Email, rows[i][d.EmailColumn])
				}
			}
		})
	}
}

func TestWriterBadDelimiter(t *testing.T) {
	w := NewWriter(io.Discard, '"', false)
	if err := w.Write([]string{"a"}); err == nil {
		t.Error("a quote as delimiter was accepted")
	}
}

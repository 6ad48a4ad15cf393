package csvio

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden from the current results")

// sentinels names every sentinel error for golden files and checks.
var sentinels = []struct {
	err  error
	name string
}{
	{ErrEmpty, "ErrEmpty"}, {ErrNotCSV, "ErrNotCSV"}, {ErrNoEmailColumn, "ErrNoEmailColumn"},
	{ErrUnknownColumn, "ErrUnknownColumn"}, {ErrTooManyRows, "ErrTooManyRows"},
	{ErrTooLarge, "ErrTooLarge"}, {ErrRagged, "ErrRagged"},
}

func sentinelName(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "not a sentinel"
}

// result is everything a Reader produced for one input.
type result struct {
	d      Dialect
	recs   []Record
	newErr error // from NewReader
	err    error // the error that ended Next: io.EOF or a failure
	bytes  int64
}

func readAll(t testing.TB, in io.Reader, column string, lim Limits) result {
	t.Helper()
	rd, err := NewReader(in, column, lim)
	if err != nil {
		return result{newErr: err}
	}
	res := result{d: rd.Dialect()}
	for {
		rec, err := rd.Next()
		if err != nil {
			res.err = err
			break
		}
		res.recs = append(res.recs, rec)
	}
	res.bytes = rd.BytesRead()
	return res
}

func readFile(t testing.TB, name, column string, lim Limits) result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readAll(t, f, column, lim)
}

// dump writes a result as text for the golden files.
func (r result) dump() string {
	var b strings.Builder
	if r.newErr != nil {
		fmt.Fprintf(&b, "NewReader error (%s): %v\n", sentinelName(r.newErr), r.newErr)
		return b.String()
	}
	d := r.d
	fmt.Fprintf(&b, "dialect delimiter=%q bom=%v cr=%v header=%v columns=%d email=%d\n",
		d.Delimiter, d.BOM, d.CR, d.HasHeader, d.Columns, d.EmailColumn)
	if d.SepLine {
		b.WriteString("sep line\n")
	}
	if d.HasHeader {
		fmt.Fprintf(&b, "header %q\n", d.Header)
	}
	for _, rec := range r.recs {
		fmt.Fprintf(&b, "line %d email=%q fields=%q\n", rec.Line, rec.Email, rec.Fields)
	}
	if r.err == io.EOF {
		b.WriteString("EOF\n")
	} else {
		fmt.Fprintf(&b, "error (%s): %v\n", sentinelName(r.err), r.err)
	}
	fmt.Fprintf(&b, "bytes read %d\n", r.bytes)
	return b.String()
}

func TestReader(t *testing.T) {
	type dialect struct {
		delim  rune
		header bool
		email  int
		cols   int
	}
	tests := []struct {
		name    string // also the golden file's name
		file    string
		column  string
		lim     Limits
		dialect *dialect // nil: NewReader fails
		emails  []string // Email of every record, in order
		lines   []int    // Line of every record
		err     error    // the sentinel that ends reading; nil: io.EOF
		errLine int      // Line of the *LineError, when err is ErrRagged
		errText string   // a part of the message a person reads
	}{
		{name: "mailchimp", file: "mailchimp.csv",
			dialect: &dialect{',', true, 0, 23},
			emails:  []string{"ann.lee@example.com", "bob.stone@example.org", "carla@example.net", "dmitri@example.com", "eve@example.co.uk", "FRANK@EXAMPLE.COM"},
			lines:   []int{2, 3, 4, 5, 6, 7}},
		{name: "hubspot", file: "hubspot.csv",
			dialect: &dialect{',', true, 3, 12},
			emails:  []string{"grace@example.com", "alan@example.org", "ada@example.net", "", "margaret@example.com"},
			lines:   []int{2, 3, 4, 5, 6}},
		{name: "hubspot_gzip", file: "hubspot.csv.gz",
			dialect: &dialect{',', true, 3, 12},
			emails:  []string{"grace@example.com", "alan@example.org", "ada@example.net", "", "margaret@example.com"},
			lines:   []int{2, 3, 4, 5, 6}},
		{name: "klaviyo", file: "klaviyo.csv",
			dialect: &dialect{',', true, 0, 13},
			emails:  []string{"kim@example.com", "lee@example.org", "", "max@example.net"},
			lines:   []int{2, 3, 4, 5}},
		{name: "salesforce", file: "salesforce.csv",
			dialect: &dialect{',', true, 4, 9},
			emails:  []string{"nina.ross@example.com", "omar@example.net", "", "quinn@example.com"},
			lines:   []int{2, 3, 4, 5}},
		{name: "brevo", file: "brevo.csv",
			dialect: &dialect{',', true, 0, 6},
			emails:  []string{"ruth@example.com", "sven@example.org"},
			lines:   []int{2, 3}},
		{name: "activecampaign", file: "activecampaign.csv",
			dialect: &dialect{',', true, 0, 7},
			emails:  []string{"tara@example.com", "uma@example.org"},
			lines:   []int{2, 3}},
		{name: "semicolon", file: "excel_semicolon.csv",
			dialect: &dialect{';', true, 2, 5},
			emails:  []string{"juergen.mueller@example.de", "anna.schmidt@example.de", "oezlem@example.de", "luc@example.fr"},
			lines:   []int{2, 3, 4, 5}},
		{name: "excel_sep", file: "excel_sep.csv",
			dialect: &dialect{';', true, 0, 2},
			emails:  []string{"ann@example.com", "bob@example.org"},
			lines:   []int{3, 4}},
		{name: "excel_sep_comma", file: "excel_sep_comma.csv",
			dialect: &dialect{',', true, 0, 2},
			emails:  []string{"ann@example.com", "bob@example.org"},
			lines:   []int{3, 4}},
		{name: "excel_sep_noheader", file: "excel_sep_noheader.csv",
			dialect: &dialect{'|', false, 0, 2},
			emails:  []string{"ann@example.com", "bob@example.org"},
			lines:   []int{2, 3}},
		{name: "tab", file: "tab.tsv",
			dialect: &dialect{'\t', true, 0, 3},
			emails:  []string{"vera@example.com", "will@example.org", "xena@example.net"},
			lines:   []int{2, 3, 4}},
		{name: "pipe", file: "pipe.csv",
			dialect: &dialect{'|', true, 1, 3},
			emails:  []string{"yara@example.com", "zed@example.org", "abe@example.net"},
			lines:   []int{2, 3, 4}},
		{name: "bom", file: "bom.csv",
			dialect: &dialect{',', true, 0, 2},
			emails:  []string{"bea@example.com", "cal@example.org"},
			lines:   []int{2, 3}},
		{name: "quoted_newlines", file: "quoted_newlines.csv",
			dialect: &dialect{',', true, 0, 3},
			emails:  []string{"ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com"},
			lines:   []int{2, 4, 5, 8}},
		{name: "noheader", file: "noheader.csv",
			dialect: &dialect{',', false, 0, 3},
			emails:  []string{"ann@example.com", "bob@example.org", "cy@example.net"},
			lines:   []int{1, 2, 3}},
		{name: "noheader_first_empty", file: "noheader_first_empty.csv",
			dialect: &dialect{',', false, 2, 3},
			emails:  []string{"", "bob@example.org", "cy@example.net", "di@example.com"},
			lines:   []int{1, 2, 3, 4}},
		{name: "noheader_bad_first", file: "noheader_bad_first.csv",
			dialect: &dialect{',', false, 0, 2},
			emails:  []string{"jane@example", "bob@example.org", "cy@example.net"},
			lines:   []int{1, 2, 3}},
		{name: "noheader_at_word", file: "noheader_at_word.csv",
			dialect: &dialect{',', false, 2, 3},
			emails:  []string{"jane at example.com", "bob@example.org", "cy@example.net"},
			lines:   []int{1, 2, 3}},
		{name: "header_by_values", file: "header_by_values.csv",
			dialect: &dialect{',', true, 0, 2},
			emails:  []string{"ann@example.com", "bob@example.org"},
			lines:   []int{2, 3}},
		{name: "single_column", file: "single_column.csv",
			dialect: &dialect{',', true, 0, 1},
			emails:  []string{"ann@example.com", "bob@example.org", "cy@example.net"},
			lines:   []int{2, 3, 5}},
		{name: "addresses", file: "addresses.txt",
			dialect: &dialect{',', false, 0, 1},
			emails:  []string{"ann@example.com", "bob@example.org", "cy@example.net"},
			lines:   []int{1, 2, 3}},
		{name: "ragged", file: "ragged.csv",
			dialect: &dialect{',', true, 0, 3},
			emails:  []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"},
			lines:   []int{2, 3, 6, 8}},
		{name: "mac_cr", file: "mac_cr.csv",
			dialect: &dialect{',', true, 0, 2},
			emails:  []string{"ann@example.com", "bob@example.org"},
			lines:   []int{2, 3}},
		{name: "windows1252", file: "windows1252.csv",
			dialect: &dialect{';', true, 0, 3},
			emails:  []string{"zoe@example.fr", "leo@example.fr"},
			lines:   []int{2, 3}},
		{name: "bare_quote", file: "bare_quote.csv",
			dialect: &dialect{',', true, 0, 3},
			emails:  []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"},
			lines:   []int{2, 3, 5, 6}},

		{name: "header_only", file: "header_only.csv",
			dialect: &dialect{',', true, 0, 2}},
		{name: "comma_space", file: "comma_space.csv",
			dialect: &dialect{',', true, 1, 2},
			emails:  []string{"ann@example.com", "bob@example.org"},
			lines:   []int{2, 3}},

		// ?column= overrides.
		{name: "column_by_name", file: "salesforce.csv", column: "owner email",
			dialect: &dialect{',', true, 6, 9},
			emails:  []string{"owner.one@example.org", "owner.one@example.org", "owner.two@example.org", "owner.two@example.org"},
			lines:   []int{2, 3, 4, 5}},
		{name: "column_by_loose_name", file: "mailchimp.csv", column: "email_address",
			dialect: &dialect{',', true, 0, 23},
			emails:  []string{"ann.lee@example.com", "bob.stone@example.org", "carla@example.net", "dmitri@example.com", "eve@example.co.uk", "FRANK@EXAMPLE.COM"},
			lines:   []int{2, 3, 4, 5, 6, 7}},
		{name: "column_by_number", file: "salesforce.csv", column: "7",
			dialect: &dialect{',', true, 6, 9},
			emails:  []string{"owner.one@example.org", "owner.one@example.org", "owner.two@example.org", "owner.two@example.org"},
			lines:   []int{2, 3, 4, 5}},
		{name: "column_number_noheader", file: "noheader.csv", column: "1",
			dialect: &dialect{',', false, 0, 3},
			emails:  []string{"ann@example.com", "bob@example.org", "cy@example.net"},
			lines:   []int{1, 2, 3}},
		{name: "column_zero", file: "salesforce.csv", column: "0",
			err: ErrUnknownColumn, errText: "numbered from 1 to 9"},
		{name: "column_too_big", file: "salesforce.csv", column: "10",
			err: ErrUnknownColumn, errText: "column 10 does not exist"},
		{name: "column_unknown", file: "salesforce.csv", column: "Fax",
			err: ErrUnknownColumn, errText: `no column is named "Fax"`},
		{name: "column_name_noheader", file: "noheader.csv", column: "Email",
			err: ErrUnknownColumn, errText: "no header row"},

		// Malformed input.
		{name: "binary", file: "binary.bin", err: ErrNotCSV, errText: "binary data"},
		{name: "xlsx", file: "workbook.xlsx", err: ErrNotCSV, errText: "Excel workbook"},
		{name: "utf16", file: "utf16.csv", err: ErrNotCSV, errText: "UTF-16"},
		{name: "truncated_gzip", file: "truncated.csv.gz", err: ErrNotCSV, errText: "gzip data is damaged"},
		{name: "no_email", file: "no_email.csv", err: ErrNoEmailColumn, errText: `"Name", "City", "Phone"`},
		{name: "empty", file: "empty.csv", err: ErrEmpty},
		{name: "blank", file: "blank.csv", err: ErrEmpty},
		{name: "unterminated", file: "unterminated.csv",
			dialect: &dialect{',', true, 0, 3},
			emails:  []string{"a@example.com", "b@example.com"},
			lines:   []int{2, 3},
			err:     ErrRagged, errLine: 4, errText: "line 4: unterminated quoted field"},
		{name: "stray_quote", file: "stray_quote.csv",
			dialect: &dialect{',', true, 0, 3},
			emails:  []string{"a@example.com"},
			lines:   []int{2},
			err:     ErrRagged, errLine: 3, errText: "line 3: stray quote in a quoted field at line 3, column 23"},
		{name: "bare_quote_bad", file: "bare_quote_bad.csv",
			dialect: &dialect{',', true, 0, 4},
			err:     ErrRagged, errLine: 2, errText: "line 2: a quote"},

		// Limits.
		{name: "too_many_rows", file: "mailchimp.csv", lim: Limits{MaxRows: 4},
			dialect: &dialect{',', true, 0, 23},
			emails:  []string{"ann.lee@example.com", "bob.stone@example.org", "carla@example.net", "dmitri@example.com"},
			lines:   []int{2, 3, 4, 5},
			err:     ErrTooManyRows, errText: "the limit is 4 rows"},
		{name: "rows_at_limit", file: "mailchimp.csv", lim: Limits{MaxRows: 6},
			dialect: &dialect{',', true, 0, 23},
			emails:  []string{"ann.lee@example.com", "bob.stone@example.org", "carla@example.net", "dmitri@example.com", "eve@example.co.uk", "FRANK@EXAMPLE.COM"},
			lines:   []int{2, 3, 4, 5, 6, 7}},
		{name: "too_large", file: "mailchimp.csv", lim: Limits{MaxBytes: 1 << 10},
			err: ErrTooLarge, errText: "the limit is 1 KiB once uncompressed"},
		{name: "too_many_fields", file: "ragged.csv", lim: Limits{MaxFields: 4},
			dialect: &dialect{',', true, 0, 3},
			emails:  []string{"a@example.com"},
			lines:   []int{2},
			err:     ErrRagged, errLine: 3, errText: "line 3: 5 fields; at most 4 per row"},
		{name: "fields_at_limit", file: "ragged.csv", lim: Limits{MaxFields: 5},
			dialect: &dialect{',', true, 0, 3},
			emails:  []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"},
			lines:   []int{2, 3, 6, 8}},
		{name: "header_too_wide", file: "ragged.csv", lim: Limits{MaxFields: 2},
			err: ErrRagged, errText: "line 1: 3 fields; at most 2 per row"},
		{name: "bytes_at_limit", file: "mailchimp.csv", lim: Limits{MaxBytes: 1572},
			dialect: &dialect{',', true, 0, 23},
			emails:  []string{"ann.lee@example.com", "bob.stone@example.org", "carla@example.net", "dmitri@example.com", "eve@example.co.uk", "FRANK@EXAMPLE.COM"},
			lines:   []int{2, 3, 4, 5, 6, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readFile(t, tt.file, tt.column, tt.lim)
			checkGolden(t, tt.name, res.dump())

			if tt.dialect == nil {
				if res.newErr == nil {
					t.Fatalf("NewReader succeeded with %+v; want %v", res.d, tt.err)
				}
				checkErr(t, res.newErr, tt.err, tt.errText)
				return
			}
			if res.newErr != nil {
				t.Fatalf("NewReader: %v", res.newErr)
			}
			d, w := res.d, tt.dialect
			if d.Delimiter != w.delim || d.HasHeader != w.header || d.EmailColumn != w.email || d.Columns != w.cols {
				t.Errorf("dialect = delimiter %q header %v email %d columns %d; want %q %v %d %d",
					d.Delimiter, d.HasHeader, d.EmailColumn, d.Columns, w.delim, w.header, w.email, w.cols)
			}
			var emails []string
			var lines []int
			for _, rec := range res.recs {
				emails = append(emails, rec.Email)
				lines = append(lines, rec.Line)
				if len(rec.Fields) < d.Columns {
					t.Errorf("line %d: %d fields, fewer than the %d columns", rec.Line, len(rec.Fields), d.Columns)
				}
			}
			if fmt.Sprint(emails) != fmt.Sprint(tt.emails) {
				t.Errorf("emails = %q; want %q", emails, tt.emails)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tt.lines) {
				t.Errorf("lines = %v; want %v", lines, tt.lines)
			}
			if tt.err == nil {
				if res.err != io.EOF {
					t.Fatalf("Next ended with %v; want io.EOF", res.err)
				}
				return
			}
			checkErr(t, res.err, tt.err, tt.errText)
			if tt.errLine != 0 {
				var le *LineError
				if !errors.As(res.err, &le) || le.Line != tt.errLine {
					t.Errorf("error %v: want a *LineError at line %d", res.err, tt.errLine)
				}
			}
		})
	}
}

func checkErr(t *testing.T, err, want error, text string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v (%s); want %s", err, sentinelName(err), sentinelName(want))
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("error %q does not say %q", err, text)
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestGzipMatchesPlain reads the gzip upload and its plain original and
// expects the same rows, and BytesRead counting decompressed bytes.
func TestGzipMatchesPlain(t *testing.T) {
	plain := readFile(t, "hubspot.csv", "", Limits{})
	gz := readFile(t, "hubspot.csv.gz", "", Limits{})
	if plain.dump() != gz.dump() {
		t.Fatalf("gzip upload read differently:\n%s\nplain:\n%s", gz.dump(), plain.dump())
	}
	st, err := os.Stat("testdata/hubspot.csv")
	if err != nil {
		t.Fatal(err)
	}
	if gz.bytes != st.Size() {
		t.Errorf("BytesRead = %d; want the decompressed size %d", gz.bytes, st.Size())
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

package csvio

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestGzipBomb: bomb.csv.gz inflates to 16 MiB of valid rows. With a 1 MiB
// limit the reader must stop at the limit, having pulled only a small part
// of the compressed file.
func TestGzipBomb(t *testing.T) {
	f, err := os.Open("testdata/bomb.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	cnt := &countingReader{r: f}
	const limit = 1 << 20
	res := readAll(t, cnt, "", Limits{MaxBytes: limit})
	if res.newErr != nil {
		t.Fatal(res.newErr)
	}
	var le *LimitError
	if !errors.As(res.err, &le) || !errors.Is(res.err, ErrTooLarge) || le.Limit != limit {
		t.Fatalf("error %v; want *LimitError ErrTooLarge with limit %d", res.err, limit)
	}
	if res.bytes > limit {
		t.Errorf("BytesRead %d is past the limit %d", res.bytes, limit)
	}
	// Each row is 28 bytes; nearly all of the first MiB must have been
	// delivered before the error.
	if min := (limit - 64<<10) / 28; len(res.recs) < min {
		t.Errorf("%d rows before the error; want at least %d", len(res.recs), min)
	}
	// 1 MiB of output is about 1/16 of the bomb; allow generous buffering.
	if cnt.n > st.Size()/4 {
		t.Errorf("read %d of %d compressed bytes; the bomb was inflated too far", cnt.n, st.Size())
	}
}

// bigCSV builds a CSV of n rows, with a multi-line quoted note every 7th row,
// and returns it with the line number of each row.
func bigCSV(n int) ([]byte, []int) {
	var b bytes.Buffer
	b.WriteString("Email Address,First Name,Last Name,Notes,MEMBER_RATING\n")
	line := 2
	lines := make([]int, 0, n)
	for i := range n {
		lines = append(lines, line)
		note := "plain note"
		if i%7 == 0 {
			note = "\"two\nlines, with \"\"quotes\"\"\""
			line++
		}
		fmt.Fprintf(&b, "user%d@example.com,First%d,\"Last, %d\",%s,%d\n", i, i, i, note, i%5)
		line++
	}
	return b.Bytes(), lines
}

// TestSampleCut reads a file far larger than the sample, so the sample ends
// inside a record, and checks every row and line number.
func TestSampleCut(t *testing.T) {
	data, lines := bigCSV(5000)
	if len(data) < 3*SampleSize {
		t.Fatalf("test input is only %d bytes", len(data))
	}
	res := readAll(t, bytes.NewReader(data), "", Limits{})
	if res.newErr != nil || res.err != io.EOF {
		t.Fatalf("errors %v, %v", res.newErr, res.err)
	}
	if res.d.Delimiter != ',' || !res.d.HasHeader || res.d.EmailColumn != 0 || res.d.Columns != 5 {
		t.Fatalf("dialect %+v", res.d)
	}
	if len(res.recs) != len(lines) {
		t.Fatalf("%d rows; want %d", len(res.recs), len(lines))
	}
	for i, rec := range res.recs {
		if want := "user" + strconv.Itoa(i) + "@example.com"; rec.Email != want || rec.Line != lines[i] {
			t.Fatalf("row %d: line %d email %q; want line %d email %q", i, rec.Line, rec.Email, lines[i], want)
		}
	}
	if res.bytes != int64(len(data)) {
		t.Errorf("BytesRead = %d; want %d", res.bytes, len(data))
	}
}

// TestLongRecord: an unterminated quote early in a large file, with no byte
// limit, must fail at its line once the record passes 1 MiB rather than
// pull the whole rest of the file into memory.
func TestLongRecord(t *testing.T) {
	head, err := os.ReadFile("testdata/unterminated.csv")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(head)
	for b.Len() < 4<<20 {
		b.WriteString("filler@example.com,Filler,no quotes here\n")
	}
	res := readAll(t, bytes.NewReader(b.Bytes()), "", Limits{})
	if res.newErr != nil {
		t.Fatal(res.newErr)
	}
	var le *LineError
	if !errors.As(res.err, &le) || !errors.Is(res.err, ErrRagged) || le.Line != 4 {
		t.Fatalf("error %v; want *LineError ErrRagged at line 4", res.err)
	}
	if !strings.Contains(res.err.Error(), "longer than 1 MiB") {
		t.Errorf("message %q does not explain the limit", res.err)
	}
	if len(res.recs) != 2 {
		t.Errorf("%d rows before the error; want 2", len(res.recs))
	}
}

// TestWideRow: a row of many tiny fields is refused at its line under the
// default MaxFields, before it costs a string header per field downstream;
// a negative MaxFields lets it through.
func TestWideRow(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("email,name\n")
	for i := range 5 {
		fmt.Fprintf(&b, "u%d@example.com,U\n", i)
	}
	b.WriteString("wide@example.com")
	b.WriteString(strings.Repeat(",x", 200000-1))
	b.WriteString("\nlast@example.com,L\n")

	res := readAll(t, bytes.NewReader(b.Bytes()), "", Limits{})
	if res.newErr != nil {
		t.Fatal(res.newErr)
	}
	var le *LineError
	if !errors.As(res.err, &le) || !errors.Is(res.err, ErrRagged) || le.Line != 7 {
		t.Fatalf("error %v; want *LineError ErrRagged at line 7", res.err)
	}
	if want := "line 7: 200000 fields; at most 1024 per row"; res.err.Error() != want {
		t.Errorf("message %q, want %q", res.err, want)
	}
	if len(res.recs) != 5 {
		t.Errorf("%d rows before the error; want 5", len(res.recs))
	}

	res = readAll(t, bytes.NewReader(b.Bytes()), "", Limits{MaxFields: -1})
	if res.newErr != nil || res.err != io.EOF {
		t.Fatalf("no limit: %v, %v", res.newErr, res.err)
	}
	if len(res.recs) != 7 || len(res.recs[5].Fields) != 200000 {
		t.Errorf("no limit: %d rows, the wide one with %d fields", len(res.recs), len(res.recs[5].Fields))
	}
}

// TestGzipDamagedMidStream: gzip data cut short or corrupted after the
// sample ends the rows with a *LineError wrapping ErrNotCSV at the first
// line not read, in our own words; the gzip or flate error stays
// reachable for logs but is not in the message.
func TestGzipDamagedMidStream(t *testing.T) {
	data, lines := bigCSV(20000)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	full := buf.Bytes()
	corrupt := bytes.Clone(full)
	corrupt[len(corrupt)-8] ^= 0xff // the CRC-32 of the trailer (RFC 1952 §2.3)
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"cut short", full[:len(full)*2/3]},
		{"bad checksum", corrupt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := readAll(t, bytes.NewReader(tt.in), "", Limits{})
			if res.newErr != nil {
				t.Fatal(res.newErr)
			}
			var le *LineError
			if !errors.As(res.err, &le) || !errors.Is(res.err, ErrNotCSV) {
				t.Fatalf("error %v; want a *LineError wrapping ErrNotCSV", res.err)
			}
			n := len(res.recs)
			if n == 0 || le.Line <= res.recs[n-1].Line || (n < len(lines) && le.Line > lines[n]) {
				t.Fatalf("line %d after %d good rows", le.Line, n)
			}
			want := fmt.Sprintf("line %d: not a CSV file: the gzip data is damaged or cut short", le.Line)
			if res.err.Error() != want {
				t.Errorf("message %q, want %q", res.err, want)
			}
			var corrupt flate.CorruptInputError
			if !errors.Is(res.err, io.ErrUnexpectedEOF) && !errors.As(res.err, &corrupt) && !errors.Is(res.err, gzip.ErrChecksum) {
				t.Errorf("the gzip error is not reachable from %v", res.err)
			}
		})
	}
}

// TestStreamTooLarge: the byte limit hits after the sample, in the middle
// of the rows.
func TestStreamTooLarge(t *testing.T) {
	data, _ := bigCSV(5000)
	const limit = 100 << 10
	res := readAll(t, bytes.NewReader(data), "", Limits{MaxBytes: limit})
	if res.newErr != nil {
		t.Fatal(res.newErr)
	}
	if !errors.Is(res.err, ErrTooLarge) {
		t.Fatalf("error %v; want ErrTooLarge", res.err)
	}
	if len(res.recs) == 0 || res.bytes > limit {
		t.Errorf("%d rows, %d bytes read; want some rows within %d bytes", len(res.recs), res.bytes, limit)
	}
}

// TestErrorsSticky: after an error Next keeps returning it.
func TestErrorsSticky(t *testing.T) {
	f, err := os.Open("testdata/unterminated.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := NewReader(f, "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var first error
	for first == nil {
		_, first = rd.Next()
	}
	for range 3 {
		if _, err := rd.Next(); err != first {
			t.Fatalf("Next after %v returned %v", first, err)
		}
	}
}

// TestSniffDoesNotConsume: after Sniff the bufio.Reader still yields every
// byte of the input.
func TestSniffDoesNotConsume(t *testing.T) {
	for _, name := range []string{"mailchimp.csv", "bom.csv", "excel_semicolon.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), SampleSize)
		d, err := Sniff(br, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rest, err := io.ReadAll(br)
		if err != nil || !bytes.Equal(rest, data) {
			t.Errorf("%s: after Sniff (%+v) read %d of %d bytes, err %v", name, d, len(rest), len(data), err)
		}
	}
}

func TestDecompress(t *testing.T) {
	plain, err := os.ReadFile("testdata/hubspot.csv")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"plain", plain, plain},
		{"gzip", gz.Bytes(), plain},
		{"one byte", []byte{0x1f}, []byte{0x1f}},
		{"empty", nil, nil},
		{"two gzip members", append(append([]byte{}, gz.Bytes()...), gz.Bytes()...), append(append([]byte{}, plain...), plain...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decompress(bytes.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got %d bytes; want %d", len(got), len(tt.want))
			}
		})
	}
	if _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0})); !errors.Is(err, ErrNotCSV) {
		t.Errorf("broken gzip header: error %v; want ErrNotCSV", err)
	}
}

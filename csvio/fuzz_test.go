package csvio

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes and column overrides to NewReader and
// Next. It checks that nothing panics, that every error is io.EOF or carries
// one of the package's sentinels (ErrRagged always inside a *LineError), and
// the invariants of the records. The seed corpus is testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, column string) {
		lim := Limits{MaxRows: 200, MaxBytes: 1 << 20}
		rd, err := NewReader(bytes.NewReader(data), column, lim)
		if err != nil {
			if sentinelName(err) == "not a sentinel" {
				t.Fatalf("NewReader: error %v carries no sentinel", err)
			}
			return
		}
		d := rd.Dialect()
		if d.Columns < 1 || d.EmailColumn < 0 || d.HasHeader != (d.Header != nil) {
			t.Fatalf("dialect %+v", d)
		}
		last := 0
		if d.HasHeader {
			last = 1
		}
		rows := 0
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if sentinelName(err) == "not a sentinel" {
					t.Fatalf("Next: error %v carries no sentinel", err)
				}
				var le *LineError
				if errors.Is(err, ErrRagged) && (!errors.As(err, &le) || le.Line <= last) {
					t.Fatalf("Next: %v: want a *LineError after line %d", err, last)
				}
				if _, again := rd.Next(); again != err {
					t.Fatalf("error not sticky: %v then %v", err, again)
				}
				break
			}
			rows++
			if rows > lim.MaxRows {
				t.Fatalf("row %d past MaxRows", rows)
			}
			if rec.Line <= last {
				t.Fatalf("record at line %d after line %d", rec.Line, last)
			}
			last = rec.Line
			if len(rec.Fields) < d.Columns || blank(rec.Fields) {
				t.Fatalf("line %d: fields %q (columns %d)", rec.Line, rec.Fields, d.Columns)
			}
			if d.EmailColumn < len(rec.Fields) && rec.Email != emailCell(rec.Fields[d.EmailColumn]) {
				t.Fatalf("line %d: email %q from fields %q", rec.Line, rec.Email, rec.Fields)
			}
		}
		if n := rd.BytesRead(); n < 0 || n > int64(len(data)) && data[0] != 0x1f {
			t.Fatalf("BytesRead %d of %d bytes", n, len(data))
		}
	})
}

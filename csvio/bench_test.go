package csvio

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchCSV generates a Mailchimp-like export of n rows: quoted fields, a
// comma inside a name, and a quoted note with a line break every 50th row.
func benchCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`"Email Address","First Name","Last Name","Address","Phone Number","MEMBER_RATING","OPTIN_TIME","TAGS","NOTES"` + "\n")
	for i := range n {
		note := ""
		if i%50 == 0 {
			note = "called back\nwants \"\"pricing\"\""
		}
		fmt.Fprintf(&b, `"user%d@example.com","First%d","Last, %d","%d Main St  Springfield  IL  62701  US","+1 217 555 %04d","%d","2023-01-05 10:11:12","""Customer"",""Newsletter""","%s"`+"\n",
			i, i, i, i, i%10000, i%5+1, note)
	}
	return b.Bytes()
}

// BenchmarkReader reads a generated 100k-row export end to end: sniffing,
// parsing, row handling. Reports MB/s, rows/s and allocations.
func BenchmarkReader(b *testing.B) {
	const rows = 100_000
	data := benchCSV(rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewReader(bytes.NewReader(data), "", Limits{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if rec.Email == "" {
				b.Fatal("empty email")
			}
			n++
		}
		if n != rows {
			b.Fatalf("%d rows; want %d", n, rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriter writes the same rows with neutralization on.
func BenchmarkWriter(b *testing.B) {
	row := []string{"user1@example.com", "First", "Last, 1", "-70.26", "=1+1", "+1 217 555 0001", "deliverable", "3"}
	b.ReportAllocs()
	w := NewWriter(io.Discard, ',', false)
	for b.Loop() {
		if err := w.Write(row); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

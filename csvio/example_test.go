package csvio_test

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/preflight-email/preflight/csvio"
)

func ExampleNewReader() {
	upload := strings.NewReader("\uFEFFVorname;E-Mail-Adresse;Umsatz\r\n" +
		"Jürgen;juergen@example.de;1234,50\r\n" +
		"Anna;\"anna@example.de\";0,00\r\n")
	rd, err := csvio.NewReader(upload, "", csvio.Limits{MaxRows: 1_000_000, MaxBytes: 200 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := rd.Dialect()
	fmt.Printf("delimiter %q, BOM %v, email column %q\n", d.Delimiter, d.BOM, d.Header[d.EmailColumn])
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err) // e.g. "line 1042: unterminated quoted field: ..."
			return
		}
		fmt.Println(rec.Line, rec.Email)
	}
	// Output:
	// delimiter ';', BOM true, email column "E-Mail-Adresse"
	// 2 juergen@example.de
	// 3 anna@example.de
}

func ExampleNewReader_column() {
	// Without a header, ?column= takes a column number counted from 1.
	upload := strings.NewReader("Ann,ann@example.com,owner@example.org\nBob,bob@example.org,owner@example.org\n")
	rd, err := csvio.NewReader(upload, "2", csvio.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec, _ := rd.Next()
	fmt.Println(rd.Dialect().HasHeader, rec.Email)
	// Output: false ann@example.com
}

func ExampleWriter() {
	w := csvio.NewWriter(os.Stdout, ',', false)
	_ = w.Write([]string{"email", "note", "preflight_verdict"})
	_ = w.Write([]string{"eve@example.com", "=HYPERLINK(\"http://example.invalid\")", "deliverable"})
	if err := w.Flush(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// email,note,preflight_verdict
	// eve@example.com,"'=HYPERLINK(""http://example.invalid"")",deliverable
}

func ExampleNeutralize() {
	fmt.Println(csvio.Neutralize("=1+1"), csvio.Neutralize("ann@example.com"))
	// Output: '=1+1 ann@example.com
}

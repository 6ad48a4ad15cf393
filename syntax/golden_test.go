package syntax

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current results")

// errorNames names every sentinel error, most specific first, for the
// golden file.
var errorNames = []struct {
	err  error
	name string
}{
	{ErrLocalEmpty, "ErrLocalEmpty"}, {ErrLocalDot, "ErrLocalDot"}, {ErrQuote, "ErrQuote"},
	{ErrDomainEmpty, "ErrDomainEmpty"}, {ErrDomainChar, "ErrDomainChar"},
	{ErrDomainLabel, "ErrDomainLabel"}, {ErrSingleLabel, "ErrSingleLabel"},
	{ErrNumericTLD, "ErrNumericTLD"},
	{ErrEmpty, "ErrEmpty"}, {ErrNoAt, "ErrNoAt"}, {ErrDisplayName, "ErrDisplayName"},
	{ErrComment, "ErrComment"}, {ErrUTF8, "ErrUTF8"}, {ErrTooLong, "ErrTooLong"},
	{ErrLocalTooLong, "ErrLocalTooLong"}, {ErrDomainTooLong, "ErrDomainTooLong"},
	{ErrLocalInvalid, "ErrLocalInvalid"}, {ErrDomainInvalid, "ErrDomainInvalid"},
	{ErrIDNA, "ErrIDNA"}, {ErrDomainLiteral, "ErrDomainLiteral"},
}

func errorName(err error) string {
	for _, e := range errorNames {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "unknown error: " + err.Error()
}

// TestGolden parses testdata/addresses.txt and compares the results with
// testdata/parse.golden.
func TestGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/addresses.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(in))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("addresses.txt:%d: %v", n, err)
		}
		a, err := Parse(s)
		if err != nil {
			fmt.Fprintf(&out, "%s\terror %s\n", line, errorName(err))
			continue
		}
		fmt.Fprintf(&out, "%s\tlocal=%q domain=%q smtputf8=%v\n", line, a.Local, a.Domain, a.SMTPUTF8)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/parse.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		gotLines, wantLines := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gotLines), len(wantLines)) {
			var g, w string
			if i < len(gotLines) {
				g = gotLines[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if g != w {
				t.Errorf("parse.golden line %d:\n got %s\nwant %s", i+1, g, w)
			}
		}
	}
}

package syntax

import (
	"github.com/preflight-email/preflight/internal/ascii"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks the invariants of every successful parse: the parts join
// to Normalized, the RFC 5321 limits hold, the domain is lowercase LDH
// ASCII, SMTPUTF8 is set exactly for non-ASCII local parts, and parsing
// Normalized again gives the same Address.
func FuzzParse(f *testing.F) {
	for _, tc := range validCases() {
		f.Add(tc.in)
	}
	for _, tc := range invalidCases() {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			if a != (Address{}) {
				t.Fatalf("Parse(%q) returned %#v with error %v", s, a, err)
			}
			return
		}
		if a.Normalized != a.Local+"@"+a.Domain {
			t.Fatalf("Parse(%q): Normalized %q != Local %q + @ + Domain %q", s, a.Normalized, a.Local, a.Domain)
		}
		if len(a.Local) == 0 || len(a.Local) > MaxLocal || len(a.Domain) > MaxDomain || len(a.Normalized) > MaxAddress {
			t.Fatalf("Parse(%q) = %#v: length limits broken", s, a)
		}
		if !utf8.ValidString(a.Normalized) {
			t.Fatalf("Parse(%q) = %#v: invalid UTF-8", s, a)
		}
		for i := 0; i < len(a.Domain); i++ {
			c := a.Domain[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
				t.Fatalf("Parse(%q): domain %q has %q", s, a.Domain, c)
			}
		}
		if !strings.Contains(a.Domain, ".") {
			t.Fatalf("Parse(%q): single-label domain %q", s, a.Domain)
		}
		if nonASCII := !ascii.Is(a.Local); a.SMTPUTF8 != nonASCII {
			t.Fatalf("Parse(%q): SMTPUTF8 = %v for local %q", s, a.SMTPUTF8, a.Local)
		}
		if a.Local[0] == '"' && !strings.HasSuffix(a.Local, `"`) {
			t.Fatalf("Parse(%q): unbalanced quoted local %q", s, a.Local)
		}
		b, err := Parse(a.Normalized)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, but Parse(%q) fails: %v", s, a.Normalized, a.Normalized, err)
		}
		if b != a {
			t.Fatalf("Parse(%q) = %#v, but Parse(Normalized) = %#v", s, a, b)
		}
	})
}

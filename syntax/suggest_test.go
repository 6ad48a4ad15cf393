package syntax

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDefaultSuggester(t *testing.T) {
	s := DefaultSuggester()
	for _, tc := range []struct{ in, want string }{
		// One slip away from a popular domain.
		{"gmial.com", "gmail.com"},  // transposition
		{"gmai.com", "gmail.com"},   // deletion
		{"gmaill.com", "gmail.com"}, // insertion
		{"gmsil.com", "gmail.com"},  // substitution
		{"gmail.con", "gmail.com"},  // TLD slip, caught as a whole domain
		{"gmail.co", "gmail.com"},   // a real TLD, but not Gmail's
		{"gnail.cmo", "gmail.com"},  // two slips in a long domain
		{"yaho.com", "yahoo.com"},   //
		{"yahooo.com", "yahoo.com"}, //
		{"hotmial.com", "hotmail.com"},
		{"hotmail.co.uj", "hotmail.co.uk"},
		{"outlok.com", "outlook.com"},
		{"iclod.com", "icloud.com"},
		{"comcast.ent", "comcast.net"},
		{"qq.con", "qq.com"}, // short: one edit allowed
		{"aol.cm", "aol.com"},
		{"web.dr", "web.de"},

		// Listed domains are never corrected, even when close to another.
		{"gmail.com", ""},
		{"mail.com", ""},
		{"ymail.com", ""},
		{"gmx.net", ""},
		{"hotmail.fr", ""},

		// Unrelated domains, short real neighbours, known TLDs: nothing.
		{"example.org", ""},
		{"acme-widgets.com", ""},
		{"university.edu", ""},
		{"gmx.at", ""}, // a real GMX domain, two edits from gmx.de
		{"qq.cn", ""},  // short: two edits are too many
		{"mail.ua", ""},
		{"xn--bcher-kva.de", ""},

		// Unknown TLD one edit from a known one.
		{"acme-widgets.con", "acme-widgets.com"},
		{"example.ogr", "example.org"},
		{"example.nte", "example.net"},
		{"example.comm", "example.com"},
		{"sub.example.inof", "sub.example.info"},

		// Two-letter TLDs may be ccTLDs we do not list; real lookalikes stay.
		{"acme.cm", ""},
		{"acme.om", ""},
		{"acme.cam", ""},
		{"acme.ong", ""},
		{"acme.zzz", ""}, // no known TLD within one edit

		// Degenerate input.
		{"", ""},
		{"com", ""},
		{".con", ""},
		{strings.Repeat("a", 200) + ".con", ""},
	} {
		if got := s.Suggest(tc.in); got != tc.want {
			t.Errorf("Suggest(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// Every listed domain and TLD is known to its own Suggester.
func TestDefaultListsAreKnown(t *testing.T) {
	s := DefaultSuggester()
	for _, d := range defaultDomains() {
		if got := s.Suggest(d); got != "" {
			t.Errorf("Suggest(%q) = %q; a listed domain must not be corrected", d, got)
		}
		if _, err := Parse("x@" + d); err != nil {
			t.Errorf("listed domain %q does not parse: %v", d, err)
		}
	}
	for _, tld := range defaultTLDs() {
		if got := s.Suggest("unlisted-example." + tld); got != "" {
			t.Errorf("Suggest(unlisted-example.%s) = %q; a known TLD must not be corrected", tld, got)
		}
	}
	if n := len(s.domains); n < 30 {
		t.Errorf("default list has %d domains; want about 30 or more", n)
	}
}

func TestNewSuggester(t *testing.T) {
	s := NewSuggester(
		[]string{" Example.COM ", "example.com", "", ".sample.net.", strings.Repeat("x", 70) + ".com"},
		[]string{".ORG", "org", "net"},
	)
	if len(s.domains) != 2 || s.domains[0].name != "example.com" || s.domains[1].name != "sample.net" {
		t.Errorf("domains = %+v; want trimmed, lowercased, deduplicated, short ones", s.domains)
	}
	if len(s.tlds) != 2 || s.tlds[0].name != "org" || s.tlds[1].name != "net" {
		t.Errorf("tlds = %+v", s.tlds)
	}
	for _, tc := range []struct{ in, want string }{
		{"exampel.com", "example.com"},
		{"sampel.net", "sample.net"},
		{"example.com", ""},
		{"foo.ogr", "foo.org"},
		{"foo.com", ""}, // one edit from nothing listed; com itself unknown but not close to org/net
	} {
		if got := s.Suggest(tc.in); got != tc.want {
			t.Errorf("Suggest(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// The earlier of two equally close domains wins.
func TestSuggestTieOrder(t *testing.T) {
	ab := NewSuggester([]string{"abcd.com", "abce.com"}, nil)
	ba := NewSuggester([]string{"abce.com", "abcd.com"}, nil)
	if got := ab.Suggest("abcf.com"); got != "abcd.com" {
		t.Errorf("ab.Suggest = %q; want abcd.com", got)
	}
	if got := ba.Suggest("abcf.com"); got != "abce.com" {
		t.Errorf("ba.Suggest = %q; want abce.com", got)
	}
	// A closer later entry beats an earlier farther one.
	s := NewSuggester([]string{"abxyzdef.com", "abcdefg.com"}, nil)
	if got := s.Suggest("abcdeff.com"); got != "abcdefg.com" {
		t.Errorf("Suggest = %q; want abcdefg.com", got)
	}
}

func TestSuggestNil(t *testing.T) {
	var nilS *Suggester
	if got := nilS.Suggest("gmial.com"); got != "" {
		t.Errorf("nil Suggest = %q", got)
	}
	var zero Suggester
	if got := zero.Suggest("gmial.com"); got != "" {
		t.Errorf("zero Suggest = %q", got)
	}
}

func TestSuggestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	s := DefaultSuggester()
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"gmail.com", 0},
		{"gmial.com", 0},
		{"example.org", 0},
		{"acme-widgets.com", 0},
		{"acme.con", 1}, // the composed result
	} {
		if got := testing.AllocsPerRun(100, func() { _ = s.Suggest(tc.in) }); got > tc.want {
			t.Errorf("Suggest(%q): %v allocations; want at most %v", tc.in, got, tc.want)
		}
	}
}

// osa is the textbook optimal string alignment distance, unbounded.
func osa(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		k    int
		want int
	}{
		{"", "", 2, 0},
		{"", "ab", 2, 2},
		{"", "abc", 2, 3},
		{"gmail.com", "gmail.com", 2, 0},
		{"gmial.com", "gmail.com", 2, 1},
		{"gmai.com", "gmail.com", 2, 1},
		{"gmail.con", "gmail.com", 2, 1},
		{"gnail.cmo", "gmail.com", 2, 2},
		{"ca", "abc", 2, 3}, // OSA, not full Damerau (which gives 2)
		{"example.org", "gmail.com", 2, 3},
		{"abcdef", "badcfe", 2, 3},
		{"abcdef", "badcfe", 3, 3},
		{"ab", "ba", 1, 1},
		{"ab", "ba", 0, 1},
	} {
		if got := distance(tc.a, tc.b, tc.k); got != tc.want {
			t.Errorf("distance(%q, %q, %d) = %d; want %d", tc.a, tc.b, tc.k, got, tc.want)
		}
	}
}

// The banded, early-exit distance agrees with the textbook one, capped.
func TestDistanceMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = "abc.d"[rng.IntN(5)]
		}
		return string(b)
	}
	for range 20000 {
		a, b := word(), word()
		if rng.IntN(2) == 0 { // make near pairs common
			b = mutate(rng, a)
		}
		for k := 0; k <= 3; k++ {
			want := min(osa(a, b), k+1)
			if got := distance(a, b, k); got != want {
				t.Fatalf("distance(%q, %q, %d) = %d; want %d", a, b, k, got, want)
			}
		}
	}
}

func mutate(rng *rand.Rand, s string) string {
	b := []byte(s)
	for range rng.IntN(3) {
		switch i := rng.IntN(len(b) + 1); rng.IntN(4) {
		case 0: // insert
			b = append(b[:i], append([]byte{"abc.d"[rng.IntN(5)]}, b[i:]...)...)
		case 1: // delete
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		case 2: // substitute
			if i < len(b) {
				b[i] = "abc.d"[rng.IntN(5)]
			}
		case 3: // transpose
			if i+1 < len(b) {
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
	}
	return string(b)
}

// The character-set bound never exceeds the true distance.
func TestMaskBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		a := make([]byte, rng.IntN(10))
		for i := range a {
			a[i] = "abcdefgh.-19Z"[rng.IntN(13)]
		}
		b := mutate(rng, string(a))
		if lb, d := maskBound(charMask(string(a)), charMask(b)), osa(string(a), b); lb > d {
			t.Fatalf("maskBound(%q, %q) = %d > distance %d", a, b, lb, d)
		}
	}
}

package ascii

import "testing"

func TestIs(t *testing.T) {
	for s, want := range map[string]bool{
		"":                  true,
		"jane@example.com":  true,
		"\x7f":              true,
		"jöhn":              false,
		"\x80":              false,
		"xn--mnchen-3ya.de": true,
		"münchen.de":        false,
	} {
		if got := Is(s); got != want {
			t.Errorf("Is(%q) = %v, want %v", s, got, want)
		}
	}
}

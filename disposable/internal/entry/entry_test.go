package entry

import (
	"errors"
	"strings"
	"testing"
)

func TestDomain(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"mailinator.com", "mailinator.com", nil},
		{"  Mailinator.COM \n", "mailinator.com", nil},
		{"mailinator.com.", "mailinator.com", nil},
		{"a.b-c.example", "a.b-c.example", nil},
		{"bücher.example", "xn--bcher-kva.example", nil},
		{"BÜCHER.example", "xn--bcher-kva.example", nil},
		{"xn--yaho-sqa.com", "xn--yaho-sqa.com", nil},
		{"ab--cd.example", "ab--cd.example", nil}, // only xn-- is reserved for A-labels here
		{"", "", ErrEmpty},
		{"   ", "", ErrEmpty},
		{"localhost", "", ErrDomain},
		{"com.", "", ErrDomain},
		{"a..example", "", ErrDomain},
		{".example.com", "", ErrDomain},
		{"-a.example", "", ErrDomain},
		{"a-.example", "", ErrDomain},
		{"under_score.example", "", ErrDomain},
		{"a b.example", "", ErrDomain},
		{"xn--abc.example", "", ErrDomain}, // does not decode
		{strings.Repeat("a", 64) + ".example", "", ErrDomain},
		{strings.Repeat("a.", 127) + "example", "", ErrDomain}, // 261 octets
		{"bad\xff.example", "", ErrDomain},
	}
	for _, tt := range tests {
		got, err := Domain(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("Domain(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestLocal(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"info", "info", nil},
		{" INFO ", "info", nil},
		{"no_reply", "no_reply", nil},
		{"no-reply", "no-reply", nil},
		{"jane.ops", "jane.ops", nil},
		{"o'brien", "o'brien", nil},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), nil},
		{"", "", ErrEmpty},
		{strings.Repeat("a", 65), "", ErrLocal},
		{"info+x", "", ErrLocal},
		{"a#b", "", ErrLocal},
		{".info", "", ErrLocal},
		{"info.", "", ErrLocal},
		{"in..fo", "", ErrLocal},
		{"in fo", "", ErrLocal},
		{"a@b", "", ErrLocal},
		{"café", "", ErrLocal},
		{`"quoted"`, "", ErrLocal},
	}
	for _, tt := range tests {
		got, err := Local(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("Local(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

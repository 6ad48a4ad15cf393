// Package entry normalizes and validates list entries, so the generator that
// writes data/*.txt and the loader that reads them and the overrides file apply
// exactly the same rules.
package entry

import (
	"errors"
	"fmt"
	"github.com/preflight-email/preflight/internal/ascii"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Sentinel errors; callers wrap them with the offending text.
var (
	ErrEmpty  = errors.New("empty entry")
	ErrDomain = errors.New("invalid domain")
	ErrLocal  = errors.New("invalid local part")
)

// Limits from RFC 5321 §4.5.3.1.1 (local part, 64 octets) and RFC 1035 §2.3.4
// (label 63 octets, name 255 octets; 253 characters in dotted text form).
const (
	MaxLocal  = 64
	maxLabel  = 63
	maxDomain = 253
)

// Domain returns s as a lowercase ASCII domain: U-labels are converted to
// A-labels (RFC 5891 §4, UTS #46 lookup mapping), existing A-labels must
// decode, one trailing root dot is
// dropped, and the result must be a letter-digit-hyphen host name (RFC 1123
// §2.1) with at least two labels. A single label would be a whole TLD, which
// is never a mailbox provider and almost always a typo in an overrides file.
func Domain(s string) (string, error) {
	d := strings.TrimSpace(s)
	if d == "" {
		return "", ErrEmpty
	}
	if !ascii.Is(d) {
		if !utf8.ValidString(d) {
			return "", fmt.Errorf("%w %q: not UTF-8", ErrDomain, s)
		}
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrDomain, s, err)
		}
		d = a
	}
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if len(d) > maxDomain {
		return "", fmt.Errorf("%w %q: longer than %d octets", ErrDomain, s, maxDomain)
	}
	labels := 0
	for label := range strings.SplitSeq(d, ".") {
		labels++
		if err := checkLabel(label); err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrDomain, s, err)
		}
	}
	if labels < 2 {
		return "", fmt.Errorf("%w %q: needs at least two labels", ErrDomain, s)
	}
	return d, nil
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return errors.New("empty label")
	case len(l) > maxLabel:
		return fmt.Errorf("label longer than %d octets", maxLabel)
	case l[0] == '-' || l[len(l)-1] == '-':
		return errors.New("label starts or ends with a hyphen")
	case strings.HasPrefix(l, "xn--"):
		// An A-label must decode to a valid U-label (RFC 5890 §2.3.2.1).
		if _, err := idna.Lookup.ToUnicode(l); err != nil {
			return fmt.Errorf("label %q is not a valid A-label", l)
		}
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	return nil
}

// Local returns s as a lowercase role local part. It must be an RFC 5322
// §3.2.3 dot-atom of at most 64 octets, without '+' (the subaddress separator
// that lookups strip, so an entry containing it could never match) and
// without '#' (the comment character of the list files). Role lists are
// ASCII: a role name is a convention of the sender, not of the mailbox's
// script, and non-ASCII local parts need SMTPUTF8 (RFC 6531) anyway.
func Local(s string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	switch {
	case l == "":
		return "", ErrEmpty
	case len(l) > MaxLocal:
		return "", fmt.Errorf("%w %q: longer than %d octets", ErrLocal, s, MaxLocal)
	case l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, ".."):
		return "", fmt.Errorf("%w %q: misplaced dot", ErrLocal, s)
	}
	for i := 0; i < len(l); i++ {
		if !localChar(l[i]) {
			return "", fmt.Errorf("%w %q: character %q not allowed", ErrLocal, s, l[i])
		}
	}
	return l, nil
}

// localChar reports whether c may appear in a role entry: RFC 5322 atext
// plus '.', minus '+' and '#'.
func localChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!$%&'*-/=?^_`{|}~.", c) >= 0
}

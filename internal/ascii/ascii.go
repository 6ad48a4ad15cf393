// Package ascii holds the one test for 7-bit text that several packages
// need: the domain of an address after IDNA, the local part that needs
// SMTPUTF8 when it is not ASCII (RFC 6531 §3.4), a HELO name, a MAIL FROM.
package ascii

import "unicode/utf8"

// Is reports whether every byte of s is ASCII (below 0x80).
func Is(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

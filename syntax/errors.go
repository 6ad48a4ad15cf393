package syntax

import "errors"

// Sentinel errors returned by Parse. Check them with errors.Is. The messages
// are written for the person who typed the address; they never contain the
// address itself, so they are safe to log and to return to API clients.
//
// Some errors refine a broader one: ErrLocalDot wraps ErrLocalInvalid, so
// errors.Is(err, ErrLocalInvalid) also holds for a misplaced dot.
var (
	ErrEmpty         = errors.New("the address is empty")
	ErrNoAt          = errors.New("the address has no @ between local part and domain")
	ErrDisplayName   = errors.New("the address has a display name or angle brackets; give only the bare address (name@example.com)")
	ErrComment       = errors.New("the address contains a comment in parentheses")
	ErrUTF8          = errors.New("the address is not valid UTF-8")
	ErrTooLong       = errors.New("the address is longer than 254 octets")
	ErrLocalTooLong  = errors.New("the local part (before the @) is longer than 64 octets")
	ErrDomainTooLong = errors.New("the domain is longer than 255 octets")
	ErrLocalInvalid  = errors.New("the local part (before the @) is not a valid dot-atom or quoted string")
	ErrDomainInvalid = errors.New("the domain is not a valid host name")
	ErrIDNA          = errors.New("the internationalized domain cannot be converted to ASCII (IDNA)")
	ErrDomainLiteral = errors.New("address literals such as [192.0.2.1] are not supported; use a domain name")

	ErrLocalEmpty = refine(ErrLocalInvalid, "the local part (before the @) is empty")
	ErrLocalDot   = refine(ErrLocalInvalid, "the local part starts or ends with a dot, or has two dots in a row")
	ErrQuote      = refine(ErrLocalInvalid, "the quoted local part is not closed, or is followed by something other than @")

	ErrDomainEmpty = refine(ErrDomainInvalid, "the domain (after the @) is empty")
	ErrDomainChar  = refine(ErrDomainInvalid, "the domain may contain only letters, digits, hyphens and dots")
	ErrDomainLabel = refine(ErrDomainInvalid, "a domain label is empty, longer than 63 octets, or starts or ends with a hyphen")
	ErrSingleLabel = refine(ErrDomainInvalid, "the domain needs at least two labels, like example.com")
	ErrNumericTLD  = refine(ErrDomainInvalid, "the top-level domain is all digits")
)

// refinedError is a more precise message for a broader sentinel error.
type refinedError struct {
	parent error
	msg    string
}

func refine(parent error, msg string) error { return &refinedError{parent: parent, msg: msg} }

func (e *refinedError) Error() string { return e.msg }
func (e *refinedError) Unwrap() error { return e.parent }

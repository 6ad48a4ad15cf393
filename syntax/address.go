// Package syntax parses and normalizes email addresses before anything touches
// the network: the first stage of Preflight's pipeline (docs/design.md).
//
// Parse accepts a bare mailbox as RFC 5321 §4.1.2 defines it (Mailbox =
// Local-part "@" Domain), extended by RFC 6531 §3.3 to UTF-8 local parts, and
// returns the form the probe must send in RCPT TO. A Suggester proposes a
// correction for a mistyped domain (gmial.com → gmail.com).
//
// Both are built for bulk lists: parsing an already normalized ASCII address
// does not allocate, and Suggest is allocation-free unless it has to compose a
// new domain.
package syntax

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Length limits in octets.
const (
	// MaxLocal is the longest local part, RFC 5321 §4.5.3.1.1.
	MaxLocal = 64
	// MaxDomain is the longest domain, RFC 5321 §4.5.3.1.2.
	MaxDomain = 255
	// MaxAddress is the longest address: the 256-octet Path of RFC 5321
	// §4.5.3.1.3 less its angle brackets (RFC 3696 erratum 1690).
	MaxAddress = 254

	// maxLabel is the longest DNS label, RFC 1035 §2.3.4.
	maxLabel = 63
	// maxInput bounds the work done on hostile input before IDNA mapping.
	// UTS #46 mapping can shrink a domain (ignored code points such as
	// U+00AD vanish), so a raw input may be somewhat longer than MaxAddress
	// and still map to a valid address; four times is generous.
	maxInput = 4 * MaxAddress
)

// Address is a parsed, normalized mailbox (RFC 5321 §4.1.2 Mailbox =
// Local-part "@" Domain).
//
// The strings may share memory with the string given to Parse.
type Address struct {
	// Local is the local part as it must be sent in RCPT TO. Its case is
	// preserved: only the receiving host may interpret it (RFC 5321 §2.4).
	// It keeps the quoted-string form only when the content is not a valid
	// dot-atom, with quoted pairs only for '"' and '\' (RFC 5322 §3.4.1:
	// the dot-atom form SHOULD be used when it can be).
	Local string
	// Domain is the ASCII (A-label) domain, lowercased (RFC 5890 §2.3.2.1).
	Domain string
	// Normalized is Local + "@" + Domain.
	Normalized string
	// SMTPUTF8 reports that Local holds non-ASCII characters, so the probe
	// must use the SMTPUTF8 extension (RFC 6531 §3.3). An internationalized
	// domain alone does not need it: it is sent as A-labels.
	SMTPUTF8 bool
}

// String returns the normalized address.
func (a Address) String() string { return a.Normalized }

// Key is the address's identity in Preflight: the normalized address with
// its local part lowercased. Every cache, a job's de-duplication and the
// suppression list key on it, so that one mailbox is one entry however it
// is written. RFC 5321 §2.4 lets a receiving host treat local parts as
// case-sensitive, but no mailbox provider does, and an address must not
// escape the suppression list by changing case. Local, not Key, is what is
// sent in RCPT TO. Key allocates only when the local part has upper case.
func (a Address) Key() string {
	for i := 0; i < len(a.Local); i++ {
		if c := a.Local[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			return strings.ToLower(a.Local) + "@" + a.Domain
		}
	}
	return a.Normalized
}

// Parse parses a bare email address, such as "Jane.Doe@Example.com", and
// normalizes it. Surrounding ASCII whitespace is ignored. Display names
// ("Jane <jane@example.com>"), comments, domain literals and obsolete RFC 5322
// syntax are rejected, because none of them can be sent in RCPT TO as given.
//
// Errors are the sentinel values of this package (check with errors.Is).
// Parse is safe for concurrent use.
func Parse(s string) (Address, error) {
	return std.parse(s)
}

// std is the package's parser. It is built once when the package is
// initialized and never written again; an *idna.Profile is immutable and safe
// for concurrent use.
var std = newParser()

// parser holds what parsing needs beyond the input: the IDNA profile.
type parser struct {
	idna *idna.Profile
}

func newParser() *parser {
	// The profile follows the lookup rules of RFC 5891 §5 as UTS #46 refines
	// them, because an address's domain is looked up, not registered:
	//   - MapForLookup maps case, width and compatibility forms (ＥＸＡＭＰＬＥ,
	//     ideographic full stop) the way a mail client would before lookup;
	//   - Transitional(false): IDNA2008 keeps ß, ς, ZWJ and ZWNJ. faß.de and
	//     fass.de are different registrations; the transitional mapping would
	//     silently send us to the wrong domain;
	//   - ValidateLabels, CheckHyphens, StrictDomainName: RFC 5891 §5.4 label
	//     validation, no "--" in positions 3–4 of a U-label (§4.2.3.1), no
	//     leading or trailing hyphen, LDH only (RFC 1123 §2.1) — invalid
	//     names are rejected rather than guessed at;
	//   - BidiRule: RFC 5893, needed for right-to-left labels to be valid;
	//   - VerifyDNSLength: labels of 1–63 octets, names of at most 253.
	// Like every UTS #46 lookup profile it still admits symbols that IDNA2008
	// leaves out, such as emoji: some registries sell such names, and DNS is
	// the judge of whether one exists.
	//
	// CheckHyphens applies only when IDNA runs, that is to domains with a
	// non-ASCII or xn-- label. Pure ASCII domains are judged by RFC 5321
	// §4.1.2 alone, which allows labels such as "r3---sn": refusing a real
	// host name would be a wrong verdict, and DNS will judge it anyway.
	return &parser{idna: idna.New(
		idna.MapForLookup(),
		idna.Transitional(false),
		idna.ValidateLabels(true),
		idna.CheckHyphens(true),
		idna.StrictDomainName(true),
		idna.BidiRule(),
		idna.VerifyDNSLength(true),
	)}
}

// local describes a scanned local part.
type local struct {
	raw       string // as written, quotes and quoted pairs included
	quoted    bool   // written as a quoted-string
	needQuote bool   // content is not a dot-atom, so the canonical form is quoted
	verbatim  bool   // raw is already the canonical form
	size      int    // octets of the canonical form
	nonASCII  bool
}

func (p *parser) parse(s string) (Address, error) {
	s = trimSpace(s)
	if s == "" {
		return Address{}, ErrEmpty
	}
	if len(s) > maxInput {
		return Address{}, ErrTooLong
	}

	var (
		l   local
		at  int
		err error
	)
	if s[0] == '"' {
		l, at, err = scanQuoted(s)
	} else {
		l, at, err = scanDotAtom(s)
	}
	if err != nil {
		return Address{}, classify(s, err)
	}
	if l.size > MaxLocal {
		return Address{}, ErrLocalTooLong
	}

	d := s[at+1:]
	if d == "" {
		return Address{}, classify(s, ErrDomainEmpty)
	}
	if d[0] == '[' {
		// RFC 5321 §4.1.3 address literals name a host, not a domain: there
		// is no MX to look up, and probing raw IPs is what a scanner does.
		return Address{}, ErrDomainLiteral
	}
	dom, err := scanDomain(d)
	if err != nil {
		return Address{}, classify(s, err)
	}
	domain := d
	if dom.nonASCII || dom.ace {
		if domain, err = p.toASCII(d, dom.nonASCII); err != nil {
			return Address{}, classify(s, err)
		}
		// The A-label form must obey the same rules as any ASCII domain;
		// this also makes Parse(Normalized) give the same result.
		if dom, err = scanDomain(domain); err != nil {
			return Address{}, err
		}
		if dom.nonASCII || dom.upper {
			return Address{}, ErrIDNA // IDNA output is lowercase ASCII
		}
	}
	if len(domain) > MaxDomain {
		return Address{}, ErrDomainTooLong
	}
	total := l.size + 1 + len(domain)
	if total > MaxAddress {
		return Address{}, ErrTooLong
	}

	if l.verbatim && !dom.upper && domain == d {
		// Already normalized: reuse the input, no allocation.
		return Address{Local: s[:at], Domain: d, Normalized: s, SMTPUTF8: l.nonASCII}, nil
	}
	var b strings.Builder
	b.Grow(total)
	writeLocal(&b, l)
	b.WriteByte('@')
	if dom.upper {
		for i := 0; i < len(domain); i++ {
			c := domain[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		}
	} else {
		b.WriteString(domain)
	}
	n := b.String()
	return Address{Local: n[:l.size], Domain: n[l.size+1:], Normalized: n, SMTPUTF8: l.nonASCII}, nil
}

// toASCII converts an internationalized domain to A-labels.
func (p *parser) toASCII(d string, nonASCII bool) (string, error) {
	if nonASCII && !utf8.ValidString(d) {
		return "", ErrUTF8
	}
	a, err := p.idna.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrIDNA, err)
	}
	return a, nil
}

// trimSpace removes surrounding ASCII whitespace only: a non-ASCII space is
// part of what the user typed and is judged like any other character.
func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// atext of RFC 5322 §3.2.3 as two 64-bit masks over ASCII: letters, digits
// and !#$%&'*+-/=?^_`{|}~. Constants, so no table lives in package state.
const (
	atextLo uint64 = 1<<'!' | 1<<'#' | 1<<'$' | 1<<'%' | 1<<'&' | 1<<'\'' | 1<<'*' |
		1<<'+' | 1<<'-' | 1<<'/' | 1<<'=' | 1<<'?' |
		((1<<10 - 1) << '0') // digits
	atextHi uint64 = ((1<<26 - 1) << ('A' - 64)) | ((1<<26 - 1) << ('a' - 64)) |
		1<<('^'-64) | 1<<('_'-64) | 1<<('`'-64) | 1<<('{'-64) | 1<<('|'-64) |
		1<<('}'-64) | 1<<('~'-64)
)

func isAtext(c byte) bool {
	if c < 64 {
		return atextLo>>c&1 != 0
	}
	return c < 128 && atextHi>>(c-64)&1 != 0
}

// scanDotAtom scans a Dot-string local part (RFC 5321 §4.1.2, RFC 5322 §3.2.3)
// up to the first '@'. Non-ASCII characters count as atext (RFC 6531 §3.3).
func scanDotAtom(s string) (local, int, error) {
	l := local{verbatim: true}
	prevDot := true // a dot may not come first
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '@':
			if i == 0 {
				return l, 0, ErrLocalEmpty
			}
			if prevDot {
				return l, 0, ErrLocalDot
			}
			l.raw, l.size = s[:i], i
			return l, i, nil
		case c == '.':
			if prevDot {
				return l, 0, ErrLocalDot
			}
			prevDot = true
			i++
		case c < utf8.RuneSelf:
			if !isAtext(c) {
				return l, 0, ErrLocalInvalid
			}
			prevDot = false
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return l, 0, ErrUTF8
			}
			if !unquotedRune(r) {
				return l, 0, ErrLocalInvalid
			}
			l.nonASCII = true
			prevDot = false
			i += size
		}
	}
	return l, 0, ErrNoAt
}

// unquotedRune reports whether a non-ASCII rune may appear in an unquoted
// local part. RFC 6532 §3.2 admits any UTF8-non-ascii; we also refuse
// controls and spaces, as RFC 5322 atext refuses their ASCII counterparts: a
// no-break space pasted before an address is a typo, not a mailbox.
func unquotedRune(r rune) bool {
	return !unicode.IsControl(r) && !unicode.IsSpace(r) && r != '\u200b' && r != '\ufeff'
}

// scanQuoted scans a Quoted-string local part (RFC 5321 §4.1.2, extended by
// RFC 6531 §3.3) that starts at s[0] == '"' and must be followed by '@'.
// Only what RFC 5321 allows in RCPT TO is accepted: no folding white space,
// no tabs, quoted pairs of printable ASCII only.
func scanQuoted(s string) (local, int, error) {
	l := local{quoted: true, verbatim: true}
	var (
		content  int    // octets of the unescaped content
		specials int    // '"' and '\' in the content: escaped in canonical form
		dotAtom  = true // the content would be a valid dot-atom
		prevDot  = true // the previous content character was a dot (or none)
		i        = 1    // s[0] is the opening quote
	)
	for {
		if i >= len(s) {
			return l, 0, ErrQuote
		}
		c := s[i]
		if c == '"' {
			i++
			break
		}
		switch {
		case c == '\\':
			// quoted-pairSMTP = %d92 %d32-126 (RFC 5321 §4.1.2)
			if i+1 >= len(s) {
				return l, 0, ErrQuote
			}
			c = s[i+1]
			if c < 32 || c > 126 {
				return l, 0, ErrLocalInvalid
			}
			if c != '"' && c != '\\' {
				l.verbatim = false // an escape nobody needs
			}
			i += 2
			content++
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return l, 0, ErrUTF8
			}
			if unicode.IsControl(r) {
				return l, 0, ErrLocalInvalid
			}
			l.nonASCII = true
			if !unquotedRune(r) {
				dotAtom = false
			}
			prevDot = false
			i += n
			content += n
			continue
		case c < 32 || c == 127:
			// qtextSMTP is %d32-33 / %d35-91 / %d93-126: no controls, no tab.
			return l, 0, ErrLocalInvalid
		default:
			i++
			content++
		}
		switch {
		case c == '"' || c == '\\':
			specials++
			dotAtom = false
			prevDot = false
		case c == '.':
			if prevDot {
				dotAtom = false
			}
			prevDot = true
		default:
			if !isAtext(c) {
				dotAtom = false
			}
			prevDot = false
		}
	}
	if i >= len(s) || s[i] != '@' {
		return l, 0, ErrQuote
	}
	if content == 0 {
		// RFC 5321 allows "" syntactically, but it names no mailbox any
		// system hands out, and many servers refuse RCPT TO:<""@domain>.
		return l, 0, ErrLocalEmpty
	}
	if prevDot {
		dotAtom = false
	}
	l.raw = s[:i]
	l.needQuote = !dotAtom
	if l.needQuote {
		l.size = content + specials + 2
	} else {
		// RFC 5322 §3.4.1: a local part that can be a dot-atom SHOULD be.
		l.verbatim = false
		l.size = content
	}
	return l, i, nil
}

// writeLocal writes the canonical form of l: the dot-atom when the content
// is one, otherwise a quoted-string with quoted pairs only for '"' and '\'.
func writeLocal(b *strings.Builder, l local) {
	if !l.quoted {
		b.WriteString(l.raw)
		return
	}
	content := l.raw[1 : len(l.raw)-1]
	if l.needQuote {
		b.WriteByte('"')
	}
	for i := 0; i < len(content); i++ {
		c := content[i]
		if c == '\\' {
			i++
			c = content[i]
			if l.needQuote && (c == '"' || c == '\\') {
				b.WriteByte('\\')
			}
		}
		b.WriteByte(c)
	}
	if l.needQuote {
		b.WriteByte('"')
	}
}

// domainInfo describes a scanned domain.
type domainInfo struct {
	upper    bool // has ASCII upper case to fold
	ace      bool // has an xn-- label that IDNA must validate
	nonASCII bool // has non-ASCII bytes: IDNA must convert it
}

// scanDomain checks an ASCII domain against RFC 5321 §4.1.2 (Domain =
// sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]) and RFC 1035
// §2.3.4 (labels of 1–63 octets). It stops early, without error, at the
// first non-ASCII byte: such a domain goes to IDNA first.
func scanDomain(d string) (domainInfo, error) {
	var info domainInfo
	labels, start := 0, 0
	digits, tldDigits := true, false
	for i := 0; i <= len(d); i++ {
		if i == len(d) || d[i] == '.' {
			n := i - start
			if n == 0 || n > maxLabel || d[start] == '-' || d[i-1] == '-' {
				return info, ErrDomainLabel
			}
			if n >= 4 && d[start]|0x20 == 'x' && d[start+1]|0x20 == 'n' && d[start+2] == '-' && d[start+3] == '-' {
				info.ace = true
			}
			labels++
			tldDigits, digits = digits, true
			start = i + 1
			continue
		}
		switch c := d[i]; {
		case 'a' <= c && c <= 'z' || c == '-':
			digits = false
		case 'A' <= c && c <= 'Z':
			digits = false
			info.upper = true
		case '0' <= c && c <= '9':
		case c >= utf8.RuneSelf:
			info.nonASCII = true
			return info, nil
		default:
			return info, ErrDomainChar
		}
	}
	if labels < 2 {
		// A single label is not a mail domain on the public Internet
		// (RFC 7085 describes why dotless domains fail for mail).
		return info, ErrSingleLabel
	}
	if tldDigits {
		// No TLD is all digits (RFC 3696 §2); this also refuses bare IPv4.
		return info, ErrNumericTLD
	}
	return info, nil
}

// classify replaces a syntax error with a more helpful one when the input is
// recognisably something other than a bare address: a display name with
// angle brackets, a comment, or no '@' at all. Quoted strings are skipped,
// since "<j>"@example.com is a valid address.
func classify(s string, err error) error {
	var angle, paren, at, inQuote, escaped bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inQuote {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inQuote = false
			}
			continue
		}
		switch c {
		case '"':
			inQuote = true
		case '<', '>':
			angle = true
		case '(', ')':
			paren = true
		case '@':
			at = true
		}
	}
	switch {
	case err == ErrUTF8:
		return err // say so, whatever else is wrong
	case angle:
		return ErrDisplayName
	case paren:
		return ErrComment
	case !at && !inQuote:
		// With a quote left open the '@' may have been swallowed by it;
		// ErrQuote says more than "no @".
		return ErrNoAt
	}
	return err
}

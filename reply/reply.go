// Package reply reads SMTP replies and delivery status notifications and
// classifies them. It is the one classifier shared by the SMTP probe (which
// sees live replies) and the bounce explainer (which sees DSN diagnostics),
// so both speak the same outcome.Reason for the same reply.
package reply

import "strings"

// Reply is one SMTP reply (RFC 5321 §4.2), possibly multi-line, or the
// diagnostic text of a DSN (RFC 3464 §2.3.6).
type Reply struct {
	Code     int    // basic code, 0 if none was found
	Enhanced string // RFC 3463 enhanced code "x.y.z", "" if none
	Text     string // human text with the codes stripped; lines of a multi-line reply joined with " "
}

// Parse reads s as a raw (multi-line) SMTP reply, a DSN Diagnostic-Code value
// ("smtp; 550 5.1.1 ...", "X-Postfix; ..."), a bare "550 5.1.1 text",
// "5.1.1 text", "550 text", or plain text. It never fails: what it cannot
// read stays in Text.
func Parse(s string) Reply {
	s = trimSpace(s)
	s = stripDiagnosticType(s)
	if strings.IndexByte(s, '\n') < 0 {
		return parseLine(s)
	}
	// Multi-line reply (RFC 5321 §4.2.1): every line repeats the code, and
	// RFC 2034 §3 has every line repeat the enhanced code too. The first line
	// that carries a code decides it; the texts are joined.
	var r Reply
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		l := parseLine(trimSpace(line))
		if r.Code == 0 {
			r.Code = l.Code
		}
		if r.Enhanced == "" {
			r.Enhanced = l.Enhanced
		}
		if l.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l.Text)
	}
	r.Text = b.String()
	return r
}

// parseLine reads one line: an optional basic code, an optional enhanced
// code, then text.
func parseLine(s string) Reply {
	var r Reply
	if code, rest, ok := basicCode(s); ok {
		r.Code = code
		s = rest
	}
	if enh, rest, ok := enhancedCode(s); ok {
		// RFC 3463 §2: the class of the enhanced code must agree with the
		// basic code's first digit; a mismatch means the "code" was text.
		if r.Code == 0 || int(enh[0]-'0') == r.Code/100 {
			r.Enhanced = enh
			s = rest
		}
	}
	r.Text = s
	return r
}

// basicCode reads a three-digit reply code (RFC 5321 §4.2: the first digit
// 2-5) followed by a space, a hyphen (continuation), or the end.
func basicCode(s string) (int, string, bool) {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, s, false
	}
	code := int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if len(s) == 3 {
		return code, "", true
	}
	switch s[3] {
	case ' ', '-', '\t':
		return code, trimSpace(s[4:]), true
	}
	return 0, s, false
}

// enhancedCode reads an RFC 3463 §2 status code: class "." subject "."
// detail, class 2, 4 or 5, subject and detail one to three digits.
func enhancedCode(s string) (string, string, bool) {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return "", s, false
	}
	i := 2
	n := digits(s[i:])
	if n == 0 || n > 3 {
		return "", s, false
	}
	i += n
	if i >= len(s) || s[i] != '.' {
		return "", s, false
	}
	i++
	n = digits(s[i:])
	if n == 0 || n > 3 {
		return "", s, false
	}
	i += n
	if i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '-' && s[i] != ',' && s[i] != ';' && s[i] != ':' {
		return "", s, false
	}
	code := s[:i]
	rest := s[i:]
	if len(rest) > 0 && (rest[0] == '-' || rest[0] == ',' || rest[0] == ';' || rest[0] == ':') {
		rest = rest[1:]
	}
	return code, trimSpace(rest), true
}

// stripDiagnosticType removes the diagnostic-type of a DSN Diagnostic-Code
// field (RFC 3464 §2.3.6: diagnostic-type ";" *text), e.g. "smtp;",
// "X-Postfix;". It only strips a leading atom, so ordinary text with a
// semicolon keeps it.
func stripDiagnosticType(s string) string {
	i := strings.IndexByte(s, ';')
	if i <= 0 || i > 20 {
		return s
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || isDigit(c)) {
			return s
		}
	}
	if isDigit(s[0]) {
		return s
	}
	return trimSpace(s[i+1:])
}

func digits(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

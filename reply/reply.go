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
// read stays in Text. A single-line reply is parsed without allocating.
func Parse(s string) Reply {
	s = trimSpace(s)
	s = stripDiagnosticType(s)
	var r Reply
	if strings.IndexByte(s, '\n') < 0 {
		r = parseLine(s)
	} else {
		r = parseLines(s)
	}
	if r.Code == 0 && r.Enhanced == "" {
		// An MTA's own report of what the remote server said:
		// Postfix "host mx[1.2.3.4] said: 550 5.1.1 ...", Exim "SMTP error
		// from remote mail server after RCPT TO:<a@b>: 550 ...".
		// The MTA's words before the quote stay in the text: they name the
		// remote host, which often identifies the provider.
		if prefix, rest, ok := quotedReply(r.Text); ok {
			if q := parseLine(rest); q.Code != 0 {
				q.Text = prefix + " " + q.Text
				r = q
			}
		}
	}
	if r.Enhanced == "" {
		r.Enhanced = embeddedEnhanced(r.Text, r.Code)
	}
	if r.Code != 0 {
		r.Text = dropRepeatedCodes(r.Text, r.Code, r.Enhanced)
	}
	return r
}

// parseLines reads a multi-line reply (RFC 5321 §4.2.1): every line repeats
// the code, and RFC 2034 §3 has every line repeat the enhanced code too. The
// first line that carries a code decides it; the texts are joined.
func parseLines(s string) Reply {
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

// enhancedCode reads an RFC 3463 §2 status code at the start of s: class
// "." subject "." detail, class 2, 4 or 5, subject and detail one to three
// digits.
func enhancedCode(s string) (string, string, bool) {
	n := enhancedLen(s)
	if n == 0 {
		return "", s, false
	}
	if n < len(s) && !isCodeEnd(s[n]) {
		return "", s, false
	}
	code, rest := s[:n], s[n:]
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
		rest = rest[1:] // "5.1.1:", "5.1.1-" and the like
	}
	return code, trimSpace(rest), true
}

// enhancedLen returns the length of the enhanced code at the start of s, or 0.
func enhancedLen(s string) int {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	n := digits(s[i:])
	if n == 0 || n > 3 {
		return 0
	}
	i += n
	if i >= len(s) || s[i] != '.' {
		return 0
	}
	i++
	n = digits(s[i:])
	if n == 0 || n > 3 {
		return 0
	}
	return i + n
}

func isCodeEnd(c byte) bool {
	switch c {
	case ' ', '\t', '-', ',', ';', ':', ')', ']':
		return true
	}
	return false
}

// stripDiagnosticType removes the diagnostic-type of a DSN Diagnostic-Code
// field (RFC 3464 §2.3.6: diagnostic-type ";" *text), e.g. "smtp;",
// "X-Postfix;", and the field name too when a whole header line was passed.
// It only strips a leading atom, so ordinary text with a semicolon keeps it.
func stripDiagnosticType(s string) string {
	const field = "diagnostic-code:"
	if len(s) > len(field) && strings.EqualFold(s[:len(field)], field) {
		s = trimSpace(s[len(field):])
	}
	i := strings.IndexByte(s, ';')
	if i <= 0 || i > 20 || isDigit(s[0]) {
		return s
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || isDigit(c)) {
			return s
		}
	}
	return trimSpace(s[i+1:])
}

// quotedReply finds a remote server's reply quoted inside an MTA's own
// text and returns the text before it and the quoted reply.
func quotedReply(s string) (prefix, reply string, ok bool) {
	// Sendmail's queue report "Deferred: 451 4.7.1 ...".
	if rest, found := strings.CutPrefix(s, "Deferred: "); found && rest != "" && isDigit(rest[0]) {
		return "Deferred:", rest, true
	}
	if i := strings.Index(s, "said: "); i >= 0 {
		return trimSpace(s[:i+len("said:")]), s[i+len("said: "):], true
	}
	if i := strings.Index(s, "mail server after "); i >= 0 {
		// Exim: "... after RCPT TO:<a@b>: 550 5.1.1 ..."; the reply follows
		// the first ": " that precedes a digit.
		for j := i; ; {
			k := strings.Index(s[j:], ": ")
			if k < 0 {
				return "", "", false
			}
			j += k + 2
			if j < len(s) && isDigit(s[j]) {
				return trimSpace(s[:j-1]), s[j:], true
			}
		}
	}
	return "", "", false
}

// embeddedEnhanced finds an enhanced code that is not at the start of the
// text, as some gateways write it: Barracuda "cuda_nsu 5.1.1 <a@b>",
// qmail-style "(#5.1.1)". Only codes of a registered subject (0-7, RFC 3463
// §3) whose class agrees with the basic code count, so version numbers and
// provider-internal codes such as Yahoo's "[#4.16.1]" are left alone.
func embeddedEnhanced(s string, code int) string {
	for i := 1; i+5 <= len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' || s[i+1] != '.' {
			continue
		}
		switch s[i-1] {
		case ' ', '#', '(', '[':
		default:
			continue
		}
		n := enhancedLen(s[i:])
		if n == 0 || (i+n < len(s) && !isCodeEnd(s[i+n])) {
			continue
		}
		e := s[i : i+n]
		if _, subject, _, ok := splitEnhanced(e); !ok || subject > 7 {
			continue
		}
		if code != 0 && int(c-'0') != code/100 {
			continue
		}
		return e
	}
	return ""
}

// dropRepeatedCodes removes the codes that a multi-line reply repeats on
// every line when it arrives folded into one line, as in a DSN
// Diagnostic-Code: "... Please try 550-5.1.1 double-checking ...". It
// allocates only when there is something to remove.
func dropRepeatedCodes(s string, code int, enhanced string) string {
	first := -1
	for i := 0; i < len(s); i++ {
		if repeatedCodeAt(s, i, code, enhanced) > 0 {
			first = i
			break
		}
	}
	if first < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	start := 0
	for i := first; i < len(s); i++ {
		if n := repeatedCodeAt(s, i, code, enhanced); n > 0 {
			b.WriteString(s[start : i+1])
			start = i + 1 + n
			i = start - 1
		}
	}
	if start < len(s) {
		b.WriteString(s[start:])
	}
	return trimSpace(b.String())
}

// repeatedCodeAt looks at s[i:] for a space followed by the reply's own
// code and a continuation hyphen ("550-") or the code and its enhanced code
// ("550 5.1.1"). It returns how many bytes after the space to drop, or 0.
func repeatedCodeAt(s string, i, code int, enhanced string) int {
	if s[i] != ' ' || i+5 > len(s) || !isDigit(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) ||
		int(s[i+1]-'0') != code/100 || int(s[i+2]-'0') != code/10%10 || int(s[i+3]-'0') != code%10 {
		return 0
	}
	sep := s[i+4]
	if sep != '-' && sep != ' ' {
		return 0
	}
	rest := s[i+5:]
	if enhanced != "" && strings.HasPrefix(rest, enhanced) {
		n := 4 + len(enhanced)
		if len(rest) == len(enhanced) {
			return n
		}
		if rest[len(enhanced)] == ' ' {
			return n + 1
		}
		return 0
	}
	if sep == ' ' {
		// " 550 " without the enhanced code is too likely to be real text.
		return 0
	}
	return 4
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

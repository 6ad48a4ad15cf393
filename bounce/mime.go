package bounce

import (
	"bytes"
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// Limits that keep a hostile or broken message from costing more than a
// bounded amount of memory and time. Real bounces are a few kilobytes of
// report and, at most, a copy of the original message.
const (
	// MaxSize is the part of a message that Read looks at; the rest (in a
	// bounce, the tail of the returned original) is ignored.
	MaxSize = 4 << 20
	// maxDepth caps MIME nesting: a report inside a mixed message inside a
	// forwarded message is as deep as real bounces go.
	maxDepth = 8
	// maxParts caps the leaf parts read from one message.
	maxParts = 64
	// maxHeaderFields caps the header fields kept per header block.
	maxHeaderFields = 200
	// maxHuman caps the human-readable text read for recipients and
	// reasons: bounce texts are short, and the reading of each recipient
	// looks at it again.
	maxHuman = 256 << 10
	// maxRecipients caps the recipients reported per message.
	maxRecipients = 256
	// maxFieldLen caps an unfolded header or DSN field: a field folded
	// over many lines is not read beyond it, which keeps unfolding linear.
	maxFieldLen = 16 << 10
)

// header is one header block: field names lower-cased, values unfolded,
// in order. Lookups are linear; blocks are short.
type header []field

type field struct{ name, value string }

func (h header) get(name string) string {
	for _, f := range h {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

func (h header) all(name string) []string {
	var out []string
	for _, f := range h {
		if f.name == name {
			out = append(out, f.value)
		}
	}
	return out
}

// normalizeEOL turns CRLF and lone CR line ends into LF (RFC 5322 §2.1 says
// CRLF; files on disk and pasted messages carry all three). It returns b
// itself when there is no CR.
func normalizeEOL(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\r' {
			out = append(out, '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// splitHeader reads a header block (RFC 5322 §2.2) tolerantly: folded
// lines are unfolded (§2.2.3), a line without a colon that is not a
// continuation is skipped rather than ending the block, and the block ends
// at the first empty line. A leading mbox "From " line is skipped. It
// returns the header and the body after the empty line.
func splitHeader(b []byte) (header, []byte) {
	var h header
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		if len(bytes.TrimSpace(line)) == 0 {
			return h, b
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) > 0 {
				f := &h[len(h)-1]
				if len(f.value) < maxFieldLen {
					f.value += " " + string(bytes.TrimSpace(line))
				}
			}
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || bytes.ContainsAny(line[:c], " \t") && !isFieldName(bytes.TrimSpace(line[:c])) {
			// Not a field: a broken header. If it looks like body text,
			// the header ended without its empty line.
			if len(h) > 0 && c < 0 {
				return h, append(line[:len(line):len(line)], append([]byte{'\n'}, b...)...)
			}
			continue
		}
		if len(h) < maxHeaderFields {
			name := strings.ToLower(string(bytes.TrimSpace(line[:c])))
			h = append(h, field{name: name, value: string(bytes.TrimSpace(line[c+1:]))})
		}
	}
	return h, nil
}

func isFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 127 || c == ':' {
			return false
		}
	}
	return true
}

// mediaType reads a Content-Type value tolerantly: the type lower-cased,
// and the parameters asked for. mime.ParseMediaType refuses values that
// real bounces carry (duplicate parameters, stray semicolons, unquoted
// specials in a boundary), so this reads them by hand.
func mediaType(v string) (typ string, params map[string]string) {
	params = map[string]string{}
	parts := splitParams(v)
	if len(parts) == 0 {
		return "", params
	}
	typ = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		k = strings.TrimSuffix(k, "*") // RFC 2231 simple form
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' {
			if j := strings.IndexByte(val[1:], '"'); j >= 0 {
				val = val[1 : 1+j]
			} else {
				val = val[1:]
			}
		}
		if _, dup := params[k]; !dup {
			params[k] = val
		}
	}
	return typ, params
}

// splitParams splits at semicolons outside quotes.
func splitParams(v string) []string {
	var out []string
	inQ := false
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQ = !inQ
		case ';':
			if !inQ {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// part is one leaf of the MIME tree, decoded.
type part struct {
	typ    string // media type, lower case
	header header
	body   []byte // transfer-decoded, line ends normalised
	depth  int
	// inOriginal marks a part inside the returned original message (a
	// message/rfc822 part), which must not be read as the bounce's text.
	inOriginal bool
}

// walker flattens a message into leaf parts within the limits.
type walker struct {
	parts []part
}

func (w *walker) walk(h header, body []byte, depth int, inOriginal bool) {
	if len(w.parts) >= maxParts {
		return
	}
	typ, params := mediaType(h.get("content-type"))
	if typ == "" {
		typ = "text/plain" // RFC 2045 §5.2
	}
	enc := strings.ToLower(strings.TrimSpace(h.get("content-transfer-encoding")))
	switch {
	case strings.HasPrefix(typ, "multipart/") && depth < maxDepth:
		if enc == "base64" || enc == "quoted-printable" {
			body = decodeTransfer(enc, body)
		}
		for _, p := range splitMultipart(body, params["boundary"]) {
			ph, pb := splitHeader(p)
			w.walk(ph, pb, depth+1, inOriginal)
			if len(w.parts) >= maxParts {
				return
			}
		}
	case (typ == "message/rfc822" || typ == "message/global") && depth < maxDepth:
		// The returned original. Its header is useful (To, Message-ID),
		// its text is not the bounce's.
		body = decodeTransfer(enc, body)
		w.parts = append(w.parts, part{typ: typ, header: h, body: body, depth: depth, inOriginal: inOriginal})
		ih, ib := splitHeader(body)
		w.walk(ih, ib, depth+1, true)
	default:
		body = decodeTransfer(enc, body)
		if strings.HasPrefix(typ, "text/") && !inOriginal {
			body = decodeJapanese(params["charset"], body)
		}
		w.parts = append(w.parts, part{typ: typ, header: h, body: body, depth: depth, inOriginal: inOriginal})
	}
}

// decodeJapanese converts the bounce texts of Japanese carriers and MTAs
// (au/KDDI, NTT docomo, OCN, m-FILTER) to UTF-8, so that their words can
// be matched: ISO-2022-JP (RFC 1468) when escape sequences are present,
// Shift_JIS and EUC-JP when the bytes are not already UTF-8 (some
// archives convert the text and keep the label). Every other charset is
// left as it is: the patterns are ASCII or UTF-8.
func decodeJapanese(charset string, b []byte) []byte {
	var dec *encoding.Decoder
	switch strings.ToLower(strings.Trim(charset, "\" ")) {
	case "iso-2022-jp", "iso-2022-jp-2", "iso-2022-jp-3", "csiso2022jp":
		if bytes.IndexByte(b, 0x1b) < 0 {
			return b
		}
		dec = japanese.ISO2022JP.NewDecoder()
	case "shift_jis", "shift-jis", "sjis", "x-sjis", "windows-31j", "cp932", "ms_kanji":
		if utf8.Valid(b) {
			return b
		}
		dec = japanese.ShiftJIS.NewDecoder()
	case "euc-jp", "x-euc-jp", "eucjp":
		if utf8.Valid(b) {
			return b
		}
		dec = japanese.EUCJP.NewDecoder()
	default:
		return b
	}
	out, err := dec.Bytes(b)
	if err != nil {
		return b
	}
	return out
}

// splitMultipart splits a multipart body at its boundary lines (RFC 2046
// §5.1.1). It is tolerant: a missing boundary parameter is guessed from
// the first "--" line, the closing delimiter may be missing, and a
// boundary line may carry trailing white space.
func splitMultipart(body []byte, boundary string) [][]byte {
	if boundary == "" {
		boundary = guessBoundary(body)
		if boundary == "" {
			return [][]byte{body}
		}
	}
	delim := []byte("--" + boundary)
	var out [][]byte
	var cur []byte
	started := false
	curStart := -1
	pos := 0
	for pos <= len(body) {
		end := bytes.IndexByte(body[pos:], '\n')
		var line []byte
		next := 0
		if end < 0 {
			line = body[pos:]
			next = len(body) + 1
		} else {
			line = body[pos : pos+end]
			next = pos + end + 1
		}
		if bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t")
			if len(rest) == 0 || bytes.Equal(rest, []byte("--")) {
				if started && curStart >= 0 {
					e := pos - 1
					if e < curStart {
						e = curStart
					}
					cur = body[curStart:e]
					out = append(out, cur)
					if len(out) >= maxParts {
						return out
					}
				}
				if len(rest) == 2 {
					return out
				}
				started = true
				curStart = next
				if curStart > len(body) {
					curStart = len(body)
				}
			}
		}
		pos = next
	}
	if started && curStart >= 0 && curStart < len(body) {
		out = append(out, body[curStart:])
	}
	if !started {
		return [][]byte{body}
	}
	return out
}

func guessBoundary(body []byte) string {
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		line := body
		if i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, " \t")
		if len(line) > 2 && len(line) < 80 && line[0] == '-' && line[1] == '-' && !bytes.ContainsAny(line[2:3], " -") {
			return string(line[2:])
		}
	}
	return ""
}

// decodeTransfer undoes a content transfer encoding (RFC 2045 §6),
// tolerantly: bad base64 characters are skipped and a bad
// quoted-printable escape is kept as written.
func decodeTransfer(enc string, b []byte) []byte {
	switch enc {
	case "base64":
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean[:len(clean)/4*4+rawTail(len(clean)%4)])
		return normalizeEOL(out[:n])
	case "quoted-printable":
		return decodeQP(b)
	}
	return b
}

// rawTail is how many of the trailing characters of unpadded base64 can be
// decoded: one lone character cannot.
func rawTail(r int) int {
	if r == 1 {
		return 0
	}
	return r
}

func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' { // soft line break
			i++
			continue
		}
		// "=  \n": soft line break with trailing white space.
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j < len(b) && b[j] == '\n' && j > i+1 {
			i = j
			continue
		}
		if i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

package smtpwire

import (
	"bufio"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/preflight-email/preflight/reply"
)

// Limits on what a server may send us. RFC 5321 §4.5.3.1.5 caps a reply
// line at 512 octets including the CRLF; real servers exceed that now and
// then, so we allow four times as much before we call the server hostile.
const (
	maxLineLen     = 2048
	maxReplyLines  = 100
	readBufferSize = 4096
)

// readReply reads a possibly multi-line reply (RFC 5321 §4.2.1): every
// line starts with the same three-digit code, followed by "-" on all lines
// but the last. The wire only frames the lines and cleans their bytes;
// reply.Parse, the project's one reply parser, reads the code, the
// enhanced code and the text. The text after each line's code is kept in
// c.lines, for the EHLO keywords.
func (c *Conn) readReply() (reply.Reply, error) {
	c.lines = c.lines[:0]
	var raw []string
	code := 0
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return reply.Reply{}, ErrTooManyLines
		}
		line, err := c.readLine()
		if err != nil {
			return reply.Reply{}, err
		}
		line = cleanText(line)
		lc, more, ok := frame(line)
		if !ok || (n > 0 && lc != code) {
			return reply.Reply{}, ErrMalformedReply
		}
		code = lc
		c.lines = append(c.lines, strings.TrimSpace(line[min(4, len(line)):]))
		raw = append(raw, line)
		if !more {
			break
		}
	}
	if len(raw) == 1 {
		return reply.Parse(raw[0]), nil
	}
	return reply.Parse(strings.Join(raw, "\n")), nil
}

// frame reads the code of one reply line with reply.Parse, and whether
// more lines follow ("250-"). A line must start with its code.
func frame(line string) (code int, more, ok bool) {
	if len(line) < 3 || !isDigit(line[0]) {
		return 0, false, false
	}
	r := reply.Parse(line[:min(4, len(line))])
	if r.Code == 0 {
		return 0, false, false
	}
	return r.Code, len(line) > 3 && line[3] == '-', true
}

// readLine reads one line of at most maxLineLen bytes, without its CRLF (a
// bare LF is accepted too). A longer line is ErrLineTooLong: we stop
// reading rather than buffer what a hostile server sends.
func (c *Conn) readLine() (string, error) {
	buf := c.lineBuf[:0]
	for {
		chunk, err := c.r.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLineLen {
			return "", ErrLineTooLong
		}
		buf = append(buf, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return "", err
	}
	c.lineBuf = buf
	buf = buf[:len(buf)-1]
	if n := len(buf); n > 0 && buf[n-1] == '\r' {
		buf = buf[:n-1]
	}
	return string(buf), nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// cleanText makes reply text safe to keep, log and put in JSON: invalid
// UTF-8 and control characters become U+FFFD, a tab a space.
func cleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f || s[i] >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return strings.TrimRight(s, " ")
	}
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			if r == '\t' {
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

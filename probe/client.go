package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/preflight-email/preflight/reply"
)

// Why a client of our own rather than go-smtp's smtp.Client:
//
//   - go-smtp's Client returns only errors for failed commands and drops the
//     text and enhanced code of successful replies; a result must keep both
//     for every RCPT (DESIGN.md "Result": smtp.code, smtp.enhanced,
//     smtp.message).
//   - it reads replies through net/textproto without a bound, so a hostile
//     server that sends an endless reply ("250-" forever, or one line that
//     never ends) would make us grow memory without limit.
//   - it has Data and SendMail. DESIGN.md requires that the probe's client
//     type has no method that could send DATA; this one cannot even write a
//     verb outside allowedVerbs.
//
// The client speaks only the few commands the probe needs, one at a time
// (no PIPELINING), each with its own deadline.

// Limits on what a server may send us. RFC 5321 §4.5.3.1.5 caps a reply line
// at 512 octets including the CRLF; real servers exceed that now and then, so
// we allow four times as much before we call the server hostile.
const (
	maxLineLen     = 2048
	maxReplyLines  = 100
	readBufferSize = 4096

	// quitTimeout bounds the wait for the reply to QUIT, which we only
	// read to be polite.
	quitTimeout = 2 * time.Second
)

// allowedVerbs are the only commands the probe ever sends. Anything after
// RCPT other than RSET, NOOP and QUIT would start delivering a message, so
// DATA and BDAT are not here and cannot be written (DESIGN.md "Rules of
// conduct for the probe").
func allowedVerb(verb string) bool {
	switch verb {
	case "EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "RSET", "NOOP", "QUIT":
		return true
	}
	return false
}

// Errors of the wire protocol. They never reach a caller of Check: a
// session that hits one is closed and its recipients get a result.
var (
	errLineTooLong     = errors.New("reply line too long")
	errTooManyLines    = errors.New("reply has too many lines")
	errMalformedReply  = errors.New("malformed reply")
	errVerbNotAllowed  = errors.New("command not allowed for the probe")
	errBadArgument     = errors.New("command argument contains a line break or control character")
	errTLSHandshake    = errors.New("TLS handshake failed")
	errTLSInjection    = errors.New("server sent bytes before the TLS handshake")
	errClientBroken    = errors.New("connection is no longer usable")
	errUnsolicited     = errors.New("server sent a reply nobody asked for; replies are out of step")
	errUnexpectedReply = errors.New("unexpected reply")
	errNoAddress       = errors.New("no address to connect to")
)

// timeouts are the per-step limits of one client.
type timeouts struct {
	connect time.Duration
	banner  time.Duration
	command time.Duration
}

// client is one SMTP connection to one address of an MX host. It is used by
// one goroutine at a time (the dispatcher's session goroutine).
type client struct {
	host    string // MX host name, for errors and the TLS server name
	addr    netip.AddrPort
	raw     net.Conn // the TCP connection; closing it ends a TLS layer too
	conn    net.Conn // raw, or the TLS connection on top of it
	r       *bufio.Reader
	limits  timeouts
	ctx     context.Context
	stop    func() bool        // stops the context.AfterFunc that closes raw
	release context.CancelFunc // set by the owner: cancels the connection's context on close
	ext     map[string]string
	esmtp   bool // EHLO was accepted
	tls     bool
	broken  bool // an I/O or protocol error happened: send nothing more
	lines   []string
	lineBuf []byte
}

// dial connects to addr and reads the banner. ctx bounds every later step
// too: when it is done the connection is closed (context.AfterFunc), which
// ends any read or write in progress. A banner other than 220 is returned as
// a *hostError carrying the reply (RFC 5321 §3.1: 554 or 421 instead of 220
// means the server will not talk to us).
func dial(ctx context.Context, host string, addr netip.AddrPort, limits timeouts) (*client, error) {
	dctx, cancel := context.WithTimeout(ctx, limits.connect)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr.String())
	if err != nil {
		return nil, &hostError{Host: host, Addr: addr, Step: stepConnect, Err: err}
	}
	c := &client{
		host:   host,
		addr:   addr,
		raw:    conn,
		conn:   conn,
		r:      bufio.NewReaderSize(conn, readBufferSize),
		limits: limits,
		ctx:    ctx,
	}
	c.stop = context.AfterFunc(ctx, func() { conn.Close() })
	r, err := c.read(stepBanner, limits.banner)
	if err != nil {
		c.abort()
		return nil, err
	}
	if r.Code != 220 {
		// RFC 5321 §3.1: after a 554 greeting the client should send QUIT;
		// after 421 the server closes the channel itself.
		if r.Code/100 == 5 {
			c.quit()
		} else {
			c.abort()
		}
		return nil, c.replyErr(stepBanner, r)
	}
	return c, nil
}

// hello greets the server with EHLO, or with HELO when EHLO is not
// recognised (RFC 5321 §4.1.4: a server that does not support EHLO answers
// 500 or 502, and the client may fall back to HELO; some old servers use
// 501 or 504 too).
func (c *client) hello(name string) error {
	r, err := c.cmd(stepEHLO, "EHLO", name)
	if err != nil {
		return err
	}
	switch {
	case r.Code == 250:
		c.esmtp = true
		c.parseExtensions()
		return nil
	case r.Code == 500 || r.Code == 501 || r.Code == 502 || r.Code == 504:
		r, err = c.cmd(stepHELO, "HELO", name)
		if err != nil {
			return err
		}
		if r.Code != 250 {
			return c.replyErr(stepHELO, r)
		}
		c.esmtp = false
		c.ext = nil
		return nil
	default:
		return c.replyErr(stepEHLO, r)
	}
}

// parseExtensions reads the EHLO keywords (RFC 5321 §4.1.1.1: the first
// line is the greeting, each further line "keyword [params]").
func (c *client) parseExtensions() {
	c.ext = make(map[string]string, len(c.lines))
	for _, l := range c.lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
}

func (c *client) has(ext string) bool {
	_, ok := c.ext[ext]
	return ok
}

// rcptMax is the RCPTMAX limit of the LIMITS extension (RFC 9422 §4.2), or 0.
func (c *client) rcptMax() int {
	for _, f := range strings.Fields(c.ext["LIMITS"]) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !strings.EqualFold(k, "RCPTMAX") {
			continue
		}
		n := 0
		for _, ch := range v {
			if ch < '0' || ch > '9' || n > 1_000_000 {
				return 0
			}
			n = n*10 + int(ch-'0')
		}
		return n
	}
	return 0
}

// startTLS upgrades the connection (RFC 3207). Certificates are not
// checked: like MTAs doing opportunistic TLS (RFC 3207 §4.1, RFC 7435), we
// prefer an encrypted session with an unverified certificate to a plain one.
// It returns (false, nil) when the server refused STARTTLS but the plain
// session can go on, and errTLSHandshake when the connection is lost.
func (c *client) startTLS() (bool, error) {
	r, err := c.cmd(stepSTARTTLS, "STARTTLS", "")
	if err != nil {
		return false, err
	}
	if r.Code != 220 {
		// RFC 3207 §4: a client may go on without TLS after a refusal.
		return false, nil
	}
	if c.r.Buffered() > 0 {
		// Anything sent between the 220 and the handshake would be read as if
		// it came over TLS (the STARTTLS command injection problem).
		c.broken = true
		return false, &hostError{Host: c.host, Addr: c.addr, Step: stepSTARTTLS, Err: errTLSInjection}
	}
	cfg := &tls.Config{
		ServerName:         strings.TrimSuffix(c.host, "."),
		InsecureSkipVerify: true, // opportunistic TLS, see above
		MinVersion:         tls.VersionTLS12,
	}
	tc := tls.Client(c.raw, cfg)
	c.setDeadline(c.limits.command)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.broken = true
		return false, &hostError{Host: c.host, Addr: c.addr, Step: stepSTARTTLS, Err: fmt.Errorf("%w: %w", errTLSHandshake, err)}
	}
	c.conn = tc
	c.r.Reset(tc)
	c.tls = true
	// RFC 3207 §4.2: the client must discard what it knew and greet again.
	c.ext = nil
	c.esmtp = false
	return true, nil
}

// mail starts a transaction. SMTPUTF8 (RFC 6531 §3.4) is asked for when a
// recipient of the transaction needs it.
func (c *client) mail(from string, smtputf8 bool) (reply.Reply, error) {
	arg := "FROM:<" + from + ">"
	if smtputf8 {
		arg += " SMTPUTF8"
	}
	return c.cmd(stepMAIL, "MAIL", arg)
}

// rcpt asks about one recipient. The reply is returned whatever its code;
// the error is for I/O and protocol failures only.
func (c *client) rcpt(addr string) (reply.Reply, error) {
	return c.cmd(stepRCPT, "RCPT", "TO:<"+addr+">")
}

// rset ends the transaction without delivering anything (RFC 5321 §4.1.1.5).
func (c *client) rset() (reply.Reply, error) {
	return c.cmd(stepRSET, "RSET", "")
}

// close ends the session: QUIT when the connection is healthy (RFC 5321
// §4.1.1.10 asks for it; servers log clients that just hang up), then close.
func (c *client) close() {
	if c.broken {
		c.abort()
		return
	}
	c.quit()
}

func (c *client) quit() {
	// The reply does not matter; a short deadline bounds a server that never
	// answers QUIT.
	c.limits.command = min(c.limits.command, quitTimeout)
	_, _ = c.cmd(stepQUIT, "QUIT", "")
	c.abort()
}

// abort closes the connection without a word.
func (c *client) abort() {
	c.broken = true
	if c.stop != nil {
		c.stop()
	}
	c.raw.Close()
	if c.release != nil {
		c.release()
	}
}

// cmd writes one command and reads its reply, within the command timeout.
func (c *client) cmd(step, verb, arg string) (reply.Reply, error) {
	if c.broken {
		return reply.Reply{}, &hostError{Host: c.host, Addr: c.addr, Step: step, Err: errClientBroken}
	}
	if !allowedVerb(verb) {
		return reply.Reply{}, &hostError{Host: c.host, Addr: c.addr, Step: step, Err: errVerbNotAllowed}
	}
	if !safeArgument(arg) {
		return reply.Reply{}, &hostError{Host: c.host, Addr: c.addr, Step: step, Err: errBadArgument}
	}
	if c.r.Buffered() > 0 {
		// We send one command at a time (no PIPELINING), so every byte the
		// server sent belongs to a reply we have read. More bytes mean an
		// extra reply, and every later reply would answer the command
		// before it: a RCPT could be given the 250 meant for another. Give
		// up on the session rather than risk a wrong answer.
		c.broken = true
		return reply.Reply{}, &hostError{Host: c.host, Addr: c.addr, Step: step, Err: errUnsolicited}
	}
	line := verb
	if arg != "" {
		line += " " + arg
	}
	line += "\r\n"
	c.setDeadline(c.limits.command)
	if _, err := c.conn.Write([]byte(line)); err != nil {
		c.broken = true
		return reply.Reply{}, c.ioErr(step, err)
	}
	return c.read(step, c.limits.command)
}

// safeArgument rejects CR, LF and other control characters, so that no
// argument can smuggle a second command (such as DATA) onto the wire.
func safeArgument(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// setDeadline sets the connection deadline d from now, or the context's
// deadline when that comes first.
func (c *client) setDeadline(d time.Duration) {
	t := time.Now().Add(d)
	if dl, ok := c.ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	c.conn.SetDeadline(t)
}

// read reads one reply within d.
func (c *client) read(step string, d time.Duration) (reply.Reply, error) {
	c.setDeadline(d)
	r, err := c.readReply()
	if err != nil {
		c.broken = true
		return r, c.ioErr(step, err)
	}
	return r, nil
}

// readReply reads a possibly multi-line reply (RFC 5321 §4.2.1): every line
// starts with the same three-digit code, followed by "-" on all lines but
// the last, which has a space (or nothing). The text of each line is kept in
// c.lines; the joined text, with the enhanced codes taken off, goes to Text.
//
// Enhanced status codes (RFC 2034 §3, RFC 3463) are read from the start of
// each line's text. We read them even when the server did not advertise
// ENHANCEDSTATUSCODES, as long as their class agrees with the basic code:
// HELO-only servers commonly send them, and "550 5.1.1 ..." is not text.
func (c *client) readReply() (reply.Reply, error) {
	var r reply.Reply
	var text strings.Builder
	c.lines = c.lines[:0]
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return r, errTooManyLines
		}
		line, err := c.readLine()
		if err != nil {
			return r, err
		}
		code, last, rest, ok := splitReplyLine(line)
		if !ok || (n > 0 && code != r.Code) {
			return r, errMalformedReply
		}
		r.Code = code
		rest = cleanText(rest)
		c.lines = append(c.lines, rest)
		if enh, t, ok := splitEnhanced(rest, code); ok {
			if r.Enhanced == "" {
				r.Enhanced = enh
			}
			rest = t
		}
		if rest != "" {
			if text.Len() > 0 {
				text.WriteByte(' ')
			}
			text.WriteString(rest)
		}
		if last {
			break
		}
	}
	r.Text = text.String()
	return r, nil
}

// readLine reads one line of at most maxLineLen bytes, without its CRLF (a
// bare LF is accepted too). A longer line is errLineTooLong: we stop reading
// rather than buffer what a hostile server sends.
func (c *client) readLine() (string, error) {
	buf := c.lineBuf[:0]
	for {
		chunk, err := c.r.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLineLen {
			return "", errLineTooLong
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

// splitReplyLine reads "250-text", "250 text" or "250".
func splitReplyLine(line string) (code int, last bool, rest string, ok bool) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0, false, "", false
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, true, "", true
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], true
	case '-':
		return code, false, line[4:], true
	}
	return 0, false, "", false
}

// splitEnhanced takes an RFC 3463 §2 code "class.subject.detail" off the
// start of s when its class matches the basic code (RFC 3463 §2: they must
// agree).
func splitEnhanced(s string, code int) (string, string, bool) {
	if len(s) < 5 || int(s[0]-'0') != code/100 || s[1] != '.' {
		return "", s, false
	}
	i := 2
	for n := 0; n < 2; n++ {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i || j-i > 3 {
			return "", s, false
		}
		i = j
		if n == 0 {
			if i >= len(s) || s[i] != '.' {
				return "", s, false
			}
			i++
		}
	}
	if i < len(s) && s[i] != ' ' {
		return "", s, false
	}
	return s[:i], strings.TrimLeft(s[i:], " "), true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// cleanText makes reply text safe to keep, log and put in JSON: invalid
// UTF-8 and control characters become U+FFFD.
func cleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f || s[i] >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return strings.TrimSpace(s)
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
	return strings.TrimSpace(b.String())
}

// replyErr reports a reply that stops the session at step.
func (c *client) replyErr(step string, r reply.Reply) error {
	rr := r
	return &hostError{Host: c.host, Addr: c.addr, Step: step, Reply: &rr, Err: errUnexpectedReply}
}

func (c *client) ioErr(step string, err error) error {
	return &hostError{Host: c.host, Addr: c.addr, Step: step, Err: err}
}

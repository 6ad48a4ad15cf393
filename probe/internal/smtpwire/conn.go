// Package smtpwire is the probe's SMTP client: the wire protocol and
// nothing else. It wraps a connection it is given (NewConn, as go-smtp's
// NewClient does), so dialing and its address guard stay with the caller.
//
// A Conn speaks only the commands a probe needs, each within its own
// deadline: EHLO with the HELO fallback, STARTTLS, MAIL, RCPT, RSET, NOOP
// and QUIT. MAIL, RCPT and RSET may also go in one flight (Pipeline,
// RFC 2920) when the server offered PIPELINING; every other command ends
// a group, so it is only ever sent alone. It has no method that could
// send DATA or BDAT, and its one writer refuses every other verb, so no
// argument or future method can start delivering a message (docs/design.md
// "Rules of conduct for the probe").
//
// Replies are read with a bound on line length and line count, and their
// code, enhanced code and text come from reply.Parse: Preflight has one
// reply parser, shared with the bounce explainer. The wire only frames
// the lines of a reply (RFC 5321 §4.2.1) and cleans their bytes.
//
// Why not go-smtp's Client: it drops the text and enhanced code of
// successful replies, which a result must keep for every RCPT; it reads
// replies through net/textproto without a bound, so a hostile server could
// make us grow memory without limit; and it has Data and SendMail.
package smtpwire

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/preflight-email/preflight/reply"
)

// Commands, as named in errors.
const (
	CmdBanner   = "banner"
	CmdEHLO     = "EHLO"
	CmdHELO     = "HELO"
	CmdSTARTTLS = "STARTTLS"
	CmdMAIL     = "MAIL FROM"
	CmdRCPT     = "RCPT TO"
	CmdRSET     = "RSET"
	CmdNOOP     = "NOOP"
	CmdQUIT     = "QUIT"
)

// Defaults of Options.
const (
	DefaultBannerTimeout  = 30 * time.Second
	DefaultCommandTimeout = 30 * time.Second
	// quitTimeout bounds the wait for the reply to QUIT, which we only
	// read to be polite.
	quitTimeout = 2 * time.Second
)

// Options are a Conn's knobs; the zero value of each means its default.
type Options struct {
	// ServerName is the host name the connection goes to: the TLS server
	// name, and the name in errors.
	ServerName string
	// BannerTimeout bounds the wait for the greeting, CommandTimeout each
	// command and its reply (defaults 30s each). RFC 5321 §4.5.3.2 asks an
	// MTA to wait 5 minutes; a probe only asks a question, and a prompt
	// "unknown" is worth more than an answer that slow.
	BannerTimeout  time.Duration
	CommandTimeout time.Duration
}

// Conn is one SMTP client connection. It is used by one goroutine at a
// time.
type Conn struct {
	raw     net.Conn // the connection given; closing it ends a TLS layer too
	conn    net.Conn // raw, or the TLS connection on top of it
	r       *bufio.Reader
	opt     Options
	ctx     context.Context
	stop    func() bool // stops the context.AfterFunc that closes raw
	ext     map[string]string
	esmtp   bool // EHLO was accepted
	tls     bool
	broken  bool // an I/O or protocol error happened, or a 421: send nothing more
	closed  bool
	lines   []string
	lineBuf []byte
}

// NewConn wraps conn, a fresh connection to an SMTP server. ctx bounds the
// whole session: when it is done the connection is closed
// (context.AfterFunc), which ends any read or write in progress, and no
// command deadline reaches past ctx's. Read the greeting with Greeting
// before any command.
func NewConn(ctx context.Context, conn net.Conn, opt Options) *Conn {
	if opt.BannerTimeout <= 0 {
		opt.BannerTimeout = DefaultBannerTimeout
	}
	if opt.CommandTimeout <= 0 {
		opt.CommandTimeout = DefaultCommandTimeout
	}
	c := &Conn{
		raw:  conn,
		conn: conn,
		r:    bufio.NewReaderSize(conn, readBufferSize),
		opt:  opt,
		ctx:  ctx,
	}
	c.stop = context.AfterFunc(ctx, func() { conn.Close() })
	return c
}

// Greeting reads the server's greeting. Anything but 220 is a
// *ReplyError: RFC 5321 §3.1, a server that answers 554 (or 421) instead
// of 220 will not talk to us. After a 5xx greeting the caller should still
// Quit; after 421 the server hangs up itself, and Quit only closes.
func (c *Conn) Greeting() (reply.Reply, error) {
	r, err := c.read(CmdBanner, c.opt.BannerTimeout)
	if err != nil {
		return r, err
	}
	if r.Code != 220 {
		return r, &ReplyError{Command: CmdBanner, Reply: r}
	}
	return r, nil
}

// Hello greets the server with EHLO, or with HELO when EHLO is not
// recognised (RFC 5321 §4.1.4: a server without EHLO answers 500 or 502,
// and the client may fall back to HELO; some old servers say 501 or 504).
// A refusal is a *ReplyError.
func (c *Conn) Hello(name string) error {
	r, err := c.cmd(CmdEHLO, "EHLO", name)
	if err != nil {
		return err
	}
	switch r.Code {
	case 250:
		c.esmtp = true
		c.parseExtensions()
		return nil
	case 500, 501, 502, 504:
		r, err = c.cmd(CmdHELO, "HELO", name)
		if err != nil {
			return err
		}
		if r.Code != 250 {
			return &ReplyError{Command: CmdHELO, Reply: r}
		}
		c.esmtp = false
		c.ext = nil
		return nil
	}
	return &ReplyError{Command: CmdEHLO, Reply: r}
}

// parseExtensions reads the EHLO keywords (RFC 5321 §4.1.1.1: the first
// line is the greeting, each further line "keyword [params]").
func (c *Conn) parseExtensions() {
	c.ext = make(map[string]string, len(c.lines))
	for _, l := range c.lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
}

// Extension reports whether the server advertised the EHLO keyword ext
// (upper case), and its parameters.
func (c *Conn) Extension(ext string) (string, bool) {
	v, ok := c.ext[ext]
	return v, ok
}

// ESMTP reports whether the server accepted EHLO.
func (c *Conn) ESMTP() bool { return c.esmtp }

// TLS reports whether the connection is encrypted.
func (c *Conn) TLS() bool { return c.tls }

// RcptMax is the RCPTMAX limit of the LIMITS extension (RFC 9422 §4.2), or
// 0 when the server set none.
func (c *Conn) RcptMax() int {
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

// StartTLS upgrades the connection (RFC 3207) with cfg, whose ServerName
// is filled from Options when empty. It returns (false, nil) when the
// server refused STARTTLS but the plain session can go on (RFC 3207 §4),
// and an error wrapping ErrTLSHandshake when the connection is lost. After
// a successful upgrade the caller must greet again (RFC 3207 §4.2).
func (c *Conn) StartTLS(cfg *tls.Config) (bool, error) {
	r, err := c.cmd(CmdSTARTTLS, "STARTTLS", "")
	if err != nil {
		return false, err
	}
	if r.Code != 220 {
		return false, nil
	}
	if c.r.Buffered() > 0 {
		// Anything sent between the 220 and the handshake would be read as
		// if it came over TLS (the STARTTLS command injection problem).
		c.broken = true
		return false, &OpError{Command: CmdSTARTTLS, Err: ErrTLSInjection}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = strings.TrimSuffix(c.opt.ServerName, ".")
	}
	tc := tls.Client(c.raw, cfg)
	c.setDeadline(c.opt.CommandTimeout)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.broken = true
		return false, &OpError{Command: CmdSTARTTLS, Err: fmt.Errorf("%w: %w", ErrTLSHandshake, err)}
	}
	c.conn = tc
	c.r.Reset(tc)
	c.tls = true
	// RFC 3207 §4.2: the client must discard what it knew and greet again.
	c.ext = nil
	c.esmtp = false
	return true, nil
}

// Mail starts a transaction. SMTPUTF8 (RFC 6531 §3.4) is asked for when
// smtputf8 is set. The reply is returned whatever its code: it is an
// answer, not a failure of ours. The error is for I/O and protocol
// failures only (*OpError).
func (c *Conn) Mail(from string, smtputf8 bool) (reply.Reply, error) {
	return c.cmd(CmdMAIL, "MAIL", mailArg(from, smtputf8))
}

func mailArg(from string, smtputf8 bool) string {
	arg := "FROM:<" + from + ">"
	if smtputf8 {
		arg += " SMTPUTF8"
	}
	return arg
}

func rcptArg(addr string) string { return "TO:<" + addr + ">" }

// Rcpt asks about one recipient. Like Mail, it returns the reply whatever
// its code; the error is for I/O and protocol failures only.
func (c *Conn) Rcpt(addr string) (reply.Reply, error) {
	return c.cmd(CmdRCPT, "RCPT", rcptArg(addr))
}

// Rset ends the transaction without delivering anything (RFC 5321
// §4.1.1.5).
func (c *Conn) Rset() (reply.Reply, error) {
	return c.cmd(CmdRSET, "RSET", "")
}

// Noop asks the server for a reply and nothing else (RFC 5321 §4.1.1.9).
func (c *Conn) Noop() (reply.Reply, error) {
	return c.cmd(CmdNOOP, "NOOP", "")
}

// Quit ends the session politely, QUIT within a short deadline (RFC 5321
// §4.1.1.10 asks for it; servers log clients that just hang up), then
// closes the connection. On a connection that is broken, or that the
// server is closing (421), it only closes.
func (c *Conn) Quit() error {
	if !c.broken && !c.closed {
		// The reply does not matter; a short deadline bounds a server
		// that never answers QUIT.
		c.opt.CommandTimeout = min(c.opt.CommandTimeout, quitTimeout)
		c.cmd(CmdQUIT, "QUIT", "")
	}
	return c.Close()
}

// Close closes the connection without a word.
func (c *Conn) Close() error {
	c.broken = true
	if c.closed {
		return nil
	}
	c.closed = true
	c.stop()
	return c.raw.Close()
}

// Broken reports whether the connection can take no more commands: an
// I/O or protocol error happened, or the server said 421 (RFC 5321 §3.8:
// it is closing the channel).
func (c *Conn) Broken() bool { return c.broken }

// allowedVerb lists the only commands the probe ever sends. Anything after
// RCPT other than RSET, NOOP and QUIT would start delivering a message, so
// the verbs that do are not here and cannot be written.
func allowedVerb(verb string) bool {
	switch verb {
	case "EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "RSET", "NOOP", "QUIT":
		return true
	}
	return false
}

// cmd writes one command and reads its reply, within the command timeout.
func (c *Conn) cmd(command, verb, arg string) (reply.Reply, error) {
	if c.broken {
		return reply.Reply{}, &OpError{Command: command, Err: ErrBroken}
	}
	if !allowedVerb(verb) {
		return reply.Reply{}, &OpError{Command: command, Err: errVerbNotAllowed}
	}
	if !SafeArgument(arg) {
		return reply.Reply{}, &OpError{Command: command, Err: ErrBadArgument}
	}
	if c.r.Buffered() > 0 {
		// Every reply to a command or a flight is read before the next
		// is sent, so every byte the server sent belongs to a reply we
		// have read. More bytes mean an
		// extra reply, and every later reply would answer the command
		// before it: a RCPT could be given the 250 meant for another. Give
		// up on the session rather than risk a wrong answer.
		c.broken = true
		return reply.Reply{}, &OpError{Command: command, Err: ErrUnsolicited}
	}
	line := verb
	if arg != "" {
		line += " " + arg
	}
	line += "\r\n"
	c.setDeadline(c.opt.CommandTimeout)
	if _, err := c.conn.Write([]byte(line)); err != nil {
		c.broken = true
		return reply.Reply{}, &OpError{Command: command, Err: err}
	}
	return c.read(command, c.opt.CommandTimeout)
}

// SafeArgument reports whether s may be a command argument: no CR, LF or
// other control character, so that no argument can smuggle a second
// command (such as DATA) onto the wire.
func SafeArgument(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// setDeadline sets the connection deadline d from now, or the context's
// deadline when that comes first.
func (c *Conn) setDeadline(d time.Duration) {
	t := time.Now().Add(d)
	if dl, ok := c.ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	c.conn.SetDeadline(t)
}

// read reads one reply within d. A 421 marks the connection broken: the
// server is closing it (RFC 5321 §3.8), so QUIT would only wait.
func (c *Conn) read(command string, d time.Duration) (reply.Reply, error) {
	c.setDeadline(d)
	r, err := c.readReply()
	if err != nil {
		c.broken = true
		return r, &OpError{Command: command, Err: err}
	}
	if r.Code == 421 {
		c.broken = true
	}
	return r, nil
}

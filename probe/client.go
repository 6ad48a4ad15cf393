package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/preflight-email/preflight/probe/internal/smtpwire"
	"github.com/preflight-email/preflight/reply"
)

// The SMTP wire itself, and the guarantee that DATA is never sent, live in
// package smtpwire. client adds what the probe knows about the connection:
// the MX host and address it goes to, for errors and results, and the
// context that the dispatcher cancels when the session ends.

var errNoAddress = errors.New("no address to connect to")

// timeouts are the per-step limits of one client.
type timeouts struct {
	connect time.Duration
	banner  time.Duration
	command time.Duration
}

// client is one SMTP session to one address of an MX host. It is used by
// one goroutine at a time (the dispatcher's session goroutine).
type client struct {
	w       *smtpwire.Conn
	host    string // MX host name, for errors and the TLS server name
	addr    netip.AddrPort
	release context.CancelFunc // set by the owner: cancels the connection's context on close
	// connect and tlsTook are how long the TCP connection and STARTTLS
	// took; ready is when the session could take its first command.
	connect, tlsTook time.Duration
	ready            time.Time

	// ahead holds the replies of the last flight (see flight) that the
	// transaction has not taken yet, in the order of their commands.
	ahead []readAhead
	// unasked counts RCPTs sent in a flight whose replies the transaction
	// did not ask for (it stopped early): the server saw them all the same.
	// unaskedTooMany counts those of them it refused as "too many
	// recipients", which it did not take.
	unasked, unaskedTooMany int
	// The open transaction: a MAIL FROM was accepted (with SMTPUTF8 when
	// txnUTF8) and no RSET since. txnSent and txnAccepted count its RCPTs
	// as transaction counts them, for the "too many recipients" rules.
	txnOpen              bool
	txnUTF8              bool
	txnSent, txnAccepted int
	txnRcpts             int // RCPTs sent in it, whatever their reply
}

// readAhead is one command of a flight and what came of it: its reply, or
// the error that took it (a lost connection, or a 421 before it).
type readAhead struct {
	verb, arg string
	r         reply.Reply
	err       error
}

// dialFunc opens a TCP connection to a checked address.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// dial connects to addr with dialer and reads the banner (greet). ctx
// bounds every later step too: when it is done the connection is closed.
func dial(ctx context.Context, dialer dialFunc, host string, addr netip.AddrPort, limits timeouts) (*client, error) {
	dctx, cancel := context.WithTimeout(ctx, limits.connect)
	defer cancel()
	start := time.Now()
	conn, err := dialer(dctx, "tcp", addr.String())
	if err != nil {
		return nil, &hostError{Host: host, Addr: addr, Step: stepConnect, Err: err}
	}
	return greet(ctx, conn, time.Since(start), host, addr, limits)
}

// greet wraps conn, a fresh connection to addr that took took to open,
// and reads the banner. A banner other than 220 is returned as a
// *hostError carrying the reply.
func greet(ctx context.Context, conn net.Conn, took time.Duration, host string, addr netip.AddrPort, limits timeouts) (*client, error) {
	c := &client{
		connect: took,
		w:       smtpwire.NewConn(ctx, conn, smtpwire.Options{ServerName: host, BannerTimeout: limits.banner, CommandTimeout: limits.command}),
		host:    host,
		addr:    addr,
	}
	r, err := c.w.Greeting()
	if err != nil {
		// RFC 5321 §3.1: after a 554 greeting the client should send QUIT;
		// after 421 the server closes the channel itself (the wire knows).
		if r.Code/100 == 5 {
			c.w.Quit()
		} else {
			c.w.Close()
		}
		return nil, c.wrap(err)
	}
	return c, nil
}

// hello greets the server, EHLO with the HELO fallback.
func (c *client) hello(name string) error { return c.wrap(c.w.Hello(name)) }

// has reports whether the server advertised the EHLO keyword ext.
func (c *client) has(ext string) bool {
	_, ok := c.w.Extension(ext)
	return ok
}

func (c *client) rcptMax() int { return c.w.RcptMax() }
func (c *client) tls() bool    { return c.w.TLS() }
func (c *client) esmtp() bool  { return c.w.ESMTP() }

// startTLS upgrades the connection. Certificates are not checked: like
// MTAs doing opportunistic TLS (RFC 3207 §4.1, RFC 7435), we prefer an
// encrypted session with an unverified certificate to a plain one.
func (c *client) startTLS() (bool, error) {
	start := time.Now()
	defer func() { c.tlsTook = time.Since(start) }()
	ok, err := c.w.StartTLS(&tls.Config{
		InsecureSkipVerify: true, // opportunistic TLS, see above
		MinVersion:         tls.VersionTLS12,
	})
	return ok, c.wrap(err)
}

// flight sends, in one write when the server offered PIPELINING (RFC
// 2920), a RSET when rset, a MAIL FROM when from is not empty, and a RCPT
// for each of rcpts. Their replies wait in c.ahead: the transaction asks
// with mail, rcpt and rset as it would one at a time, and gets each reply
// without a round trip, so that what it decides is the same as on the
// unpipelined path. A reply it does not ask for is dropped.
func (c *client) flight(rset bool, from string, smtputf8 bool, rcpts []string) {
	c.dropAhead()
	p := c.w.Pipeline()
	if rset {
		p.Rset()
		c.ahead = append(c.ahead, readAhead{verb: smtpwire.CmdRSET})
	}
	if from != "" {
		p.Mail(from, smtputf8)
		c.ahead = append(c.ahead, readAhead{verb: smtpwire.CmdMAIL, arg: mailKey(from, smtputf8)})
	}
	for _, a := range rcpts {
		p.Rcpt(a)
		c.ahead = append(c.ahead, readAhead{verb: smtpwire.CmdRCPT, arg: a})
	}
	if from == "" {
		c.txnRcpts += len(rcpts) // sent in the open transaction, asked for or not
	}
	rs, err := p.Send()
	for i := range c.ahead {
		switch {
		case i < len(rs):
			c.ahead[i].r = rs[i]
		case err != nil:
			c.ahead[i].err = err
		default: // after a 421: the server is gone
			c.ahead[i].err = &smtpwire.OpError{Command: c.ahead[i].verb, Err: smtpwire.ErrBroken}
		}
	}
}

func mailKey(from string, smtputf8 bool) string {
	if smtputf8 {
		return from + " SMTPUTF8"
	}
	return from
}

// readAhead returns the reply of a command sent in the last flight. A
// command the transaction skipped loses its reply; one it did not send in
// a flight finds none, and c.ahead is emptied.
func (c *client) takeAhead(verb, arg string) (readAhead, bool) {
	for i, a := range c.ahead {
		if a.verb == verb && a.arg == arg {
			c.countUnasked(c.ahead[:i])
			c.ahead = c.ahead[i+1:]
			return a, true
		}
	}
	c.dropAhead()
	return readAhead{}, false
}

// dropAhead forgets the replies nobody asked for.
func (c *client) dropAhead() {
	c.countUnasked(c.ahead)
	c.ahead = c.ahead[:0]
}

func countRcpts(as []readAhead) int {
	n := 0
	for _, a := range as {
		if a.verb == smtpwire.CmdRCPT {
			n++
		}
	}
	return n
}

// countUnasked counts the RCPTs among replies dropped unasked.
func (c *client) countUnasked(as []readAhead) {
	for _, a := range as {
		if a.verb == smtpwire.CmdRCPT {
			c.unasked++
			if a.err == nil && tooManyRecipients(a.r) {
				c.unaskedTooMany++
			}
		}
	}
}

// sentAhead reports whether a RCPT to addr waits in c.ahead: its turn under
// the RCPT limiter was taken before the flight.
func (c *client) sentAhead(addr string) bool {
	return slices.ContainsFunc(c.ahead, func(a readAhead) bool { return a.verb == smtpwire.CmdRCPT && a.arg == addr })
}

func (c *client) mail(from string, smtputf8 bool) (reply.Reply, error) {
	a, ok := c.takeAhead(smtpwire.CmdMAIL, mailKey(from, smtputf8))
	if !ok {
		a.r, a.err = c.w.Mail(from, smtputf8)
	}
	c.txnOpen = a.err == nil && a.r.Code == 250
	c.txnUTF8 = smtputf8
	c.txnSent, c.txnAccepted, c.txnRcpts = 0, 0, 0
	if ok {
		// The RCPTs of its flight are in the transaction, whether the
		// transaction asks for their replies or not.
		c.txnRcpts = countRcpts(c.ahead)
	}
	return a.r, c.wrap(a.err)
}

func (c *client) rcpt(addr string) (reply.Reply, error) {
	a, ok := c.takeAhead(smtpwire.CmdRCPT, addr)
	if !ok {
		a.r, a.err = c.w.Rcpt(addr)
		c.txnRcpts++
	}
	return a.r, c.wrap(a.err)
}

func (c *client) rset() (reply.Reply, error) {
	a, ok := c.takeAhead(smtpwire.CmdRSET, "")
	if !ok {
		a.r, a.err = c.w.Rset()
	}
	c.txnOpen = false
	return a.r, c.wrap(a.err)
}

func (c *client) noop() (reply.Reply, error) {
	r, err := c.w.Noop()
	return r, c.wrap(err)
}

// close ends the session: RSET when a transaction is open (RFC 5321
// §4.1.1.5; nothing was to be delivered), QUIT when the connection is
// healthy, then close.
func (c *client) close() {
	if c.txnOpen && !c.w.Broken() {
		c.rset()
	}
	c.w.Quit()
	if c.release != nil {
		c.release()
	}
}

// wrap turns an error of the wire into the probe's one host error, which
// knows the host, the address, the step and the reply.
func (c *client) wrap(err error) error {
	if err == nil {
		return nil
	}
	he := &hostError{Host: c.host, Addr: c.addr, Err: err}
	var re *smtpwire.ReplyError
	var oe *smtpwire.OpError
	switch {
	case errors.As(err, &re):
		r := re.Reply
		he.Step, he.Reply = re.Command, &r
	case errors.As(err, &oe):
		he.Step, he.Err = oe.Command, oe.Err
	}
	return he
}

package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
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
}

// dialFunc opens a TCP connection to a checked address.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// dial connects to addr with dialer and reads the banner. ctx bounds every
// later step too: when it is done the connection is closed. A banner other
// than 220 is returned as a *hostError carrying the reply.
func dial(ctx context.Context, dialer dialFunc, host string, addr netip.AddrPort, limits timeouts) (*client, error) {
	dctx, cancel := context.WithTimeout(ctx, limits.connect)
	defer cancel()
	conn, err := dialer(dctx, "tcp", addr.String())
	if err != nil {
		return nil, &hostError{Host: host, Addr: addr, Step: stepConnect, Err: err}
	}
	c := &client{
		w:    smtpwire.NewConn(ctx, conn, smtpwire.Options{ServerName: host, BannerTimeout: limits.banner, CommandTimeout: limits.command}),
		host: host,
		addr: addr,
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
	ok, err := c.w.StartTLS(&tls.Config{
		InsecureSkipVerify: true, // opportunistic TLS, see above
		MinVersion:         tls.VersionTLS12,
	})
	return ok, c.wrap(err)
}

func (c *client) mail(from string, smtputf8 bool) (reply.Reply, error) {
	r, err := c.w.Mail(from, smtputf8)
	return r, c.wrap(err)
}

func (c *client) rcpt(addr string) (reply.Reply, error) {
	r, err := c.w.Rcpt(addr)
	return r, c.wrap(err)
}

func (c *client) rset() (reply.Reply, error) {
	r, err := c.w.Rset()
	return r, c.wrap(err)
}

// close ends the session: QUIT when the connection is healthy, then close.
func (c *client) close() {
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

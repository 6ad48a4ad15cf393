package smtpwire_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/preflight-email/preflight/probe/internal/smtpwire"
)

// One question to a server, on a connection the caller dialled (through
// netguard in the probe). This example is compiled, not run.
func ExampleNewConn() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", "192.0.2.10:25")
	if err != nil {
		return
	}
	c := smtpwire.NewConn(ctx, conn, smtpwire.Options{ServerName: "mx.example.org"})
	defer c.Quit()
	if _, err := c.Greeting(); err != nil {
		return
	}
	if err := c.Hello("verify.example.com"); err != nil {
		return
	}
	if r, err := c.Mail("bounce@example.com", false); err != nil || r.Code != 250 {
		return
	}
	r, err := c.Rcpt("jane.doe@example.org")
	if err != nil {
		return
	}
	fmt.Println(r.Code, r.Enhanced, r.Text)
	c.Rset()
}

// MAIL FROM, a catch-all test and the address in one flight (RFC 2920):
// one round trip instead of three when the server offers PIPELINING, and
// the same three commands one at a time when it does not. This example is
// compiled, not run.
func ExampleConn_Pipeline() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", "192.0.2.10:25")
	if err != nil {
		return
	}
	c := smtpwire.NewConn(ctx, conn, smtpwire.Options{ServerName: "mx.example.org"})
	defer c.Quit()
	if _, err := c.Greeting(); err != nil {
		return
	}
	if err := c.Hello("verify.example.com"); err != nil {
		return
	}
	replies, err := c.Pipeline().
		Mail("bounce@example.com", false).
		Rcpt("x7k2q9@example.org"). // a random local part: catch-all?
		Rcpt("jane.doe@example.org").
		Send()
	if err != nil || len(replies) < 3 {
		return // the session ended mid-flight (I/O error, or a 421 last)
	}
	fmt.Println("catch-all test:", replies[1].Code, "address:", replies[2].Code)
}

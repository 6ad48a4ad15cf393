package smtpwire

import (
	"errors"
	"strings"

	"github.com/preflight-email/preflight/reply"
)

// ErrPipelineFull: a Pipeline holds at most maxFlight commands.
var ErrPipelineFull = errors.New("too many commands in one flight")

// maxFlight bounds a flight: the most RCPTs we send in one transaction
// (RFC 5321 §4.5.3.1.8), a MAIL and a RSET.
const maxFlight = 102

// Pipeline is a flight of commands sent in one write and answered in
// order (RFC 2920), when the server offered PIPELINING. It takes only
// RSET, MAIL and RCPT: none of them ends a group (RFC 2920 §3.1), so a
// flight never needs to wait in the middle, and, like Conn, it has no
// verb that could start delivering a message. Build it with Conn.Pipeline
// and the methods below, then Send it.
type Pipeline struct {
	c    *Conn
	cmds []pipelined
	err  error
}

type pipelined struct{ command, verb, arg string }

// Pipeline starts an empty flight on c.
func (c *Conn) Pipeline() *Pipeline { return &Pipeline{c: c} }

// Pipelining reports whether the server offered PIPELINING in its last
// EHLO reply (RFC 2920 §3.2), so that Send puts a flight on the wire at
// once.
func (c *Conn) Pipelining() bool {
	_, ok := c.ext["PIPELINING"]
	return c.esmtp && ok
}

func (p *Pipeline) add(command, verb, arg string) *Pipeline {
	switch {
	case p.err != nil:
	case len(p.cmds) == maxFlight:
		p.err = &OpError{Command: command, Err: ErrPipelineFull}
	case !SafeArgument(arg):
		p.err = &OpError{Command: command, Err: ErrBadArgument}
	default:
		p.cmds = append(p.cmds, pipelined{command, verb, arg})
	}
	return p
}

// Rset adds RSET (RFC 5321 §4.1.1.5).
func (p *Pipeline) Rset() *Pipeline { return p.add(CmdRSET, "RSET", "") }

// Mail adds MAIL FROM, as Conn.Mail sends it.
func (p *Pipeline) Mail(from string, smtputf8 bool) *Pipeline {
	return p.add(CmdMAIL, "MAIL", mailArg(from, smtputf8))
}

// Rcpt adds RCPT TO.
func (p *Pipeline) Rcpt(addr string) *Pipeline { return p.add(CmdRCPT, "RCPT", rcptArg(addr)) }

// Len is the number of commands in the flight.
func (p *Pipeline) Len() int { return len(p.cmds) }

// Send writes the flight and reads one reply per command, in order: the
// i-th reply answers the i-th command (RFC 2920 §3.1). Without PIPELINING
// it sends the commands one at a time, waiting for each reply, so a
// server that did not offer it never sees two commands in flight.
//
// As with Mail and Rcpt, replies are returned whatever their code. Fewer
// replies than commands come back when the session ended in the middle:
// after a 421 (the last reply returned; the server is closing, RFC 5321
// §3.8), or with an *OpError for an I/O or protocol failure, naming the
// command whose reply was lost.
func (p *Pipeline) Send() ([]reply.Reply, error) {
	c := p.c
	if p.err != nil {
		return nil, p.err
	}
	replies := make([]reply.Reply, 0, len(p.cmds))
	if !c.Pipelining() || len(p.cmds) == 1 {
		for _, pc := range p.cmds {
			r, err := c.cmd(pc.command, pc.verb, pc.arg)
			if err != nil {
				return replies, err
			}
			replies = append(replies, r)
			if r.Code == 421 {
				break
			}
		}
		return replies, nil
	}
	if len(p.cmds) == 0 {
		return replies, nil
	}
	first := p.cmds[0].command
	if c.broken {
		return replies, &OpError{Command: first, Err: ErrBroken}
	}
	if c.r.Buffered() > 0 {
		// As in cmd: a reply nobody asked for puts every later one out
		// of step.
		c.broken = true
		return replies, &OpError{Command: first, Err: ErrUnsolicited}
	}
	var b strings.Builder
	for _, pc := range p.cmds {
		if !allowedVerb(pc.verb) {
			return replies, &OpError{Command: pc.command, Err: errVerbNotAllowed}
		}
		b.WriteString(pc.verb)
		if pc.arg != "" {
			b.WriteString(" ")
			b.WriteString(pc.arg)
		}
		b.WriteString("\r\n")
	}
	c.setDeadline(c.opt.CommandTimeout)
	if _, err := c.conn.Write([]byte(b.String())); err != nil {
		c.broken = true
		return replies, &OpError{Command: first, Err: err}
	}
	for _, pc := range p.cmds {
		// Each reply within the command timeout of the one before.
		r, err := c.read(pc.command, c.opt.CommandTimeout)
		if err != nil {
			return replies, err
		}
		replies = append(replies, r)
		if r.Code == 421 {
			// The server is closing; the replies after it will not come.
			break
		}
	}
	return replies, nil
}

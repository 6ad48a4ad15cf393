package smtpwire

import (
	"errors"
	"fmt"
	"net"

	"github.com/preflight-email/preflight/reply"
)

// Errors of the wire protocol, wrapped in an *OpError.
var (
	// ErrLineTooLong, ErrTooManyLines and ErrMalformedReply refuse a reply
	// that breaks RFC 5321 §4.2 or our bounds on it.
	ErrLineTooLong    = errors.New("reply line too long")
	ErrTooManyLines   = errors.New("reply has too many lines")
	ErrMalformedReply = errors.New("malformed reply")
	// ErrBadArgument refuses an argument with a line break or another
	// control character.
	ErrBadArgument = errors.New("command argument contains a line break or control character")
	// ErrTLSHandshake wraps a failed STARTTLS handshake; the connection is
	// lost, and a new one in plain text may work.
	ErrTLSHandshake = errors.New("TLS handshake failed")
	// ErrTLSInjection: the server sent bytes between its 220 to STARTTLS
	// and the handshake.
	ErrTLSInjection = errors.New("server sent bytes before the TLS handshake")
	// ErrBroken: an earlier failure, or a 421, left the connection
	// unusable.
	ErrBroken = errors.New("connection is no longer usable")
	// ErrUnsolicited: the server sent a reply nobody asked for, so every
	// later reply would answer the wrong command.
	ErrUnsolicited = errors.New("server sent a reply nobody asked for; replies are out of step")

	errVerbNotAllowed = errors.New("command not allowed for the probe")
)

// OpError is a command that got no usable reply: an I/O failure, a
// timeout, or a reply the wire refused.
type OpError struct {
	Command string // CmdRCPT, ...
	Err     error
}

func (e *OpError) Error() string { return e.Command + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether a deadline fired.
func (e *OpError) Timeout() bool {
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// ReplyError is a reply that refused a step the session cannot do without
// (the greeting, EHLO/HELO), as go-smtp's SMTPError is. Read it with
// errors.As, never from the error's text.
type ReplyError struct {
	Command string
	Reply   reply.Reply
}

func (e *ReplyError) Error() string {
	if e.Reply.Enhanced != "" {
		return fmt.Sprintf("%s: %d %s %s", e.Command, e.Reply.Code, e.Reply.Enhanced, e.Reply.Text)
	}
	return fmt.Sprintf("%s: %d %s", e.Command, e.Reply.Code, e.Reply.Text)
}

// Temporary reports a 4xx reply: the same step may work later.
func (e *ReplyError) Temporary() bool { return e.Reply.Code/100 == 4 }

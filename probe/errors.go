package probe

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/preflight-email/preflight/probe/internal/smtpwire"
	"github.com/preflight-email/preflight/reply"
)

// Sentinel errors returned by New and Check. A result about an address (the
// mailbox is missing, the host is down, the server refused us) is never an
// error: it is a Result (STYLE.md habit 6).
var (
	// ErrConfig wraps every reason New refuses a Config.
	ErrConfig = errors.New("probe: invalid config")
	// ErrBadRequest wraps every reason Check refuses a Request.
	ErrBadRequest = errors.New("probe: bad request")
	// ErrClosed is returned by Check once Close has been called.
	ErrClosed = errors.New("probe: engine closed")
	// ErrSaturated is returned by Check at once when the MX host's queue
	// holds Config.MaxQueuePerHost recipients already: the caller learns
	// now that no answer is coming, and memory stays bounded.
	ErrSaturated = errors.New("probe: too many recipients waiting for this mail server")
)

// Steps of a session, used in errors and logs.
const (
	stepConnect = "connect" // the rest are the smtpwire.Cmd* names
)

// hostError is the one typed error for every failure to use one MX host:
// network, TLS and SMTP failures alike. It knows the remote host, the
// address, the step, and the reply when the failure was one.
type hostError struct {
	Host  string
	Addr  netip.AddrPort
	Step  string
	Reply *reply.Reply // nil when the failure was not an SMTP reply
	Err   error
}

func (e *hostError) Error() string {
	where := e.Host
	if e.Addr.IsValid() {
		where += " [" + e.Addr.String() + "]"
	}
	if e.Reply != nil {
		return fmt.Sprintf("probe %s: %s: %d %s %s", where, e.Step, e.Reply.Code, e.Reply.Enhanced, e.Reply.Text)
	}
	return fmt.Sprintf("probe %s: %s: %v", where, e.Step, e.Err)
}

func (e *hostError) Unwrap() error { return e.Err }

// Timeout reports whether one of our own deadlines fired.
func (e *hostError) Timeout() bool {
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// isDialError reports a failure to reach the address at all, after which
// the next address of the same host is worth a try (RFC 5321 §5.1).
func isDialError(err error) bool {
	var he *hostError
	return errors.As(err, &he) && he.Step == stepConnect
}

// message is the short text a Result carries for a failure that was not
// an SMTP reply.
func (e *hostError) message() string {
	switch {
	case e.Timeout():
		return "timeout during " + e.Step
	case errors.Is(e.Err, smtpwire.ErrLineTooLong), errors.Is(e.Err, smtpwire.ErrTooManyLines), errors.Is(e.Err, smtpwire.ErrMalformedReply):
		return e.Step + " reply refused: " + e.Err.Error()
	case errors.Is(e.Err, smtpwire.ErrTLSHandshake):
		return "TLS handshake failed"
	}
	var oe *net.OpError
	if errors.As(e.Err, &oe) && oe.Err != nil {
		return e.Step + ": " + oe.Err.Error()
	}
	if errors.Is(e.Err, net.ErrClosed) || isEOF(e.Err) {
		return "connection closed by server during " + e.Step
	}
	return e.Step + ": " + e.Err.Error()
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

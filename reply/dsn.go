package reply

import (
	"errors"
	"io"
)

// ErrNotDSN reports a message that is not an RFC 3464 delivery status notification.
var ErrNotDSN = errors.New("reply: not a delivery status notification")

// Recipient is one per-recipient block of a DSN (RFC 3464 §2.3).
type Recipient struct {
	Recipient      string // Final-Recipient, or Original-Recipient when absent
	Action         string
	Status         string
	DiagnosticCode string
	RemoteMTA      string
	Diagnosis      Diagnosis
}

// ParseDSN reads a multipart/report; report-type=delivery-status message.
func ParseDSN(r io.Reader) ([]Recipient, error) {
	return nil, ErrNotDSN
}

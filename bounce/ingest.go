package bounce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"strings"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
	"github.com/preflight-email/preflight/suppression"
)

// Sink takes suppression events; *suppression.List is one.
type Sink interface {
	Ingest(ctx context.Context, events []suppression.Event) ([]suppression.Applied, error)
}

// Outcome is what applying one message did.
type Outcome struct {
	Report  Report
	Key     string                // the idempotency key: "mid:" + Message-ID, else "sha256:" + content hash
	Applied []suppression.Applied // one per recipient sent to the list, in order
	Skipped []Diagnosis           // recipients not sent: auto-replies and deliveries
}

// Key returns the idempotency key of a raw message: its Message-ID when it
// has one (RFC 5322 §3.6.4 makes it unique), else a SHA-256 of its content
// with line ends normalised, so the same mail stored with CRLF or LF is
// the same key.
func Key(msg []byte) string {
	if len(msg) > MaxSize {
		msg = msg[:MaxSize]
	}
	msg = normalizeEOL(msg)
	h, _ := splitHeader(msg)
	if id := strings.Trim(h.get("message-id"), "<> \t"); id != "" {
		return "mid:" + id
	}
	sum := sha256.Sum256(msg)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Apply reads one raw message and applies every recipient's diagnosis to
// the suppression list, idempotently: each recipient's event ID is the
// message's Key and the recipient, so the same message applied twice is
// counted once. Hard bounces and complaints (ARF) suppress; auto-replies
// and delivered recipients are not sent to the list at all. A message
// that is not a bounce gives an error wrapping ErrNotBounce and writes
// nothing.
func Apply(ctx context.Context, sink Sink, msg []byte) (Outcome, error) {
	rep, err := Read(msg)
	if err != nil {
		return Outcome{Report: rep}, err
	}
	out := Outcome{Report: rep, Key: Key(msg)}
	var at time.Time
	if len(msg) <= MaxSize {
		h, _ := splitHeader(normalizeEOL(msg))
		if t, err := mail.ParseDate(h.get("date")); err == nil {
			at = t
		}
	}
	var evs []suppression.Event
	for _, d := range rep.Recipients {
		if !sends(d) {
			out.Skipped = append(out.Skipped, d)
			continue
		}
		rd := reply.Diagnosis{
			Class: d.Class, Reason: d.Reason, Code: d.Code, Enhanced: d.Enhanced, Action: d.Action,
			Explanation: d.Explanation, Provider: d.Provider, Blocklist: d.Blocklist,
		}
		evs = append(evs, suppression.Event{
			Email: d.Recipient, Message: d.Diagnostic, Status: d.Enhanced, At: at,
			Source: suppression.SourceMail, ID: out.Key + "/" + d.Recipient, Kind: string(d.Format),
			Diagnosis: &rd,
		})
	}
	if len(evs) == 0 {
		return out, nil
	}
	applied, err := sink.Ingest(ctx, evs)
	if err != nil {
		return out, fmt.Errorf("bounce: apply %s: %w", out.Key, err)
	}
	out.Applied = applied
	return out, nil
}

// sends tells whether a diagnosis goes to the suppression list: bounces
// and complaints do; auto-replies (RFC 3834) and deliveries are not
// bounces and never suppress.
func sends(d Diagnosis) bool {
	return d.Format != AutoReply && d.Reason != outcome.Accepted
}

// Summary counts what IngestPath did.
type Summary struct {
	Messages   int `json:"messages"`    // messages found
	Read       int `json:"read"`        // read as a bounce or complaint
	Recipients int `json:"recipients"`  // recipients sent to the list
	Suppressed int `json:"suppressed"`  // of those, on the list afterwards (duplicates not counted)
	Complaints int `json:"complaints"`  // complaints among them (ARF, SES)
	Duplicates int `json:"duplicates"`  // recipients already ingested from the same message
	NotBounces int `json:"not_bounces"` // auto-replies and messages that are not bounces
	Unreadable int `json:"unreadable"`  // messages that could not be read (empty, I/O errors, bad addresses)
}

// Progress reports IngestPath's progress: what it did so far, and how far
// it is through its input in bytes.
type Progress func(s Summary, done, total int64)

// IngestPath feeds every message under path in fsys to the suppression
// list: one message file, an mbox, or a Maildir (cur/ and new/); see Walk.
// It is idempotent: the same mail ingested twice suppresses once. A
// message that cannot be read is counted and skipped; only a failure of
// the input as a whole or of the sink stops it. progress may be nil.
func IngestPath(ctx context.Context, sink Sink, fsys fs.FS, path string, progress Progress) (Summary, error) {
	var s Summary
	err := Walk(fsys, path, func(m Message) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.Messages++
		if m.Err != nil {
			s.Unreadable++
		} else {
			o, err := Apply(ctx, sink, m.Data)
			switch {
			case errors.Is(err, ErrNotBounce):
				s.NotBounces++
			case errors.Is(err, ErrEmpty), errors.Is(err, suppression.ErrInvalidAddress):
				s.Unreadable++
			case err != nil:
				return err
			case len(o.Applied) == 0:
				s.NotBounces++
			default:
				s.Read++
				for _, a := range o.Applied {
					s.Recipients++
					switch {
					case a.Duplicate:
						s.Duplicates++
						continue
					case a.Suppressed:
						s.Suppressed++
					}
					if a.Reason == outcome.Complained {
						s.Complaints++
					}
				}
			}
		}
		if progress != nil {
			progress(s, m.Done, m.Total)
		}
		return nil
	})
	return s, err
}

package reply

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// ErrNotDSN reports a message that is not an RFC 3464 delivery status
// notification: no multipart/report with a message/delivery-status part.
var ErrNotDSN = errors.New("reply: not a delivery status notification")

// maxStatusPart caps the delivery-status part we read; real ones are a few
// kilobytes, and the input may come from an untrusted webhook.
const maxStatusPart = 1 << 20

// maxDepth caps multipart nesting (a DSN is at most a report inside a mixed
// message).
const maxDepth = 4

// Recipient is one per-recipient block of a DSN (RFC 3464 §2.3).
type Recipient struct {
	Recipient      string // Final-Recipient address, or Original-Recipient when absent
	Action         string // failed, delayed, delivered, relayed, expanded (RFC 3464 §2.3.3)
	Status         string // the enhanced status code (RFC 3464 §2.3.4)
	DiagnosticCode string // the Diagnostic-Code value as written, e.g. "smtp; 550 5.1.1 ..."
	RemoteMTA      string // the Remote-MTA name, without its "dns;" type
	Diagnosis      Diagnosis
}

// ParseDSN reads a DSN (multipart/report; report-type=delivery-status, RFC
// 3462/6522) and returns its recipients in order, each classified. It also
// accepts the UTF-8 form, message/global-delivery-status (RFC 6533 §6). It
// returns ErrNotDSN (possibly wrapped) for other messages.
func ParseDSN(r io.Reader) ([]Recipient, error) {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return nil, fmt.Errorf("reply: read DSN: %w", err)
	}
	body, err := findStatusPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	if err != nil {
		return nil, err
	}
	return parseStatusFields(body)
}

// findStatusPart walks the MIME tree to the first delivery-status part and
// returns its decoded content.
func findStatusPart(contentType, encoding string, body io.Reader, depth int) (string, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w: content type %q: %v", ErrNotDSN, contentType, err)
	}
	switch {
	case mediaType == "message/delivery-status" || mediaType == "message/global-delivery-status":
		b, err := io.ReadAll(io.LimitReader(decodeTransfer(encoding, body), maxStatusPart))
		if err != nil {
			return "", fmt.Errorf("reply: read delivery-status part: %w", err)
		}
		return string(b), nil
	case strings.HasPrefix(mediaType, "multipart/") && depth < maxDepth:
		boundary := params["boundary"]
		if boundary == "" {
			return "", fmt.Errorf("%w: %s without boundary", ErrNotDSN, mediaType)
		}
		mr := multipart.NewReader(body, boundary)
		for {
			// NextRawPart: we decode quoted-printable ourselves, together
			// with base64, from the part's own header.
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", fmt.Errorf("reply: read DSN part: %w", err)
			}
			ct := p.Header.Get("Content-Type")
			if ct == "" {
				ct = "text/plain" // RFC 2045 §5.2 default
			}
			s, err := findStatusPart(ct, p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if err == nil {
				return s, nil
			}
			if !errors.Is(err, ErrNotDSN) {
				return "", err
			}
		}
	}
	return "", ErrNotDSN
}

func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &newlineSkipper{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// newlineSkipper drops CR and LF, which base64 bodies carry every 76
// characters but encoding/base64 does not accept in all positions.
type newlineSkipper struct{ r io.Reader }

func (n *newlineSkipper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// parseStatusFields reads the delivery-status content (RFC 3464 §2.1): a
// per-message group, then one group per recipient, groups separated by
// blank lines, fields folded as in RFC 5322 §2.2.3. Groups are recognised
// by their fields rather than their position, so a missing blank line or a
// missing per-message group does not lose recipients.
func parseStatusFields(s string) ([]Recipient, error) {
	var out []Recipient
	var cur Recipient
	var final, original string
	inGroup := false
	flush := func() {
		if inGroup && (final != "" || original != "") {
			cur.Recipient = final
			if cur.Recipient == "" {
				cur.Recipient = original
			}
			cur.Diagnosis = diagnose(cur)
			out = append(out, cur)
		}
		cur, final, original, inGroup = Recipient{}, "", "", false
	}

	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 4096), maxStatusPart)
	var name, value string
	field := func() {
		if name == "" {
			return
		}
		v := strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "final-recipient":
			if final != "" && inGroup {
				// A second Final-Recipient without a blank line starts
				// a new group.
				flush()
			}
			final, inGroup = addressValue(v), true
		case "original-recipient":
			original, inGroup = addressValue(v), true
		case "action":
			cur.Action, inGroup = strings.ToLower(v), true
		case "status":
			cur.Status, inGroup = statusValue(v), true
		case "diagnostic-code":
			cur.DiagnosticCode, inGroup = v, true
		case "remote-mta":
			cur.RemoteMTA, inGroup = mtaValue(v), true
		}
		name, value = "", ""
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			field()
			flush()
		case line[0] == ' ' || line[0] == '\t':
			// RFC 5322 §2.2.3 folding: unfold with one space.
			if name != "" {
				value += " " + strings.TrimSpace(line)
			}
		default:
			field()
			if i := strings.IndexByte(line, ':'); i > 0 {
				name, value = strings.TrimSpace(line[:i]), line[i+1:]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reply: read delivery-status fields: %w", err)
	}
	field()
	flush()
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: delivery-status part names no recipient", ErrNotDSN)
	}
	return out, nil
}

// addressValue strips the type of a typed field (RFC 3464 §2.3.1-§2.3.2,
// §2.3.5: "rfc822; a@b", "dns; mx.example.com").
func addressValue(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[i+1:]
	}
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "<")
	v = strings.TrimSuffix(v, ">")
	return v
}

// mtaValue reads a Remote-MTA name (RFC 3464 §2.3.5: "dns; host"), without
// a trailing comment such as Gmail's "(142.250.1.1, the server for ...)"
// and without the root dot.
func mtaValue(v string) string {
	v = addressValue(v)
	if i := strings.IndexAny(v, " \t("); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSuffix(v, ".")
}

// statusValue keeps the status code of a Status field, dropping a comment
// such as "5.1.1 (bad destination mailbox)".
func statusValue(v string) string {
	if i := strings.IndexAny(v, " \t("); i >= 0 {
		v = v[:i]
	}
	return v
}

// diagnose classifies one recipient from its Diagnostic-Code, filling in
// the enhanced code from the Status field when the diagnostic lacks one
// (RFC 3464 §2.3.4: Status is the enhanced code of the outcome).
func diagnose(rc Recipient) Diagnosis {
	r := Parse(rc.DiagnosticCode)
	if r.Enhanced == "" && rc.Status != "" {
		if _, _, _, ok := splitEnhanced(rc.Status); ok && (r.Code == 0 || int(rc.Status[0]-'0') == r.Code/100) {
			r.Enhanced = rc.Status
		}
	}
	return Classify(r)
}

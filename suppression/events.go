package suppression

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
)

// Sources name where an event came from. They are stored with each event
// and scope its ID: the same ID from two sources is two events.
const (
	SourceAPI      = "api"      // our own {"email", "message", "at"} JSON
	SourcePostmark = "postmark" // Postmark's bounce webhook
	SourceSES      = "ses"      // an Amazon SES bounce notification, raw or inside SNS
	SourceMail     = "mail"     // a whole bounce message (message/rfc822) read by package bounce
)

// Errors of ParseEvents. Each is wrapped with what exactly was wrong.
var (
	// ErrMalformed reports a body that is not one of the accepted shapes.
	ErrMalformed = errors.New("malformed bounce events")
	// ErrNotBounce reports a well-formed notification that is not about a
	// bounce (an SES complaint, a Postmark delivery, an SNS unsubscribe
	// confirmation). The sender should not retry it.
	ErrNotBounce = errors.New("not a bounce notification")
	// ErrSubscriptionConfirmation reports an Amazon SNS subscription
	// confirmation. Preflight never fetches a URL named in a request body,
	// so the operator must confirm the subscription by visiting
	// SubscribeURL (or calling ConfirmSubscription with the token).
	ErrSubscriptionConfirmation = errors.New("SNS subscription confirmation")
)

// maxEvents caps the events one body may carry.
const maxEvents = 10000

// ParseEvents reads a webhook body into events. It accepts, detected by
// shape rather than by contentType (Amazon SNS posts JSON as text/plain):
//
//   - our own JSON, {"email", "message", "at", "id"} or an array of them;
//     "at" is RFC 3339 and optional, "id" is an optional idempotency key;
//   - a Postmark bounce webhook body (RecordType "Bounce");
//   - an Amazon SES bounce notification (notificationType or eventType
//     "Bounce"), raw or inside an Amazon SNS envelope (Type
//     "Notification"), one event per bounced recipient.
//
// contentType, when given, must be a JSON or plain-text type. A body of
// another shape gives an error wrapping ErrMalformed that names what is
// wrong; an SNS subscription confirmation gives one wrapping
// ErrSubscriptionConfirmation; a notification about something other than a
// bounce gives one wrapping ErrNotBounce.
//
// ParseEvents only reads: it classifies nothing and never fetches a URL.
func ParseEvents(body []byte, contentType string) ([]Event, error) {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			// mime's own text ("mime: invalid media parameter") means
			// nothing to the sender, and this message reaches it.
			return nil, fmt.Errorf("%w: the Content-Type header cannot be parsed (RFC 9110 §8.3); want application/json", ErrMalformed)
		}
		if mt != "application/json" && mt != "text/plain" && !strings.HasSuffix(mt, "+json") {
			return nil, fmt.Errorf("%w: content type %s: want application/json", ErrMalformed, mt)
		}
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	switch body[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("%w: empty array", ErrMalformed)
		}
		if len(items) > maxEvents {
			return nil, fmt.Errorf("%w: %d events in one body, at most %d", ErrMalformed, len(items), maxEvents)
		}
		var out []Event
		for i, it := range items {
			evs, err := parseObject(it)
			if err != nil {
				return nil, fmt.Errorf("event %d: %w", i, err)
			}
			out = append(out, evs...)
		}
		return out, nil
	case '{':
		return parseObject(body)
	}
	return nil, fmt.Errorf("%w: body is not JSON (want an object or an array)", ErrMalformed)
}

// parseObject detects the shape of one JSON object by its keys.
func parseObject(raw json.RawMessage) ([]Event, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if keys == nil {
		return nil, fmt.Errorf("%w: want an object, got null", ErrMalformed)
	}
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case has("TopicArn") && has("Type"):
		return parseSNS(raw)
	case has("RecordType") || (has("TypeCode") && has("Email")):
		return parsePostmark(raw)
	case has("notificationType") || has("eventType"):
		return parseSES(raw, "")
	case has("email") || has("message"):
		return parseOwn(raw)
	}
	return nil, fmt.Errorf(`%w: unrecognised object: want {"email", "message", "at"}, `+
		`a Postmark bounce (RecordType "Bounce"), an SES notification (notificationType "Bounce") `+
		`or an SNS envelope (Type, TopicArn, Message)`, ErrMalformed)
}

// ownEvent is our own event shape.
type ownEvent struct {
	Email   *string `json:"email"`
	Message *string `json:"message"`
	At      string  `json:"at"`
	ID      string  `json:"id"`
}

func parseOwn(raw json.RawMessage) ([]Event, error) {
	var o ownEvent
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if o.Email == nil || strings.TrimSpace(*o.Email) == "" {
		return nil, fmt.Errorf(`%w: "email" is required`, ErrMalformed)
	}
	if o.Message == nil || strings.TrimSpace(*o.Message) == "" {
		return nil, fmt.Errorf(`%w: "message" is required (the bounce's SMTP reply or diagnostic text)`, ErrMalformed)
	}
	e := Event{Email: *o.Email, Message: *o.Message, Source: SourceAPI, ID: o.ID}
	if o.At != "" {
		t, err := time.Parse(time.RFC3339, o.At)
		if err != nil {
			return nil, fmt.Errorf(`%w: "at" %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z`, ErrMalformed, o.At)
		}
		e.At = t
	}
	return []Event{e}, nil
}

// postmarkBounce holds the fields we read of Postmark's bounce webhook
// (postmarkapp.com/developer/webhooks/bounce-webhook; the same fields as a
// Bounce of the Bounce API). Others (Name, Description, ServerID, Tag,
// MessageID, Inactive, CanActivate, ...) are ignored: Description is the
// generic text of the Type, not the receiving server's words.
type postmarkBounce struct {
	RecordType string      `json:"RecordType"`
	ID         json.Number `json:"ID"`
	Type       string      `json:"Type"`
	TypeCode   json.Number `json:"TypeCode"`
	Email      string      `json:"Email"`
	BouncedAt  string      `json:"BouncedAt"`
	Details    string      `json:"Details"`
}

func parsePostmark(raw json.RawMessage) ([]Event, error) {
	var b postmarkBounce
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: Postmark bounce: %s", ErrMalformed, jsonProblem(err))
	}
	if b.RecordType != "" && b.RecordType != "Bounce" {
		return nil, fmt.Errorf("%w: Postmark RecordType %q (only the Bounce webhook belongs here)", ErrNotBounce, b.RecordType)
	}
	if strings.TrimSpace(b.Email) == "" {
		return nil, fmt.Errorf(`%w: Postmark bounce without "Email"`, ErrMalformed)
	}
	kind := b.Type
	if kind == "" {
		kind = postmarkTypeName(b.TypeCode.String())
	}
	e := Event{
		Email:   b.Email,
		Message: b.Details,
		Source:  SourcePostmark,
		ID:      b.ID.String(),
		Kind:    kind,
	}
	if b.BouncedAt != "" {
		// Postmark sends ISO 8601 with up to seven fractional digits,
		// which time.RFC3339 accepts.
		t, err := time.Parse(time.RFC3339, b.BouncedAt)
		if err != nil {
			return nil, fmt.Errorf(`%w: Postmark "BouncedAt" %q is not an ISO 8601 time`, ErrMalformed, b.BouncedAt)
		}
		e.At = t
	}
	return []Event{e}, nil
}

// snsEnvelope is an Amazon SNS HTTP(S) delivery
// (docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
// Signature fields are not read: verifying them means fetching
// SigningCertURL, and Preflight fetches nothing a request names; protect
// the endpoint instead.
type snsEnvelope struct {
	Type         string `json:"Type"`
	MessageID    string `json:"MessageId"`
	TopicArn     string `json:"TopicArn"`
	Message      string `json:"Message"`
	SubscribeURL string `json:"SubscribeURL"`
}

func parseSNS(raw json.RawMessage) ([]Event, error) {
	var env snsEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: SNS envelope: %s", ErrMalformed, jsonProblem(err))
	}
	switch env.Type {
	case "Notification":
	case "SubscriptionConfirmation":
		return nil, fmt.Errorf("%w for topic %s: confirm it by visiting its SubscribeURL yourself "+
			"(Preflight never fetches URLs from requests): %s", ErrSubscriptionConfirmation, env.TopicArn, env.SubscribeURL)
	case "UnsubscribeConfirmation":
		return nil, fmt.Errorf("%w: SNS UnsubscribeConfirmation for topic %s", ErrNotBounce, env.TopicArn)
	default:
		return nil, fmt.Errorf("%w: SNS Type %q: want Notification", ErrMalformed, env.Type)
	}
	msg := strings.TrimSpace(env.Message)
	if !strings.HasPrefix(msg, "{") {
		return nil, fmt.Errorf(`%w: SNS "Message" is not an SES notification (JSON object)`, ErrMalformed)
	}
	return parseSES(json.RawMessage(msg), env.MessageID)
}

// sesNotification holds the fields we read of an Amazon SES notification
// (docs.aws.amazon.com/ses/latest/dg/notification-contents.html). With
// event publishing the type field is eventType instead of
// notificationType.
type sesNotification struct {
	NotificationType string     `json:"notificationType"`
	EventType        string     `json:"eventType"`
	Bounce           *sesBounce `json:"bounce"`
}

type sesBounce struct {
	BounceType        string         `json:"bounceType"`    // Permanent, Transient, Undetermined
	BounceSubType     string         `json:"bounceSubType"` // General, NoEmail, MailboxFull, ...
	BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
	Timestamp         string         `json:"timestamp"`
	FeedbackID        string         `json:"feedbackId"`
}

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

func parseSES(raw json.RawMessage, snsMessageID string) ([]Event, error) {
	var n sesNotification
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("%w: SES notification: %s", ErrMalformed, jsonProblem(err))
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	if typ != "Bounce" {
		if typ == "" {
			return nil, fmt.Errorf(`%w: SES notification without "notificationType"`, ErrMalformed)
		}
		return nil, fmt.Errorf("%w: SES notification of type %q", ErrNotBounce, typ)
	}
	b := n.Bounce
	if b == nil {
		return nil, fmt.Errorf(`%w: SES Bounce notification without "bounce"`, ErrMalformed)
	}
	if len(b.BouncedRecipients) == 0 {
		return nil, fmt.Errorf(`%w: SES bounce without "bouncedRecipients"`, ErrMalformed)
	}
	var at time.Time
	if b.Timestamp != "" {
		t, err := time.Parse(time.RFC3339, b.Timestamp)
		if err != nil {
			return nil, fmt.Errorf(`%w: SES bounce "timestamp" %q is not an ISO 8601 time`, ErrMalformed, b.Timestamp)
		}
		at = t
	}
	kind := b.BounceType
	if b.BounceSubType != "" {
		kind += "/" + b.BounceSubType
	}
	// One notification may name several recipients; the feedback ID (or
	// SNS's message ID, which SNS keeps on redelivery) plus the recipient
	// makes each one's idempotency key.
	base := b.FeedbackID
	if base == "" {
		base = snsMessageID
	}
	out := make([]Event, 0, len(b.BouncedRecipients))
	for i, r := range b.BouncedRecipients {
		if strings.TrimSpace(r.EmailAddress) == "" {
			return nil, fmt.Errorf(`%w: SES bouncedRecipients[%d] without "emailAddress"`, ErrMalformed, i)
		}
		e := Event{
			Email:   r.EmailAddress,
			Message: r.DiagnosticCode,
			Status:  r.Status,
			At:      at,
			Source:  SourceSES,
			Kind:    kind,
		}
		if base != "" {
			e.ID = base + "/" + strings.ToLower(strings.TrimSpace(r.EmailAddress))
		}
		out = append(out, e)
	}
	return out, nil
}

// jsonProblem words a decoding error for the client without Go type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q has the wrong type (got a JSON %s)", typ.Field, typ.Value)
		}
		return fmt.Sprintf("wrong JSON type (got a JSON %s)", typ.Value)
	}
	return "invalid JSON"
}

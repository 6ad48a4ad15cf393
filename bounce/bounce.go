package bounce

import (
	"bytes"
	"errors"
	"mime"
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// Format names the layout a bounce was written in.
type Format string

// Formats the reader recognises. RFC3464 is any standard delivery status
// notification whose writer is not recognised more precisely.
const (
	RFC3464     Format = "rfc3464"
	Qmail       Format = "qmail"
	Exim        Format = "exim"
	Sendmail    Format = "sendmail"
	Postfix     Format = "postfix"
	Exchange    Format = "exchange"
	Office365   Format = "office365"
	Gmail       Format = "gmail"
	Yahoo       Format = "yahoo"
	AmazonSES   Format = "amazonses"
	WorkMail    Format = "amazonworkmail"
	OpenSMTPD   Format = "opensmtpd"
	GoogleGroup Format = "googlegroups"
	Courier     Format = "courier"
	Domino      Format = "domino"
	MailRu      Format = "mailru"
	JapanMobile Format = "jpmobile" // NTT docomo, au (KDDI/EZweb), SoftBank
	ARF         Format = "arf"
	AutoReply   Format = "autoreply"
	// Layouts of less common systems and gateways, named so that a
	// reader of the result knows who wrote the bounce.
	ActiveHunter    Format = "activehunter"
	Amavis          Format = "amavis"
	ApacheJames     Format = "apachejames"
	Barracuda       Format = "barracuda"
	DragonFly       Format = "dragonfly"
	FML             Format = "fml"
	GMX             Format = "gmx" // GMX, Web.de, 1&1 (one system)
	IMailServer     Format = "imailserver"
	MailFoundry     Format = "mailfoundry"
	MailMarshal     Format = "mailmarshal"
	McAfee          Format = "mcafee"
	MessagingServer Format = "messagingserver" // Sun/Oracle Messaging Server
	MFilter         Format = "mfilter"
	MXLogic         Format = "mxlogic"
	PowerMTA        Format = "powermta"
	SendGrid        Format = "sendgrid"
	SurfControl     Format = "surfcontrol"
	TrendMicro      Format = "trendmicro"
	Verizon         Format = "verizon"
	Yandex          Format = "yandex"
	Zoho            Format = "zoho"
	Text            Format = "text" // a bounce in no layout we know, read from its text
)

// Diagnosis is what a bounce says about one recipient.
type Diagnosis struct {
	Recipient   string         `json:"recipient"`
	Class       reply.Class    `json:"class"`
	Reason      outcome.Reason `json:"reason"`
	Code        int            `json:"code"`
	Enhanced    string         `json:"enhanced"`
	Action      reply.Action   `json:"action"`
	Diagnostic  string         `json:"diagnostic"` // the text the diagnosis is based on
	Explanation string         `json:"explanation"`
	Format      Format         `json:"format"`
	RemoteMTA   string         `json:"remote_mta,omitempty"`
	// DSNAction and Status are the report's own Action and Status fields
	// (RFC 3464 §2.3.3, §2.3.4) when it had them.
	DSNAction string `json:"dsn_action,omitempty"`
	Status    string `json:"status,omitempty"`
	Provider  string `json:"provider,omitempty"`
	Blocklist string `json:"blocklist,omitempty"`
	// FeedbackType is the ARF Feedback-Type (abuse, fraud, auth-failure,
	// ...) of a complaint (RFC 5965 §3.1), else "".
	FeedbackType string `json:"feedback_type,omitempty"`
}

// Report is what Read found in one message.
type Report struct {
	Format     Format      // the layout recognised
	MessageID  string      // the bounce's own Message-ID, without angle brackets
	Recipients []Diagnosis // in the order the message lists them
}

// Errors of Read.
var (
	// ErrNotBounce reports a message in which no failed recipient, complaint
	// or auto-reply could be found.
	ErrNotBounce = errors.New("bounce: not a bounce, complaint or auto-reply")
	// ErrEmpty reports an empty message.
	ErrEmpty = errors.New("bounce: empty message")
)

// Read reads one whole message (message/rfc822 bytes) and returns one
// diagnosis per recipient it reports on. It reads RFC 3464 delivery status
// notifications (tolerating the damage real ones carry), the non-standard
// layouts of common MTAs and providers, ARF complaints (RFC 5965) and
// auto-replies (RFC 3834). Only the first MaxSize bytes are read; MIME
// nesting and the number of parts are capped. Read never panics on any
// input. A message that is none of these gives ErrNotBounce.
func Read(msg []byte) (Report, error) {
	if len(msg) > MaxSize {
		msg = msg[:MaxSize]
	}
	if len(bytes.TrimSpace(msg)) == 0 {
		return Report{}, ErrEmpty
	}
	msg = normalizeEOL(msg)
	glued := splitGlued(msg)
	rep, err := readOne(glued[0])
	// Two or more bounces saved into one file (mbox "From " postmarks
	// inside the message, RFC 4155): every one of them is read, in order.
	for _, g := range glued[1:] {
		if len(rep.Recipients) >= maxRecipients {
			break
		}
		r2, err2 := readOne(g)
		if err2 != nil {
			continue
		}
		if err != nil {
			rep, err = r2, nil
			continue
		}
		rep.Recipients = append(rep.Recipients, r2.Recipients...)
	}
	if len(rep.Recipients) > maxRecipients {
		rep.Recipients = rep.Recipients[:maxRecipients]
	}
	return rep, err
}

// splitGlued splits a message that starts with an mbox postmark line
// ("From sender date", RFC 4155) at every later postmark line that is
// followed by a header field: several messages saved into one file. A
// message without a leading postmark is one message.
func splitGlued(msg []byte) [][]byte {
	out := [][]byte{msg}
	if !bytes.HasPrefix(msg, []byte("From ")) {
		return out
	}
	start, i := 0, bytes.IndexByte(msg, '\n')
	for i >= 0 && i+1 < len(msg) {
		j := bytes.Index(msg[i:], []byte("\nFrom "))
		if j < 0 {
			break
		}
		at := i + j + 1
		eol := bytes.IndexByte(msg[at:], '\n')
		if eol < 0 {
			break
		}
		if isPostmark(msg[at:at+eol]) && startsWithField(msg[at+eol+1:]) {
			out[len(out)-1] = msg[start:at]
			out = append(out, msg[at:])
			start = at
		}
		i = at + eol
	}
	return out
}

// isPostmark tells whether l is an mbox "From " line: a sender and a date
// with a time of day ("From MAILER-DAEMON  Thu Apr 29 23:34:45 2015").
func isPostmark(l []byte) bool {
	f := bytes.Fields(l[len("From "):])
	if len(f) < 4 {
		return false
	}
	for _, w := range f[1:] {
		if len(w) == 8 && w[2] == ':' && w[5] == ':' {
			return true
		}
	}
	return false
}

// startsWithField tells whether b starts with a header field line.
func startsWithField(b []byte) bool {
	c := bytes.IndexByte(b, ':')
	nl := bytes.IndexByte(b, '\n')
	return c > 0 && (nl < 0 || c < nl) && isFieldName(b[:c])
}

// readOne reads one message of Read.
func readOne(msg []byte) (Report, error) {
	h, body := splitHeader(msg)
	var w walker
	w.walk(h, body, 0, false)
	m := &message{header: h, parts: w.parts}
	m.prepare()
	rep := Report{MessageID: strings.Trim(h.get("message-id"), "<> ")}

	if ds, ok := m.arf(); ok {
		rep.Format, rep.Recipients = ARF, ds
		return rep, nil
	}
	if ds, f, ok := m.sesJSON(); ok {
		rep.Format, rep.Recipients = f, ds
		return rep, nil
	}
	f := m.format()
	if ds := m.dsn(f); len(ds) > 0 {
		rep.Format, rep.Recipients = f, ds
		return rep, nil
	}
	// An auto-reply has no delivery-status fields; read before the MTA
	// texts, so its words are not taken for a bounce's. Bounces that carry
	// Auto-Submitted too are told apart by bounceSigns.
	if d, ok := m.autoReply(); ok {
		rep.Format, rep.Recipients = AutoReply, []Diagnosis{d}
		return rep, nil
	}
	if ds := m.text(f); len(ds) > 0 {
		if f == RFC3464 {
			f = Text
		}
		for i := range ds {
			ds[i].Format = f
		}
		rep.Format, rep.Recipients = f, ds
		return rep, nil
	}
	return rep, ErrNotBounce
}

// fromReply turns a classifier diagnosis into a recipient's diagnosis.
func fromReply(rcpt string, d reply.Diagnosis, diag string, f Format) Diagnosis {
	return Diagnosis{
		Recipient: rcpt, Class: d.Class, Reason: d.Reason, Code: d.Code, Enhanced: d.Enhanced,
		Action: d.Action, Diagnostic: diag, Explanation: d.Explanation, Format: f,
		Provider: d.Provider, Blocklist: d.Blocklist,
	}
}

// message is a parsed message with the views the readers share.
type message struct {
	header header
	parts  []part
	// human is the bounce's own human-readable text: its text parts
	// outside the returned original, cut where a copy of the original
	// begins.
	human string
	// low, lines and lowLines are human lower-cased and split, once.
	low             string
	lines, lowLines []string
	// origTo and origFrom are the returned original's recipients and
	// sender, when it is attached.
	origTo, origFrom []string
	// reportFields are the per-message fields of the bounce's own
	// delivery-status parts, split once when format first asks.
	reportFields []header
	// own are addresses that are never a failed recipient: the bounce's
	// sender and recipient, and the original's sender.
	own map[string]bool
}

// subject is the message's Subject with RFC 2047 encoded words decoded
// where the charset is one the standard library knows (UTF-8, US-ASCII,
// ISO-8859-1); others stay as written.
func (m *message) subject() string {
	v := m.header.get("subject")
	if strings.Contains(v, "=?") {
		if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
			return d
		}
	}
	return v
}

func (m *message) prepare() {
	var b strings.Builder
	for i, p := range m.parts {
		if p.inOriginal {
			continue
		}
		switch {
		case p.typ == "message/rfc822" || p.typ == "message/global":
			ih, _ := splitHeader(p.body)
			m.origTo = append(m.origTo, addresses(ih.get("to"))...)
			m.origFrom = append(m.origFrom, addresses(ih.get("from"))...)
			continue
		case p.typ == "text/rfc822-headers" || p.typ == "message/rfc822-headers":
			ih, _ := splitHeader(p.body)
			m.origTo = append(m.origTo, addresses(ih.get("to"))...)
			m.origFrom = append(m.origFrom, addresses(ih.get("from"))...)
			continue
		case strings.HasPrefix(p.typ, "text/") || p.typ == "message/delivery-status" || p.typ == "message/global-delivery-status" || p.typ == "application/octet-stream":
		default:
			continue
		}
		if p.typ == "message/delivery-status" || p.typ == "message/global-delivery-status" {
			continue
		}
		if i > 0 && p.depth > 0 && m.parts[0].typ != p.typ && looksLikeHeaderBlock(p.body) && b.Len() > 0 {
			// A text part holding the original's header (some MTAs
			// attach it as text/plain): not the bounce's words.
			ih, _ := splitHeader(p.body)
			m.origTo = append(m.origTo, addresses(ih.get("to"))...)
			m.origFrom = append(m.origFrom, addresses(ih.get("from"))...)
			continue
		}
		t := string(p.body)
		if p.typ == "text/html" {
			t = stripHTML(t)
		}
		b.WriteString(t)
		b.WriteString("\n")
	}
	m.human = cutOriginal(b.String(), &m.origTo, &m.origFrom)
	if len(m.human) > maxHuman {
		m.human = m.human[:maxHuman]
	}
	m.low = strings.ToLower(m.human)
	m.lines = strings.Split(m.human, "\n")
	m.lowLines = strings.Split(m.low, "\n")
	m.own = map[string]bool{}
	for _, k := range []string{"from", "to", "return-path", "reply-to", "sender"} {
		for _, a := range addresses(m.header.get(k)) {
			m.own[a] = true
		}
	}
	for _, a := range m.origFrom {
		m.own[a] = true
	}
}

// looksLikeHeaderBlock tells whether b starts with header fields.
func looksLikeHeaderBlock(b []byte) bool {
	n := 0
	for _, line := range bytes.SplitN(b, []byte("\n"), 6) {
		c := bytes.IndexByte(line, ':')
		if c > 0 && isFieldName(line[:c]) {
			n++
		}
	}
	return n >= 4
}

// originalMarkers start the copy of the original message that many MTAs
// append to their text.
var originalMarkers = []string{
	"------ this is a copy of the message",         // Exim
	"--- below this line is a copy of the message", // qmail, Yahoo
	"----- original message -----",
	"------ original message follows",
	"--- original message follows",
	"original message follows",
	"----- transcript of session follows", // sendmail: keep, handled below
	"----- unsent message follows",
	"------ the message has been returned",
	"----- message header follows",
	"-----original message-----",
	"------- returned message --------",
	"content-type: message/rfc822",
	"message headers follow", // DragonFly Mail Agent
	"message text follows",
	"\noriginal message:",
	"below is a copy of the original message",
}

// cutOriginal cuts the human text where a copy of the original begins,
// reading the copy's header for its sender and recipients first.
func cutOriginal(s string, to, from *[]string) string {
	low := strings.ToLower(s)
	cut := -1
	for _, mk := range originalMarkers {
		if strings.HasPrefix(mk, "----- transcript") {
			continue
		}
		if i := strings.Index(low, mk); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut < 0 {
		return s
	}
	rest := s[cut:]
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = strings.TrimLeft(rest[i+1:], "\n ")
		ih, _ := splitHeader([]byte(rest))
		*to = append(*to, addresses(ih.get("to"))...)
		*from = append(*from, addresses(ih.get("from"))...)
	}
	return s[:cut]
}

func stripHTML(s string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			// Keep "<a@b>" addresses: a tag starts with a letter, '/' or '!'.
			if i+1 < len(s) && strings.IndexByte(s[i+1:min(len(s), i+200)], '@') >= 0 {
				j := strings.IndexByte(s[i+1:min(len(s), i+200)], '>')
				k := strings.IndexByte(s[i+1:min(len(s), i+200)], '@')
				if j > k && !strings.ContainsAny(s[i+1:i+1+j], " =\"") {
					b.WriteByte(c)
					continue
				}
			}
			in = true
		case c == '>' && in:
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteByte(c)
		}
	}
	r := b.String()
	r = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&nbsp;", " ", "&quot;", "\"", "&#39;", "'").Replace(r)
	return r
}

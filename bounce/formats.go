package bounce

import (
	"encoding/json"
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// formatMarker is one sign of who wrote a bounce: a header field, or words
// of its text (lower case).
type formatMarker struct {
	f      Format
	header string // a header field name that must be present ("" = none)
	text   string // words in the From, Subject or human text ("" = none)
}

// formatMarkers are checked in order; the first that matches names the
// format. They are the fixed phrases each MTA writes (its own source
// texts) and the headers it adds.
var formatMarkers = []formatMarker{
	{f: WorkMail, header: "x-mailer", text: "amazon workmail"},
	{f: AmazonSES, header: "x-ses-outgoing"},
	{f: AmazonSES, text: "amazonses.com"},
	{f: Office365, text: "protection.outlook.com"},
	{f: Office365, text: "office 365"},
	{f: Office365, text: "outlook.com"},
	{f: Exchange, header: "x-ms-exchange-message-is-ndr"},
	{f: Exchange, text: "microsoft exchange"},
	{f: Exchange, text: "your message did not reach some or all of the intended recipients"},
	{f: Exchange, text: "the following recipient(s) could not be reached"},
	{f: GoogleGroup, text: "google groups"},
	{f: Gmail, text: "delivery to the following recipient failed"},
	{f: Gmail, text: "mailer-daemon@googlemail.com"},
	{f: Gmail, text: "google tried to deliver your message"},
	{f: Gmail, text: "mail delivery subsystem <mailer-daemon@google"},
	{f: Yahoo, text: "sorry, we were unable to deliver your message to the following address"},
	{f: Yahoo, text: "yahoo"},
	{f: Qmail, text: "this is the qmail-send program"},
	{f: Qmail, text: "qmail"},
	{f: OpenSMTPD, text: "this is the mailer-daemon, please do not reply"},
	{f: OpenSMTPD, text: "opensmtpd"},
	{f: Exim, header: "x-failed-recipients"},
	{f: Exim, text: "this message was created automatically by mail delivery software"},
	{f: Exim, text: "exim"},
	{f: Postfix, text: "this is the mail system at host"},
	{f: Postfix, text: "postfix"},
	{f: Sendmail, text: "----- the following addresses had permanent fatal errors -----"},
	{f: Sendmail, text: "----- transcript of session follows -----"},
	{f: Sendmail, text: "sendmail"},
	{f: Courier, text: "courier mail server"},
	{f: Domino, text: "lotus domino"},
	{f: MailRu, text: "mail.ru"},
	{f: JapanMobile, text: "docomo.ne.jp"},
	{f: JapanMobile, text: "ezweb.ne.jp"},
	{f: JapanMobile, text: "au.com"},
	{f: JapanMobile, text: "softbank.ne.jp"},
}

// format names the layout of a bounce, RFC3464 when no writer is
// recognised.
func (m *message) format() Format {
	hay := strings.ToLower(m.header.get("from") + "\n" + m.subject() + "\n" + m.header.get("x-mailer") + "\n" + m.header.get("received") + "\n" + m.human)
	for _, mk := range formatMarkers {
		if mk.header != "" {
			v := m.header.get(mk.header)
			if v == "" && len(m.header.all(mk.header)) == 0 {
				continue
			}
			if mk.text != "" && !strings.Contains(strings.ToLower(v), mk.text) {
				continue
			}
			return mk.f
		}
		if strings.Contains(hay, mk.text) {
			return mk.f
		}
	}
	return RFC3464
}

// arf reads an ARF feedback report (RFC 5965): a complaint, not a bounce.
// Each complaining recipient (Original-Rcpt-To, RFC 5965 §3.2; else the
// Removal-Recipient of older reports; else the returned message's To) is
// class unknown with reason complained and action suppress: the recipient
// asked not to get this mail.
func (m *message) arf() ([]Diagnosis, bool) {
	var fb *part
	for i := range m.parts {
		p := &m.parts[i]
		if p.inOriginal {
			continue
		}
		if p.typ == "message/feedback-report" || hasFieldLine(p.body, "feedback-type:") && hasFieldLine(p.body, "user-agent:") {
			fb = p
			break
		}
	}
	var jmrp []string
	for i := range m.parts {
		// Microsoft's JMRP complaints are not ARF: the complained-about
		// message comes back with the complaining recipient in
		// X-HmXmrOriginalRecipient.
		jmrp = append(jmrp, addresses(m.parts[i].header.get("x-hmxmroriginalrecipient"))...)
		if m.parts[i].typ == "message/rfc822" {
			ih, _ := splitHeader(m.parts[i].body)
			jmrp = append(jmrp, addresses(ih.get("x-hmxmroriginalrecipient"))...)
		}
	}
	ct, params := mediaType(m.header.get("content-type"))
	if fb == nil && len(jmrp) > 0 {
		return complaints(dedupe(jmrp), "abuse"), true
	}
	isReport := ct == "multipart/report" && strings.EqualFold(params["report-type"], "feedback-report")
	if fb == nil && !isReport {
		return nil, false
	}
	var fields header
	if fb != nil {
		fields, _ = splitHeader(fb.body)
	}
	var rcpts []string
	for _, k := range []string{"original-rcpt-to", "removal-recipient"} {
		for _, v := range fields.all(k) {
			rcpts = append(rcpts, addresses(v)...)
		}
		if len(rcpts) > 0 {
			break
		}
	}
	if len(rcpts) == 0 {
		rcpts = append(rcpts, m.origTo...)
	}
	if len(rcpts) == 0 {
		// Some providers redact the original; the report's own
		// recipient is then the only address left.
		rcpts = addresses(m.header.get("to"))
	}
	rcpts = dedupe(rcpts)
	ftype := strings.ToLower(firstWord(fields.get("feedback-type")))
	if ftype == "" {
		ftype = "abuse"
	}
	out := complaints(rcpts, ftype)
	return out, len(out) > 0
}

func complaints(rcpts []string, ftype string) []Diagnosis {
	out := make([]Diagnosis, 0, len(rcpts))
	for _, rc := range rcpts {
		out = append(out, Diagnosis{
			Recipient: rc, Class: reply.Unknown, Reason: outcome.Complained, Action: reply.Suppress,
			Diagnostic:   "Feedback-Type: " + ftype,
			Explanation:  "The recipient reported the message (a feedback-loop complaint, RFC 5965); stop mailing the address.",
			Format:       ARF,
			FeedbackType: ftype,
		})
	}
	return out
}

func hasFieldLine(b []byte, lowerName string) bool {
	i := indexFold(b, lowerName)
	return i == 0 || i > 0 && b[i-1] == '\n'
}

func dedupe(as []string) []string {
	seen := map[string]bool{}
	out := as[:0]
	for _, a := range as {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// sesNotification is the part of an Amazon SES notification the reader
// uses (docs.aws.amazon.com/ses/latest/dg/notification-contents.html),
// as SES mails it to an address subscribed through SNS.
type sesNotification struct {
	Message          string `json:"Message"` // an SNS envelope's payload
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
	} `json:"delivery"`
}

// sesJSON reads an Amazon SES notification mailed as JSON text.
func (m *message) sesJSON() ([]Diagnosis, Format, bool) {
	for _, p := range m.parts {
		if p.inOriginal {
			continue
		}
		s := strings.TrimSpace(string(p.body))
		if !strings.HasPrefix(s, "{") || !strings.Contains(s, "Type\"") {
			continue
		}
		// The JSON object ends where SNS's footer begins.
		end := strings.LastIndex(s, "}")
		if end < 0 {
			continue
		}
		var n sesNotification
		if err := json.Unmarshal([]byte(s[:end+1]), &n); err != nil {
			// Mail software wraps long lines; a wrapped JSON text is
			// unwrapped by dropping each line break and the space that
			// starts the continuation line.
			if err := json.Unmarshal([]byte(strings.ReplaceAll(s[:end+1], "\n ", "")), &n); err != nil {
				continue
			}
		}
		if n.NotificationType == "" && n.EventType == "" && strings.HasPrefix(strings.TrimSpace(n.Message), "{") {
			// An Amazon SNS envelope: the notification is the JSON text of
			// its Message (docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
			inner := n.Message
			n = sesNotification{}
			if err := json.Unmarshal([]byte(inner), &n); err != nil {
				continue
			}
		}
		typ := n.NotificationType
		if typ == "" {
			typ = n.EventType
		}
		var out []Diagnosis
		switch {
		case typ == "Bounce" && n.Bounce != nil:
			for _, r := range n.Bounce.BouncedRecipients {
				d, used := classifyWithStatus(r.DiagnosticCode, r.Status)
				if weak(d) && n.Bounce.BounceType == "Transient" {
					d.Class, d.Action = reply.Soft, reply.Retry
				}
				bd := fromReply(strings.ToLower(r.EmailAddress), d, used, AmazonSES)
				bd.DSNAction, bd.Status = strings.ToLower(r.Action), r.Status
				out = append(out, bd)
			}
		case typ == "Complaint" && n.Complaint != nil:
			for _, r := range n.Complaint.ComplainedRecipients {
				out = append(out, Diagnosis{
					Recipient: strings.ToLower(r.EmailAddress), Class: reply.Unknown, Reason: outcome.Complained,
					Action: reply.Suppress, Diagnostic: "SES complaint", Format: AmazonSES,
					Explanation:  "The recipient reported the message as spam (an Amazon SES complaint); stop mailing the address.",
					FeedbackType: n.Complaint.ComplaintFeedbackType,
				})
			}
		case typ == "Delivery" && n.Delivery != nil:
			for _, r := range n.Delivery.Recipients {
				d := reply.ClassifyText(n.Delivery.SMTPResponse)
				if d.Reason != outcome.Accepted {
					d = reply.Classify(reply.Reply{Code: 250})
				}
				out = append(out, fromReply(strings.ToLower(r), d, n.Delivery.SMTPResponse, AmazonSES))
			}
		}
		if len(out) > 0 {
			return out, AmazonSES, true
		}
	}
	return nil, "", false
}

// autoReply reads an automatic reply (RFC 3834): an out-of-office or
// vacation message. It is not a bounce: class unknown, action review, and
// it never suppresses. The recipient is the address that replied.
func (m *message) autoReply() (Diagnosis, bool) {
	auto := false
	as := strings.ToLower(m.header.get("auto-submitted"))
	if strings.HasPrefix(as, "auto-replied") || strings.HasPrefix(as, "auto-generated") {
		auto = true
	}
	for _, k := range []string{"x-autoreply", "x-autorespond", "x-auto-response-suppress", "x-vacation"} {
		if m.header.get(k) != "" && k != "x-auto-response-suppress" {
			auto = true
		}
	}
	switch strings.ToLower(strings.TrimSpace(m.header.get("precedence"))) {
	case "auto_reply", "auto-reply":
		auto = true
	}
	subj := strings.ToLower(m.subject())
	// Out-of-office subjects in the languages of the common mail clients'
	// defaults (Outlook's "Automatic reply" and its translations, and
	// the words people write themselves).
	for _, w := range []string{"out of office", "out of the office", "auto:", "autoreply", "auto-reply", "auto reply", "automatic reply", "vacation", "away from",
		"autosvar", "abwesenheit", "abwesend", "automatische antwort", "absence", "réponse automatique", "absent du bureau", "hors du bureau",
		"fuera de la oficina", "respuesta automática", "respuesta automatica", "ausente", "fuori ufficio", "risposta automatica", "assente",
		"resposta automática", "resposta automatica", "fora do escritório", "ausência", "automatisch antwoord", "afwezig", "automatyczna odpowiedź", "nieobecn",
		"автоответ", "автоматический ответ", "отсутств", "自動応答", "自動返信", "不在", "自动回复", "自動回覆", "자동 응답", "부재"} {
		if strings.Contains(subj, w) {
			auto = true
		}
	}
	if !auto || m.bounceSigns() {
		return Diagnosis{}, false
	}
	from := addresses(m.header.get("from"))
	if len(from) == 0 {
		from = addresses(m.header.get("reply-to"))
	}
	if len(from) == 0 {
		return Diagnosis{}, false
	}
	return Diagnosis{
		Recipient: from[0], Class: reply.Unknown, Reason: outcome.Accepted, Action: reply.Review,
		Diagnostic:  trimDiag(m.subject()),
		Explanation: "An automatic reply (out of office or vacation, RFC 3834), not a bounce: the address works.",
		Format:      AutoReply,
	}, true
}

// bounceSigns tells whether the header says the message is a bounce:
// mail software sent it, or Exim named failed recipients. Bounces carry
// Auto-Submitted too (RFC 3834 §5), so these outrank it.
func (m *message) bounceSigns() bool {
	if len(m.header.all("x-failed-recipients")) > 0 {
		return true
	}
	from := strings.ToLower(m.header.get("from"))
	for _, w := range []string{"mailer-daemon", "mail delivery", "postmaster", "mail-daemon"} {
		if strings.Contains(from, w) {
			return true
		}
	}
	return false
}

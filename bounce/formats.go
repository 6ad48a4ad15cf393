package bounce

import (
	"encoding/json"
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// formatMarker is one sign of who wrote a bounce.
type formatMarker struct {
	f Format
	// header is a header field name, or a prefix ending in "-" for a
	// family of fields ("x-aol-"), that must be present in the bounce's
	// header or its delivery-status part ("" = none); text, when set
	// too, must be in that field's value.
	header string
	// text is words (lower case) that must be in the place the tier
	// looks at: the From, Subject, X-Mailer and the bounce's own text.
	text string
}

// providerMarkers name the system by the headers it adds and the domain
// of the bounce's From: who sent the bounce, whichever MTA it runs
// (AOL's and Yandex's bounces are written by Postfix, GMX's and Mail.ru's
// in Exim's words). They are checked first.
var providerMarkers = []formatMarker{
	{f: WorkMail, header: "x-mailer", text: "amazon workmail"},
	{f: AmazonSES, header: "x-ses-outgoing"},
	{f: IMailServer, header: "x-mailer", text: "<smtp32"},
	{f: MFilter, header: "x-mailer", text: "m-filter"},
	{f: SurfControl, header: "x-mailer", text: "surfcontrol"},
	{f: SurfControl, header: "x-sef-"},
	{f: Zoho, header: "x-zohomail"},
	{f: MXLogic, header: "x-mxl-"},
	{f: MXLogic, header: "x-mx-bounce"},
	{f: ActiveHunter, header: "x-ahmailid"},
	{f: FML, header: "x-mlserver", text: "fml"},
	{f: Yahoo, header: "x-aol-"},
	{f: Yahoo, header: "x-outbound-mail-relay-"},
	{f: Yandex, header: "x-yandex-"},
	{f: GMX, header: "x-gmx-"},
	{f: GMX, header: "x-ui-out-filterresults"},
	{f: PowerMTA, header: "x-powermta-"},
	{f: SendGrid, header: "x-sendgrid-"},
}

// fromDomains name providers by the domain of the bounce's From.
var fromDomains = []struct {
	f       Format
	domains []string // the From domain is one of these or ends in "." + one
}{
	{AmazonSES, []string{"amazonses.com"}},
	{MailRu, []string{"mail.ru", "inbox.ru", "bk.ru", "list.ru"}},
	{Yandex, []string{"yandex.ru", "yandex.com", "yandex.net", "yandex.ua", "yandex.kz", "yandex.by", "ya.ru"}},
	{GMX, []string{"gmx.com", "gmx.net", "gmx.de", "web.de", "kundenserver.de", "1and1.com", "ionos.com"}},
	{Zoho, []string{"zoho.com", "zohomail.com", "zoho.eu"}},
	{Yahoo, []string{"yahoo.com", "yahoo.co.jp", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoodns.net", "aol.com"}},
	{Office365, []string{"hotmail.com", "outlook.com", "live.com", "msn.com"}},
	{Verizon, []string{"verizon.net", "vtext.com", "verizonwireless.com"}},
	{MXLogic, []string{"mxlogic.net"}},
	{JapanMobile, []string{"docomo.ne.jp", "ezweb.ne.jp", "au.com", "dion.ne.jp", "auone-net.jp", "softbank.ne.jp", "i.softbank.jp", "vodafone.ne.jp"}},
}

// writerMarkers are the fixed sentences and names each system writes in
// its own text (its source texts), most specific first.
var writerMarkers = []formatMarker{
	{f: GoogleGroup, text: "google group"},
	{f: DragonFly, text: "dragonfly mail agent"},
	{f: Amavis, text: "amavisd-new"},
	{f: Amavis, text: "content-filter at"},
	{f: TrendMicro, text: "interscan"},
	{f: McAfee, text: "mcafee"},
	{f: MailMarshal, text: "mailmarshal"},
	{f: Barracuda, text: "barracuda"},
	{f: Barracuda, text: "spam firewall"},
	{f: SendGrid, text: "automatically generated message from sendgrid"},
	{f: MessagingServer, text: "this report relates to a message you sent with the following header fields"},
	{f: ApacheJames, text: "error message below:"},
	{f: MailFoundry, text: "delivery failed for the following reason:"},
	{f: Qmail, text: "this is the qmail-send program"},
	{f: OpenSMTPD, text: "this is the mailer-daemon, please do not reply"},
	{f: Postfix, text: "this is the mail system at host"},
	{f: Postfix, text: "the postfix program"},
	{f: Gmail, text: "delivery to the following recipient failed"},
	{f: Gmail, text: "google tried to deliver your message"},
	{f: Gmail, text: "mail delivery subsystem <mailer-daemon@google"},
	{f: Gmail, text: "mailer-daemon@googlemail.com"},
	{f: Yahoo, text: "sorry, we were unable to deliver your message to the following address"},
	{f: Domino, text: "domino directory"},
	{f: Domino, text: "lotus domino"},
	{f: Domino, text: "lotus notes"},
	{f: Domino, text: "public name & address book"},
	{f: Courier, text: "courier mail server"},
	{f: Exim, text: "this message was created automatically by mail delivery software"},
	{f: Sendmail, text: "----- the following addresses had permanent fatal errors -----"},
	{f: Sendmail, text: "----- transcript of session follows -----"},
	// Office 365's NDRs say they are Exchange's; its servers' names
	// tell them apart.
	{f: Office365, text: "protection.outlook.com"},
	{f: Office365, text: "office 365"},
	{f: Office365, text: "outlook.com"},
	{f: Office365, text: "hotmail"},
	{f: Exchange, header: "x-ms-exchange-message-is-ndr"},
	{f: Exchange, header: "x-ms-embedded-report"},
	{f: Exchange, header: "x-mailer", text: "internet mail service"},
	{f: Exchange, text: "microsoft exchange"},
	{f: Exchange, text: "msexch"},
	{f: Exchange, text: "your message did not reach some or all of the intended recipients"},
	{f: Exchange, text: "did not reach the following recipient(s)"},
	{f: Exchange, text: "delivery has failed to these recipients or groups"},
	{f: Exchange, text: "the following recipient(s) could not be reached"},
	// Exchange 2010 and later, in its localised NDRs too.
	{f: Exchange, text: "diagnostic information for administrators"},
	{f: Exchange, text: "información de diagnóstico para administradores"},
	{f: Exchange, text: "diagnoseinformationen für administratoren"},
	{f: Exchange, text: "informations de diagnostic pour les administrateurs"},
	{f: Exchange, text: "informazioni di diagnostica per gli amministratori"},
	{f: Exchange, text: "informações de diagnóstico para administradores"},
	{f: Exchange, text: "diagnostische gegevens voor beheerders"},
	{f: Exim, header: "x-failed-recipients"},
	// The bare names last: a bounce names its own software, but may
	// also quote another system's reply.
	{f: Qmail, text: "qmail"},
	{f: OpenSMTPD, text: "opensmtpd"},
	{f: Exim, text: "exim"},
	{f: Postfix, text: "postfix"},
	{f: Sendmail, text: "sendmail"},
}

// format names the layout of a bounce: who wrote it. It looks at the
// headers and From domain first, then the bounce's own words, and never
// at the Received lines, which name the servers the bounce passed
// through (the sender's own among them). RFC3464 when nothing is
// recognised.
func (m *message) format() Format {
	for _, mk := range providerMarkers {
		if m.hasMarkerField(mk) {
			return mk.f
		}
	}
	for _, a := range addresses(m.header.get("from")) {
		_, dom, _ := strings.Cut(a, "@")
		for _, fd := range fromDomains {
			for _, d := range fd.domains {
				if dom == d || strings.HasSuffix(dom, "."+d) {
					return fd.f
				}
			}
		}
	}
	hay := strings.ToLower(m.header.get("from")+"\n"+m.subject()+"\n"+m.header.get("x-mailer")+"\n") + m.low
	for _, mk := range writerMarkers {
		if mk.header != "" {
			if m.hasMarkerField(mk) {
				return mk.f
			}
			continue
		}
		if strings.Contains(hay, mk.text) {
			return mk.f
		}
	}
	return RFC3464
}

// hasMarkerField tells whether the bounce's header, or its own
// delivery-status part, has the marker's field (with its text).
func (m *message) hasMarkerField(mk formatMarker) bool {
	match := func(h header) bool {
		for _, fl := range h {
			if fl.name != mk.header && !(strings.HasSuffix(mk.header, "-") && strings.HasPrefix(fl.name, mk.header)) {
				continue
			}
			if mk.text == "" || strings.Contains(strings.ToLower(fl.value), mk.text) {
				return true
			}
		}
		return false
	}
	if match(m.header) {
		return true
	}
	if m.reportFields == nil {
		m.reportFields = []header{}
		for i := range m.parts {
			if p := &m.parts[i]; !p.inOriginal && p.typ == "message/delivery-status" {
				fields, _ := splitHeader(p.body)
				m.reportFields = append(m.reportFields, fields)
			}
		}
	}
	for _, h := range m.reportFields {
		if match(h) {
			return true
		}
	}
	return false
}

// arf reads an ARF feedback report (RFC 5965): a complaint, not a bounce.
// Each complaining recipient (Original-Rcpt-To, RFC 5965 §3.2; else the
// Removal-Recipient of older reports; else the returned message's To) is
// class unknown with reason complained and action suppress: the recipient
// asked not to get this mail.
func (m *message) arf() ([]Diagnosis, bool) {
	// Apple Mail's unsubscribe request (X-Apple-Unsubscribe: true) is
	// sent by the recipient, from the address that was mailed, when they
	// press "Unsubscribe": an opt-out, suppressed like a complaint.
	if strings.EqualFold(strings.TrimSpace(m.header.get("x-apple-unsubscribe")), "true") {
		if from := addresses(m.header.get("from")); len(from) > 0 {
			ds := complaints(from[:1], "unsubscribe")
			ds[0].Diagnostic = "X-Apple-Unsubscribe: true"
			ds[0].Explanation = "The recipient asked to unsubscribe (Apple Mail's unsubscribe message); stop mailing the address."
			return ds, true
		}
	}
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

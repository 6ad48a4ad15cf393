package bounce

import (
	"bytes"
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// dsnRecipient is one per-recipient group of a delivery-status part (RFC
// 3464 §2.3).
type dsnRecipient struct {
	final, original string
	action          string
	status          string
	diagnostic      string
	remoteMTA       string
	actual          string // X-Actual-Recipient as written (a pipe, for local delivery programs)
	category        string // X-PowerMTA-BounceCategory, lower case
}

// dsn reads the delivery-status fields of the message, wherever they are:
// in a message/delivery-status part as RFC 3464 §2.1 asks, or, in damaged
// reports, in a text part. Groups are found by their fields, so a missing
// blank line, a missing per-message group or a folded field does not lose
// a recipient. A recipient without a usable Diagnostic-Code is diagnosed
// from the human-readable text about it.
func (m *message) dsn(f Format) []Diagnosis {
	var recs []dsnRecipient
	for _, p := range m.parts {
		if p.inOriginal {
			continue
		}
		isStatus := p.typ == "message/delivery-status" || p.typ == "message/global-delivery-status"
		if !isStatus && !hasDSNFields(p.body) {
			continue
		}
		recs = append(recs, statusFields(p.body)...)
		if len(recs) > 0 && isStatus {
			break
		}
	}
	if len(recs) == 0 {
		return nil
	}
	out := make([]Diagnosis, 0, len(recs))
	seen := map[string]bool{}
	for _, r := range recs {
		rcpt := r.final
		if rcpt == "" || !strings.Contains(rcpt, "@") {
			if r.original != "" {
				rcpt = r.original
			}
		}
		if seen[rcpt] {
			continue
		}
		if len(out) >= maxRecipients {
			break
		}
		seen[rcpt] = true
		out = append(out, m.diagnoseDSN(rcpt, r, f))
	}
	return out
}

func hasDSNFields(b []byte) bool {
	i := indexFold(b, "final-recipient:")
	if i < 0 {
		return false
	}
	return indexFold(b, "action:") >= 0 || indexFold(b, "status:") >= 0
}

func indexFold(b []byte, lower string) int {
	n := len(lower)
	for i := 0; i+n <= len(b); i++ {
		if (b[i]|0x20) != lower[0] && b[i] != lower[0] {
			continue
		}
		if bytes.EqualFold(b[i:i+n], []byte(lower)) {
			return i
		}
	}
	return -1
}

// statusFields reads the groups of a delivery-status body.
func statusFields(b []byte) []dsnRecipient {
	var out []dsnRecipient
	var cur dsnRecipient
	in := false
	flush := func() {
		if in && (cur.final != "" || cur.original != "") {
			out = append(out, cur)
		}
		cur, in = dsnRecipient{}, false
	}
	var name, value string
	field := func() {
		if name == "" {
			return
		}
		v := strings.TrimSpace(value)
		switch name {
		case "final-recipient", "x-actual-recipient":
			if name == "x-actual-recipient" {
				cur.actual = v
				if cur.final != "" {
					break
				}
			}
			if cur.final != "" && in {
				flush()
			}
			cur.final, in = typedAddress(v), true
			if cur.actual == "" && strings.Contains(v, "|") {
				cur.actual = v // a pipe named as the recipient (Exim)
			}
		case "original-recipient":
			if cur.original != "" && cur.final != "" && in {
				flush()
			}
			cur.original, in = typedAddress(v), true
		case "action":
			cur.action, in = strings.ToLower(firstWord(v)), true
		case "status":
			cur.status, in = firstWord(v), true
		case "diagnostic-code":
			if cur.diagnostic == "" {
				cur.diagnostic = v
			} else if len(cur.diagnostic) < maxFieldLen {
				cur.diagnostic += " " + v
			}
			in = true
		case "remote-mta":
			cur.remoteMTA, in = typedValue(v), true
		case "x-powermta-bouncecategory":
			cur.category, in = strings.ToLower(v), true
		}
		name, value = "", ""
	}
	lines := strings.Split(string(b), "\n")
	for _, line := range lines {
		switch {
		case strings.TrimSpace(line) == "":
			field()
			if cur.final != "" || cur.original != "" {
				// A blank line ends a group, unless what follows only
				// continues it (handled by the field names above).
				flush()
			}
		case line[0] == ' ' || line[0] == '\t':
			if name != "" && len(value) < maxFieldLen {
				value += " " + strings.TrimSpace(line)
			}
		default:
			field()
			if i := strings.IndexByte(line, ':'); i > 0 && isFieldName([]byte(strings.TrimSpace(line[:i]))) {
				name, value = strings.ToLower(strings.TrimSpace(line[:i])), line[i+1:]
			}
		}
	}
	field()
	flush()
	return out
}

func firstWord(v string) string {
	if i := strings.IndexAny(v, " \t(;"); i >= 0 {
		return v[:i]
	}
	return v
}

// typedAddress reads "rfc822; a@b" (RFC 3464 §2.3.1) and damaged forms
// ("rfc822;<a@b>", "a@b", "RFC822; a@b (comment)").
func typedAddress(v string) string {
	if as := addresses(v); len(as) > 0 {
		return as[0]
	}
	return strings.Trim(typedValue(v), "<> ")
}

func typedValue(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[i+1:]
	}
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, " \t("); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSuffix(v, ".")
}

// diagnoseDSN classifies one DSN recipient: its Diagnostic-Code first,
// with the Status field as the enhanced code when the diagnostic has none
// (RFC 3464 §2.3.4); when the diagnostic is missing or says nothing
// definite, the human-readable text about the recipient.
func (m *message) diagnoseDSN(rcpt string, r dsnRecipient, f Format) Diagnosis {
	diag := trimDiag(r.diagnostic)
	d, used := classifyWithStatus(diag, r.status)
	if weak(d) {
		if blk := m.blockFor(rcpt); blk != "" {
			if d2, used2 := classifyBlock(blk, r.status); !weak(d2) || used == "" {
				d, used = d2, used2
			}
		}
	} else if d.Code == 0 {
		// The reading rests on the Status (or a diagnostic without a reply
		// code): the reporter's summary. The remote server's reply quoted
		// in the human-readable paragraph about the recipient outranks it
		// (a Postfix "host ... said: 550 5.1.0 <sender> sender rejected
		// (in reply to MAIL FROM command)" next to Status 5.1.0).
		if blk := m.blockFor(rcpt); blk != "" {
			if d2, used2 := classifyBlock(blk, r.status); !weak(d2) && d2.Code != 0 {
				d, used = d2, used2
			}
		}
	}
	if weak(d) && r.category != "" {
		if d2, ok := powerMTACategory(r.category); ok {
			d2.Code, d2.Enhanced = d.Code, d.Enhanced
			d = d2
			if used == "" {
				used = "X-PowerMTA-BounceCategory: " + r.category
			}
		}
	}
	if localMailer(r) && (weak(d) || d.Reason == outcome.Accepted && r.action == "failed") {
		// The recipient's own delivery program (a pipe, procmail, a
		// filter) failed: Sendmail and Postfix report its exit status with
		// diagnostic-type X-Unix ("X-Unix; 255" is an exit status, not a
		// 2xx reply). Nothing is known about the address; the failure is
		// on the receiving side.
		d = reply.Diagnosis{Class: reply.Soft, Reason: outcome.SMTPRejected, Action: reply.Retry,
			Code: d.Code, Enhanced: d.Enhanced,
			Explanation: "The recipient's local delivery program failed; this says nothing about the address. Retry later."}
	}
	switch r.action {
	case "delayed":
		// RFC 3464 §2.3.3: still being tried; whatever the text, not final.
		if d.Class == reply.Hard {
			d.Reason = outcome.SMTPRejected
		}
		if d.Class == reply.Hard || d.Class == reply.Unknown {
			d.Class, d.Action = reply.Soft, reply.Retry
		}
	case "delivered", "relayed", "expanded":
		if !strings.HasPrefix(r.status, "4") && !strings.HasPrefix(r.status, "5") {
			d = reply.Classify(reply.Reply{Code: 250, Enhanced: r.status})
		}
	}
	out := fromReply(rcpt, d, used, f)
	out.RemoteMTA, out.DSNAction, out.Status = r.remoteMTA, r.action, r.status
	return out
}

// weak tells whether a diagnosis says nothing definite: unknown (but not
// a 2xx), or a soft refusal read from no code and no named reason.
func weak(d reply.Diagnosis) bool {
	return d.Class == reply.Unknown && d.Reason != outcome.Accepted ||
		d.Code == 0 && d.Enhanced == "" && d.Class == reply.Soft && d.Reason == outcome.SMTPRejected
}

// classifyWithStatus classifies a diagnostic, using a DSN Status as the
// enhanced code when the diagnostic carries none and the classes agree.
//
// The remote server's own reply outranks the Status, which the reporting
// MTA writes as its summary and sometimes gets wrong (Sendmail's 5.7.27 on
// a recipient's "550 Host does not accept mail"): when the diagnostic has
// a reply code and a definite reading of its own, the Status is not used.
func classifyWithStatus(diag, status string) (reply.Diagnosis, string) {
	if inner, ok := quotedRemoteReply(diag); ok {
		// The remote server's reply, quoted inside the reporter's summary,
		// outranks the summary.
		if d := reply.ClassifyText(inner); !weak(d) && d.Code != 0 {
			return d, diag
		}
	}
	r := reply.Parse(skipGreeting(diag))
	if r.Code == 0 {
		if c, e, ok := embeddedReply(r.Text); ok {
			r.Code = c
			if r.Enhanced == "" {
				r.Enhanced = e
			}
		}
	}
	if r.Code != 0 && status != "" {
		if d := reply.Classify(r); !weak(d) {
			return d, diag
		}
	}
	if r.Enhanced == "" && reply.ValidStatus(status) && (r.Code == 0 || int(status[0]-'0') == r.Code/100) && status != "5.0.0" && status != "4.0.0" {
		r.Enhanced = status
	}
	if r.Code == 0 && r.Enhanced == "" && reply.ValidStatus(status) {
		r.Enhanced = status
	}
	used := diag
	if used == "" {
		used = status
	}
	return reply.Classify(r), used
}

// embeddedReply finds an SMTP reply code inside an MTA's text: after
// "said:", "]: ", "failed with: ", "<<< " and the like, or at the start of
// a line. It returns the basic code and an enhanced code right after it.
func embeddedReply(s string) (int, string, bool) {
	for i := 0; i+3 <= len(s); i++ {
		c := s[i]
		if c != '4' && c != '5' {
			continue
		}
		if i > 0 {
			p := s[i-1]
			if p != ' ' && p != ':' && p != '\n' && p != '(' && p != '<' && p != '\t' && p != '#' && p != '[' && p != '"' {
				continue
			}
			if p == ' ' && i > 1 && (isDigitB(s[i-2]) || s[i-2] == '.' || s[i-2] == ',') {
				continue
			}
		}
		if !isDigitB(s[i+1]) || !isDigitB(s[i+2]) {
			continue
		}
		if i+3 < len(s) {
			n := s[i+3]
			if n != ' ' && n != '-' && n != '\n' && n != ':' && n != '.' && n != ')' && n != ']' {
				continue
			}
			if n == '.' && (i+4 >= len(s) || isDigitB(s[i+4])) {
				continue
			}
		}
		code := int(c-'0')*100 + int(s[i+1]-'0')*10 + int(s[i+2]-'0')
		if code%100 > 59 || s[i+1] > '5' {
			continue
		}
		enh := ""
		rest := strings.TrimLeft(s[min(len(s), i+4):], " ")
		if n := enhancedAt(rest); n > 0 && rest[0] == c {
			enh = rest[:n]
		}
		return code, enh, true
	}
	return 0, "", false
}

func enhancedAt(s string) int {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	n := 0
	for i < len(s) && isDigitB(s[i]) && n < 4 {
		i++
		n++
	}
	if n == 0 || n > 3 || i >= len(s) || s[i] != '.' {
		return 0
	}
	i++
	n = 0
	for i < len(s) && isDigitB(s[i]) && n < 4 {
		i++
		n++
	}
	if n == 0 || n > 3 {
		return 0
	}
	if i < len(s) && (isDigitB(s[i]) || s[i] == '.' && i+1 < len(s) && isDigitB(s[i+1])) {
		return 0
	}
	return i
}

func isDigitB(c byte) bool { return c >= '0' && c <= '9' }

// localMailer tells whether a DSN recipient failed in a local delivery
// program rather than in SMTP: diagnostic-type X-Unix (RFC 3464 §2.3.6
// allows "X-" types; Sendmail and Postfix use X-Unix for a mailer's exit
// status), or a recipient that is a pipe ("|/usr/bin/procmail").
func localMailer(r dsnRecipient) bool {
	typ, _, ok := strings.Cut(r.diagnostic, ";")
	if ok && strings.EqualFold(strings.TrimSpace(typ), "x-unix") {
		return true
	}
	for _, v := range []string{r.actual, r.final, r.original} {
		v = strings.TrimSpace(v)
		if i := strings.IndexByte(v, ';'); i >= 0 {
			v = strings.TrimSpace(v[i+1:])
		}
		if strings.HasPrefix(v, "|") || strings.HasPrefix(v, "\"|") {
			return true
		}
	}
	return false
}

// quotedRemoteReply finds a remote server's reply that a reporting MTA
// quotes inside its own summary, as Amazon SES writes it: "5.1.0 - Unknown
// address error 550-'5.7.1 <a@b>... Access denied' (delivery attempts: 0)".
// It returns the quoted reply with its basic code ("550 5.7.1 <a@b>...
// Access denied").
func quotedRemoteReply(diag string) (string, bool) {
	i := strings.Index(diag, "-'")
	if i < 3 || !isDigitB(diag[i-1]) || !isDigitB(diag[i-2]) || !isDigitB(diag[i-3]) || i > 3 && isDigitB(diag[i-4]) {
		return "", false
	}
	if c := diag[i-3]; c != '4' && c != '5' {
		return "", false
	}
	rest := diag[i+2:]
	j := strings.LastIndexByte(rest, '\'')
	if j <= 0 {
		return "", false
	}
	return diag[i-3:i] + " " + rest[:j], true
}

// skipGreeting drops a server's greeting continuation that a reporting MTA
// pasted before the refusal it got next ("smtp; 220-laposte 421 4.2.1
// Service refused"): a 2xx line ending in '-' is not the end of a reply
// (RFC 5321 \u00a74.2.1), so the reply is the failing one after it.
func skipGreeting(diag string) string {
	t := diag
	if i := strings.IndexByte(t, ';'); i >= 0 && i < 12 {
		t = t[i+1:]
	}
	t = strings.TrimLeft(t, " \t")
	if len(t) < 4 || t[0] != '2' || !isDigitB(t[1]) || !isDigitB(t[2]) || t[3] != '-' {
		return diag
	}
	for i := 4; i+4 <= len(t); i++ {
		if t[i-1] == ' ' && (t[i] == '4' || t[i] == '5') && isDigitB(t[i+1]) && isDigitB(t[i+2]) && (t[i+3] == ' ' || t[i+3] == '-') {
			return t[i:]
		}
	}
	return diag
}

// powerMTACategory reads PowerMTA's own classification of a bounce, the
// X-PowerMTA-BounceCategory field of its reports (PowerMTA User's Guide,
// "Bounce categories"). It is used only when the reply itself says nothing
// definite: the remote server's words come first.
func powerMTACategory(c string) (reply.Diagnosis, bool) {
	const src = "PowerMTA's bounce category (X-PowerMTA-BounceCategory): "
	switch c {
	case "bad-mailbox":
		return reply.Diagnosis{Class: reply.Hard, Reason: outcome.MailboxNotFound, Action: reply.Suppress, Explanation: src + "the mailbox does not exist."}, true
	case "inactive-mailbox":
		return reply.Diagnosis{Class: reply.Hard, Reason: outcome.MailboxDisabled, Action: reply.Suppress, Explanation: src + "the mailbox is inactive or disabled."}, true
	case "bad-domain":
		return reply.Diagnosis{Class: reply.Hard, Reason: outcome.DomainNotFound, Action: reply.Suppress, Explanation: src + "the domain does not exist or takes no mail."}, true
	case "quota-issues":
		return reply.Diagnosis{Class: reply.Soft, Reason: outcome.MailboxFull, Action: reply.Retry, Explanation: src + "the mailbox is over its quota."}, true
	case "message-expired":
		return reply.Diagnosis{Class: reply.Soft, Reason: outcome.Timeout, Action: reply.Retry, Explanation: src + "the message expired in the queue."}, true
	case "no-answer-from-host", "bad-connection", "routing-errors":
		return reply.Diagnosis{Class: reply.Soft, Reason: outcome.ConnectionFailed, Action: reply.Retry, Explanation: src + "the receiving host could not be reached."}, true
	case "policy-related", "spam-related", "virus-related", "content-related", "invalid-sender", "relaying-issues":
		return reply.Diagnosis{Class: reply.Block, Reason: outcome.Blocked, Action: reply.FixSender, Explanation: src + "the receiving side refused the sender or the message (" + c + ")."}, true
	}
	return reply.Diagnosis{}, false
}

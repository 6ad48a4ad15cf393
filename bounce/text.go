package bounce

import (
	"strings"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// maxBlockLines caps the lines of text read about one recipient.
const maxBlockLines = 40

// text reads a bounce that has no delivery-status fields: the MTA's own
// words. The failed recipients are the addresses its text names (or its
// X-Failed-Recipients header, Exim), other than the bounce's own sender
// and recipient and mail-system addresses; each is diagnosed from the
// lines that follow its first mention.
func (m *message) text(f Format) []Diagnosis {
	if !m.looksLikeBounce() {
		return nil
	}
	rcpts := m.failedRecipients()
	if len(rcpts) == 0 {
		return nil
	}
	if len(rcpts) > maxRecipients {
		rcpts = rcpts[:maxRecipients]
	}
	out := make([]Diagnosis, 0, len(rcpts))
	for _, rc := range rcpts {
		blk := m.blockFor(rc)
		if blk == "" {
			blk = m.human
		}
		d, used := classifyBlock(blk, "")
		if weak(d) && blk != m.human {
			if d2, used2 := classifyBlock(m.human, ""); !weak(d2) {
				d, used = d2, used2
			}
		}
		if f == GoogleGroup && d.Code == 0 {
			// A Google Groups bounce tells the sender that the group does
			// not take its posts (no such group, or no permission), in the
			// reader's language: the sender was refused.
			d = reply.Diagnosis{Class: reply.Block, Reason: outcome.Blocked, Action: reply.FixSender,
				Explanation: "The Google group refused the sender's post (not a member, or no permission to post)."}
		}
		out = append(out, fromReply(rc, d, used, f))
	}
	return out
}

// failedRecipients lists the recipients a text bounce reports on. The
// bounce's own addresses and mail-system addresses (postmaster@, ...) are
// left out unless nothing else is named: some bounces are about a message
// sent to oneself or to a postmaster.
func (m *message) failedRecipients() []string {
	var out []string
	for _, v := range m.header.all("x-failed-recipients") {
		out = append(out, addresses(v)...)
	}
	if len(out) > 0 {
		return dedupe(out)
	}
	from := addresses(m.header.get("from"))
	for pass := 0; pass < 2 && len(out) == 0; pass++ {
		seen := map[string]bool{}
		add := func(a string) {
			if seen[a] || len(from) > 0 && a == from[0] {
				return
			}
			if pass == 0 && (m.own[a] || isSystemAddress(a)) {
				return
			}
			seen[a] = true
			out = append(out, a)
		}
		for _, a := range addresses(m.human) {
			if len(out) >= maxRecipients {
				break
			}
			if !m.inURL(a) && !m.onlySender(a) {
				add(a)
			}
		}
		if len(out) == 0 {
			for _, a := range m.origTo {
				add(a)
			}
		}
	}
	return out
}

// inURL tells whether every mention of a in the human text is inside a URL
// or a Message-ID.
func (m *message) inURL(a string) bool {
	low := m.low
	for i := 0; ; {
		j := strings.Index(low[i:], a)
		if j < 0 {
			return true
		}
		j += i
		k := strings.LastIndexAny(low[:j], " \t\n<(\"'")
		word := low[k+1 : j]
		if !strings.Contains(word, "://") && !strings.Contains(word, "mailto:") && !strings.HasPrefix(word, "=") {
			if !(k >= 0 && k+1 == j && low[k] == '<' && strings.Contains(low[max(0, k-20):k], "message-id")) {
				return false
			}
		}
		i = j + len(a)
	}
}

// onlySender tells whether every mention of a in the human text is as
// the envelope sender of a transcript ("MAIL FROM:<a>", RFC 5321
// §4.1.1.2): that is who sent the message, not who failed.
func (m *message) onlySender(a string) bool {
	low := m.low
	for i := 0; ; {
		j := strings.Index(low[i:], a)
		if j < 0 {
			return true
		}
		j += i
		before := strings.TrimRight(low[max(0, j-12):j], "< \t\n")
		if !strings.HasSuffix(before, "from:") {
			return false
		}
		i = j + len(a)
	}
}

// looksLikeBounce tells whether a message without delivery-status fields
// is a bounce at all, so that an ordinary message is not read as one: a
// person's reply that mentions an "undeliverable" parcel, or a message
// that merely passed through a Postfix server, suppresses nobody. The
// signs are mail software as the sender (X-Failed-Recipients, a
// mail-system From), an MTA's fixed bounce wording, or the words of a
// bounce in a Subject or text that is not a person's reply or forward.
func (m *message) looksLikeBounce() bool {
	if len(m.header.all("x-failed-recipients")) > 0 {
		return true
	}
	from := strings.ToLower(m.header.get("from"))
	for _, w := range []string{"mailer-daemon", "postmaster", "post_master", "mail delivery", "mail-daemon", "mailerdaemon", "mail administrator", "mail delivery subsystem"} {
		if strings.Contains(from, w) {
			return true
		}
	}
	for _, a := range addresses(from) {
		local, _, _ := strings.Cut(a, "@")
		// A list manager's own address (fml's and Mailman's
		// "list-admin", "list-owner") reports failed posts.
		if isSystemAddress(a) || strings.HasSuffix(local, "-admin") || strings.HasSuffix(local, "-owner") {
			return true
		}
	}
	low := m.low
	for _, w := range mtaPhrases {
		if strings.Contains(low, w) {
			return true
		}
	}
	subj := strings.ToLower(strings.TrimSpace(m.subject()))
	if isReplySubject(subj) {
		return false
	}
	for _, w := range []string{"undeliver", "undelivered", "delivery fail", "delivery status", "returned mail", "failure notice", "mail delivery", "delivery notification", "could not be delivered", "not delivered", "nondeliver", "non-deliver", "rejected", "returned to sender", "bounce", "error", "failed"} {
		if strings.Contains(subj, w) {
			return true
		}
	}
	for _, w := range bouncePhrases {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

// isReplySubject tells whether a lower-cased Subject is a person's reply
// or forward ("Re:", "Fwd:", and their common translations).
func isReplySubject(subj string) bool {
	for _, p := range []string{"re:", "re :", "fw:", "fwd:", "aw:", "wg:", "sv:", "vs:", "tr:", "rv:", "r:", "antw:", "odp:", "res:", "enc:", "回复:", "回复：", "答复:", "転送:", "返信:"} {
		if strings.HasPrefix(subj, p) {
			return true
		}
	}
	return false
}

// mtaPhrases are fixed sentences of MTAs' bounce texts, sure signs of a
// bounce wherever they appear in its own text.
var mtaPhrases = []string{
	"this is the qmail-send program",
	"this message was created automatically by mail delivery software",
	"this is the mail system at host",
	"----- transcript of session follows -----",
	"----- the following addresses had permanent fatal errors -----",
	"delivery to the following recipient failed",
	"your message did not reach some or all of the intended recipients",
	"sorry, we were unable to deliver your message",
	"this is the mailer-daemon, please do not reply",
	"delivery has failed to these recipients or groups",
}

// bouncePhrases are the opening words of MTAs' bounce texts.
var bouncePhrases = []string{
	"could not be delivered",
	"couldn't be delivered",
	"wasn't able to deliver",
	"was not able to deliver",
	"unable to deliver",
	"delivery has failed",
	"delivery to the following recipient",
	"delivery failed",
	"permanent error",
	"permanent fatal error",
	"undeliverable",
	"following address(es) failed",
	"message was not delivered",
	"could not be reached",
	"did not reach",
	"returned to you",
	"unknown user",
	"user unknown",
	"delivery problem",
	"failed to deliver",
	"was undeliverable",
}

// blockFor returns the lines of the human text about rcpt: from the line
// that first names it up to the line that first names another recipient,
// plus later lines that name it again with a reply code (a Sendmail
// transcript, "<<< 550 5.1.1 <a@b>... User unknown").
func (m *message) blockFor(rcpt string) string {
	if m.human == "" || rcpt == "" {
		return ""
	}
	lines, lowLines := m.lines, m.lowLines
	first := -1
	for i, l := range lowLines {
		if strings.Contains(l, rcpt) {
			first = i
			break
		}
	}
	if first < 0 {
		return ""
	}
	if sendmailStatusLine(lowLines[first], rcpt) {
		return m.transcriptBlock(first, rcpt)
	}
	// A reason written on the line before, ending in a colon, introduces
	// the address (Exim "... after RCPT TO:\n  host ...").
	var b strings.Builder
	end := len(lines)
	for i := first + 1; i < len(lines) && i < first+maxBlockLines; i++ {
		low := lowLines[i]
		if generatedFrom(low) {
			// Exim "(ultimately generated from a@b)": the alias the
			// recipient came from, part of its paragraph.
			continue
		}
		if as := addresses(low); len(as) > 0 {
			other := false
			for _, a := range as {
				if a != rcpt && !m.own[a] && !isSystemAddress(a) {
					other = true
				}
			}
			if other && !strings.Contains(low, rcpt) {
				end = i
				break
			}
		}
	}
	if end > first+maxBlockLines {
		end = first + maxBlockLines
	}
	for _, l := range lines[first:end] {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	for j, l := range lines[end:] {
		if strings.Contains(lowLines[end+j], rcpt) {
			if _, _, ok := embeddedReply(l); ok {
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// generatedFrom tells whether a line is Exim's note of the address a
// recipient was expanded from: "(generated from a@b)", "(ultimately
// generated from a@b)".
func generatedFrom(low string) bool {
	t := strings.TrimSpace(low)
	return strings.HasPrefix(t, "(generated from ") || strings.HasPrefix(t, "(ultimately generated from ")
}

// sendmailStatusLine tells whether low is Sendmail's own line about rcpt
// in a transcript of session: "554 <a@b>... Remote protocol error".
func sendmailStatusLine(low, rcpt string) bool {
	t := strings.TrimSpace(low)
	if len(t) < 5 || !isDigitB(t[0]) || !isDigitB(t[1]) || !isDigitB(t[2]) || t[3] != ' ' {
		return false
	}
	t = strings.TrimPrefix(t[4:], "<")
	return strings.HasPrefix(t, rcpt) && strings.HasPrefix(strings.TrimPrefix(t[len(rcpt):], ">"), "...")
}

// transcriptBlock returns the text about rcpt in a Sendmail transcript of
// session, whose status line is lines[at]: the "While talking to host:"
// dialogue before it (">>> command", "<<< reply": the remote server's own
// words, which outrank Sendmail's summary) and the status line itself,
// but not the lines about other recipients or hosts.
func (m *message) transcriptBlock(at int, rcpt string) string {
	lines, lowLines := m.lines, m.lowLines
	from := at
	for i := at - 1; i >= 0 && i >= at-maxBlockLines; i-- {
		t := strings.TrimSpace(lowLines[i])
		if strings.HasPrefix(t, ">>>") || strings.HasPrefix(t, "<<<") {
			from = i
			continue
		}
		if strings.HasPrefix(t, "while talking to") {
			from = i
			break
		}
		if t == "" || strings.HasPrefix(t, "-----") || len(t) > 3 && isDigitB(t[0]) && isDigitB(t[1]) && isDigitB(t[2]) && strings.Contains(t, "@") {
			break
		}
	}
	var b strings.Builder
	for i := from; i <= at; i++ {
		t := strings.TrimSpace(lowLines[i])
		if i < at && len(t) > 3 && isDigitB(t[0]) && isDigitB(t[1]) && isDigitB(t[2]) {
			continue // Sendmail's status line about a host or another recipient
		}
		b.WriteString(lines[i])
		b.WriteByte('\n')
	}
	for j := at + 1; j < len(lines); j++ {
		if strings.Contains(lowLines[j], rcpt) {
			if _, _, ok := embeddedReply(lines[j]); ok {
				b.WriteString(lines[j])
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// classifyBlock classifies the text about one recipient. The reply a
// remote server gave (a line with an SMTP code) is the evidence; the rest
// of the block fills in when that reply says nothing definite.
func classifyBlock(blk, status string) (reply.Diagnosis, string) {
	lines := strings.Split(blk, "\n")
	start := -1
	for i, l := range lines {
		if c, _, ok := embeddedReply(l); ok {
			if c < 400 && strings.HasPrefix(strings.TrimSpace(l), "<<<") {
				// A transcript's successful reply (pipelined commands
				// are answered in a row): not the refusal.
				continue
			}
			start = i
			break
		}
	}
	whole := joinLines(lines)
	if start < 0 {
		d, _ := classifyWithStatus(whole, status)
		return d, trimDiag(whole)
	}
	from := start
	if start > 0 {
		prev := strings.TrimSpace(lines[start-1])
		// A reason written on the line before, ending in a colon; the
		// command a Sendmail transcript's "<<<" reply answers (">>> DATA");
		// qmail-remote's "Connected to host but my name was rejected."
		// before "Remote host said:".
		if strings.HasSuffix(prev, ":") || strings.HasPrefix(prev, ">>> ") || hasPrefixFold(prev, "connected to ") {
			from = start - 1
		}
	}
	to := start + 1
	if strings.HasPrefix(strings.TrimSpace(lines[start]), "<<<") {
		// The remote server's reply in a transcript: its own lines only.
		for to < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[to]), "<<<") {
			to++
		}
	} else {
		for to < len(lines) && to < start+6 && strings.TrimSpace(lines[to]) != "" {
			to++
		}
	}
	replyText := joinLines(lines[from:to])
	d, _ := classifyWithStatus(replyText, status)
	if weak(d) {
		r := reply.Parse(replyText)
		if r.Code == 0 {
			r.Code, r.Enhanced, _ = embeddedReply(replyText)
		}
		d2 := reply.Classify(reply.Reply{Code: r.Code, Enhanced: r.Enhanced, Text: whole})
		if !weak(d2) {
			return d2, trimDiag(replyText)
		}
	}
	return d, trimDiag(replyText)
}

func joinLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

// maxDiagnostic caps the diagnostic text kept per recipient.
const maxDiagnostic = 1000

func trimDiag(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxDiagnostic {
		s = s[:maxDiagnostic]
	}
	return s
}

func hasPrefixFold(s, lowerPrefix string) bool {
	return len(s) >= len(lowerPrefix) && strings.EqualFold(s[:len(lowerPrefix)], lowerPrefix)
}

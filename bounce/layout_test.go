package bounce

import (
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// Messages written for these tests (not copied from the corpus).

const gluedA = `From MAILER-DAEMON  Mon Mar  2 10:00:00 2026
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: news@example.org
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain

This is the mail system at host mx.example.org.

<ann@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1
    <ann@example.net>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)
`

const gluedB = `From MAILER-DAEMON  Mon Mar  2 10:00:01 2026
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: news@example.org
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain

This is the mail system at host mx.example.org.

<bob@example.com>: host mx.example.com[192.0.2.2] said: 552 5.2.2 Mailbox
    full (in reply to RCPT TO command)
`

func TestGluedMessages(t *testing.T) {
	rep, err := Read([]byte(gluedA + gluedB))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 2 {
		t.Fatalf("%d recipients, want 2: %+v", len(rep.Recipients), rep.Recipients)
	}
	for i, w := range []struct {
		rcpt  string
		class reply.Class
	}{{"ann@example.net", reply.Hard}, {"bob@example.com", reply.Soft}} {
		if g := rep.Recipients[i]; g.Recipient != w.rcpt || g.Class != w.class {
			t.Errorf("#%d: %s %s, want %s %s", i, g.Recipient, g.Class, w.rcpt, w.class)
		}
	}
	// A "From " line in the body that is not a postmark followed by a
	// header does not split the message.
	one, err := Read([]byte(gluedA + "\nFrom the desk of the postmaster\n"))
	if err != nil || len(one.Recipients) != 1 {
		t.Errorf("one message with a From line in its body: %d recipients, %v", len(one.Recipients), err)
	}
}

const transcript = `From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.org>
To: news@example.org
Subject: Returned mail: see transcript for details

   ----- Transcript of session follows -----
While talking to mx.example.net:
>>> MAIL From:<news@example.org>
<<< 553 Relaying denied for your host
554 <ann@example.net>... Remote protocol error
550 example.com (smtp)... 550 Host unknown
554 <bob@example.com>... 550 Host unknown (Authoritative answer from name server)
While talking to mx.example.edu:
>>> RCPT To:<cy@example.edu>
<<< 550 <cy@example.edu>... User unknown
550 <cy@example.edu>... User unknown

   ----- Unsent message follows -----
From: news@example.org
To: ann@example.net

hello
`

func TestSendmailTranscriptPerRecipient(t *testing.T) {
	rep, err := Read([]byte(transcript))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]reply.Class{"ann@example.net": reply.Block, "bob@example.com": reply.Hard, "cy@example.edu": reply.Hard}
	if len(rep.Recipients) != len(want) {
		t.Fatalf("%d recipients, want %d: %+v", len(rep.Recipients), len(want), rep.Recipients)
	}
	for _, d := range rep.Recipients {
		if d.Class != want[d.Recipient] {
			t.Errorf("%s: %s (%q), want %s", d.Recipient, d.Class, d.Diagnostic, want[d.Recipient])
		}
	}
}

func TestQuotedRemoteReplyAndGreeting(t *testing.T) {
	for _, tc := range []struct {
		diag  string
		class reply.Class
		code  int
	}{
		// Amazon SES quotes the remote reply inside its own summary.
		{"smtp; 5.1.0 - Unknown address error 550-'5.7.1 <bounce@bounces.example.org>... Access denied' (delivery attempts: 0)", reply.Block, 550},
		{"smtp; 5.1.0 - Unknown address error 550-'5.1.1 <ann@example.net>... User unknown' (delivery attempts: 0)", reply.Hard, 550},
		// A greeting continuation pasted before the refusal.
		{"smtp; 220-mx.example.net 421 4.3.2 Service not available, closing channel", reply.Soft, 421},
	} {
		d, _ := classifyWithStatus(tc.diag, "")
		if d.Class != tc.class || d.Code != tc.code {
			t.Errorf("%q: %s %d, want %s %d", tc.diag, d.Class, d.Code, tc.class, tc.code)
		}
	}
}

func TestJapaneseCharsets(t *testing.T) {
	text := "\u9001\u4fe1\u5148\u306e\u30e1\u30fc\u30eb\u30dc\u30c3\u30af\u30b9\u304c\u4e00\u676f\u306e\u305f\u3081\u3001\u9001\u4fe1\u3067\u304d\u307e\u305b\u3093\u3067\u3057\u305f\u3002\n<ann@example.jp>\n"
	for _, cs := range []struct {
		name string
		enc  encoding.Encoding
	}{{"ISO-2022-JP", japanese.ISO2022JP}, {"Shift_JIS", japanese.ShiftJIS}, {"EUC-JP", japanese.EUCJP}} {
		body, err := cs.enc.NewEncoder().String(text)
		if err != nil {
			t.Fatal(err)
		}
		msg := "From: MAILER-DAEMON@mx.example.jp\nTo: news@example.org\nSubject: Mail error\n" +
			"Content-Type: text/plain; charset=\"" + cs.name + "\"\n\n" + body
		rep, err := Read([]byte(msg))
		if err != nil || len(rep.Recipients) != 1 {
			t.Fatalf("%s: %d recipients, %v", cs.name, len(rep.Recipients), err)
		}
		if d := rep.Recipients[0]; d.Recipient != "ann@example.jp" || d.Class != reply.Soft || d.Reason != outcome.MailboxFull {
			t.Errorf("%s: %s %s/%s, want ann@example.jp soft/mailbox_full", cs.name, d.Recipient, d.Class, d.Reason)
		}
	}
	// Text already in UTF-8 under a Japanese label is left as it is.
	if got := decodeJapanese("Shift_JIS", []byte(text)); string(got) != text {
		t.Errorf("UTF-8 text under a Shift_JIS label changed: %q", got)
	}
}

func TestPowerMTACategory(t *testing.T) {
	msg := "From: mailer-daemon@mta.example.org\nTo: news@example.org\nSubject: Delivery report\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n" +
		"--b\nContent-Type: text/plain\n\nThis is a delivery status notification.\n\n" +
		"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mta.example.org\n\n" +
		"Final-Recipient: rfc822;ann@example.net\nAction: failed\nStatus: 5.0.0 (undefined status)\n" +
		"X-PowerMTA-BounceCategory: bad-mailbox\n\n" +
		"Final-Recipient: rfc822;bob@example.com\nAction: failed\nStatus: 5.0.0 (undefined status)\n" +
		"Diagnostic-Code: smtp;552 5.2.2 Mailbox full\nX-PowerMTA-BounceCategory: bad-mailbox\n\n--b--\n"
	rep, err := Read([]byte(msg))
	if err != nil || len(rep.Recipients) != 2 {
		t.Fatalf("%d recipients, %v", len(rep.Recipients), err)
	}
	// The category fills in when the reply says nothing; a reply that says
	// something outranks it.
	if d := rep.Recipients[0]; d.Class != reply.Hard || d.Reason != outcome.MailboxNotFound {
		t.Errorf("no diagnostic, bad-mailbox: %s/%s", d.Class, d.Reason)
	}
	if d := rep.Recipients[1]; d.Class != reply.Soft || d.Reason != outcome.MailboxFull {
		t.Errorf("552 5.2.2 Mailbox full, bad-mailbox: %s/%s", d.Class, d.Reason)
	}
}

// A pipelined Sendmail transcript: the replies come in a row after the
// commands, so the command before the refusal is not the one it answers.
func TestPipelinedTranscript(t *testing.T) {
	msg := `From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.org>
To: news@example.org
Subject: Returned mail: see transcript for details

   ----- Transcript of session follows -----
... while talking to mx.example.net.:
>>> MAIL From:<news@example.org> SIZE=1200
>>> RCPT To:<ann@example.net>
>>> DATA
<<< 250 2.1.0 Sender ok
<<< 550 5.1.1 <ann@example.net>... User unknown
<<< 503 5.0.0 Need RCPT (recipient)
550 5.1.1 <ann@example.net>... User unknown
`
	rep, err := Read([]byte(msg))
	if err != nil || len(rep.Recipients) != 1 {
		t.Fatalf("%d recipients, %v", len(rep.Recipients), err)
	}
	if d := rep.Recipients[0]; d.Class != reply.Hard {
		t.Errorf("%s: %s (%q), want hard", d.Recipient, d.Class, d.Diagnostic)
	}
}

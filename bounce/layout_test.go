package bounce

import (
	"testing"

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

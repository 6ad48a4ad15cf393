package bounce_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/preflight-email/preflight/bounce"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
	"github.com/preflight-email/preflight/suppression"
)

func ExampleRead() {
	msg := []byte("From: MAILER-DAEMON@mx.example.org\r\n" +
		"To: news@sender.example\r\n" +
		"Subject: failure notice\r\n" +
		"\r\n" +
		"Hi. This is the qmail-send program at mx.example.org.\r\n" +
		"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n" +
		"\r\n" +
		"<gone@example.com>:\r\n" +
		"192.0.2.1 does not like recipient.\r\n" +
		"Remote host said: 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown\r\n" +
		"\r\n" +
		"<full@example.com>:\r\n" +
		"Remote host said: 552 5.2.2 Mailbox full\r\n")
	rep, err := bounce.Read(msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range rep.Recipients {
		fmt.Println(d.Format, d.Recipient, d.Class, d.Reason, d.Enhanced, d.Action)
	}
	// Output:
	// qmail gone@example.com hard mailbox_not_found 5.1.1 suppress
	// qmail full@example.com soft mailbox_full 5.2.2 retry
}

func ExampleRead_complaint() {
	msg := []byte("From: fbl@isp.example\n" +
		"Subject: complaint\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n" +
		"\n" +
		"--b\n" +
		"Content-Type: message/feedback-report\n" +
		"\n" +
		"Feedback-Type: abuse\n" +
		"User-Agent: FBL/1.0\n" +
		"Version: 1\n" +
		"Original-Rcpt-To: reader@example.net\n" +
		"--b--\n")
	rep, _ := bounce.Read(msg)
	d := rep.Recipients[0]
	fmt.Println(rep.Format, d.Recipient, d.Class, d.Reason, d.Action, d.FeedbackType)
	// Output: arf reader@example.net unknown complained suppress abuse
}

// memSink is a stand-in for *suppression.List: it suppresses hard bounces
// and complaints and remembers event IDs.
type memSink struct{ seen map[string]bool }

func (s *memSink) Ingest(_ context.Context, evs []suppression.Event) ([]suppression.Applied, error) {
	out := make([]suppression.Applied, len(evs))
	for i, e := range evs {
		dup := s.seen[e.ID]
		s.seen[e.ID] = true
		out[i] = suppression.Applied{Email: e.Email, Class: e.Diagnosis.Class, Reason: e.Diagnosis.Reason, Duplicate: dup,
			Suppressed: e.Diagnosis.Class == reply.Hard || e.Diagnosis.Reason == outcome.Complained}
	}
	return out, nil
}

func ExampleIngestPath() {
	bounceMsg := "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <b1@mx.example.org>\n\n" +
		"<gone@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command)\n"
	fsys := fstest.MapFS{
		"Maildir/new/1": {Data: []byte(bounceMsg)},
		"Maildir/cur/2": {Data: []byte("From: a@example.com\nSubject: lunch?\n\nNoon?\n")},
	}
	sink := &memSink{seen: map[string]bool{}}
	for run := 1; run <= 2; run++ {
		s, err := bounce.IngestPath(context.Background(), sink, fsys, "Maildir", nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("run %d: read %d, suppressed %d, duplicates %d, not bounces %d\n", run, s.Read, s.Suppressed, s.Duplicates, s.NotBounces)
	}
	// Output:
	// run 1: read 1, suppressed 1, duplicates 0, not bounces 1
	// run 2: read 1, suppressed 0, duplicates 1, not bounces 1
}

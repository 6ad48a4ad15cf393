package bounce

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// TestFormats reads real corpus messages of each layout, and damaged
// copies of some, and checks the format, the recipients and their classes.
func TestFormats(t *testing.T) {
	crOnly := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r")) }
	crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	dropLines := func(prefix string) func([]byte) []byte {
		return func(b []byte) []byte {
			var out [][]byte
			for _, l := range bytes.Split(b, []byte("\n")) {
				if !bytes.HasPrefix(bytes.ToLower(l), []byte(prefix)) {
					out = append(out, l)
				}
			}
			return bytes.Join(out, []byte("\n"))
		}
	}
	// foldFields folds every DSN field after its name, as broken MTAs do.
	foldFields := func(b []byte) []byte {
		for _, f := range []string{"Final-Recipient:", "Status:", "Diagnostic-Code:", "Action:"} {
			b = bytes.ReplaceAll(b, []byte(f+" "), []byte(f+"\n\t"))
		}
		return b
	}
	// latin1 turns the notification's charset into a wrong one.
	wrongCharset := func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte("charset=us-ascii"), []byte("charset=x-unknown-8bit"))
	}
	tests := []struct {
		file    string
		damage  func([]byte) []byte
		format  Format
		classes []reply.Class
	}{
		{file: "lhost-postfix-02.eml", format: Postfix, classes: []reply.Class{reply.Hard, reply.Hard}},
		{file: "lhost-postfix-02.eml", damage: crOnly, format: Postfix, classes: []reply.Class{reply.Hard, reply.Hard}},
		{file: "lhost-postfix-02.eml", damage: crlf, format: Postfix, classes: []reply.Class{reply.Hard, reply.Hard}},
		{file: "lhost-postfix-02.eml", damage: foldFields, format: Postfix, classes: []reply.Class{reply.Hard, reply.Hard}},
		{file: "lhost-sendmail-01.eml", format: Sendmail, classes: []reply.Class{reply.Hard}},
		// Without its Diagnostic-Code the reason is in the human part.
		{file: "lhost-sendmail-01.eml", damage: dropLines("diagnostic-code:"), format: Sendmail, classes: []reply.Class{reply.Hard}},
		{file: "lhost-qmail-03.eml", format: Qmail, classes: []reply.Class{reply.Block}},
		{file: "lhost-qmail-08.eml", format: Qmail, classes: []reply.Class{reply.Soft}},
		{file: "lhost-exim-01.eml", format: Exim, classes: []reply.Class{reply.Block}},
		{file: "lhost-exim-01.eml", damage: wrongCharset, format: Exim, classes: []reply.Class{reply.Block}},
		{file: "lhost-gmail-03.eml", format: Gmail},
		{file: "lhost-yahoo-01.eml", format: Yahoo, classes: []reply.Class{reply.Hard}},
		{file: "lhost-exchange2007-01.eml", format: Exchange},
		{file: "lhost-office365-01.eml", format: Office365},
		{file: "lhost-amazonses-10.eml", format: AmazonSES, classes: []reply.Class{reply.Hard}},
		{file: "lhost-amazonses-12.eml", format: AmazonSES, classes: []reply.Class{reply.Unknown}},
		{file: "lhost-amazonworkmail-01.eml", format: WorkMail},
		{file: "lhost-opensmtpd-01.eml", format: OpenSMTPD},
		{file: "lhost-googlegroups-14.eml", format: GoogleGroup, classes: []reply.Class{reply.Block}},
		{file: "arf-16.eml", format: ARF, classes: []reply.Class{reply.Unknown, reply.Unknown, reply.Unknown, reply.Unknown, reply.Unknown, reply.Unknown, reply.Unknown}},
		{file: "arf-22.eml", format: ARF, classes: []reply.Class{reply.Unknown}},
		{file: "rfc3834-02.eml", format: AutoReply, classes: []reply.Class{reply.Unknown}},
		{file: "rfc3834-02.eml", damage: crOnly, format: AutoReply, classes: []reply.Class{reply.Unknown}},
		{file: "lhost-ezweb-02.eml", format: JapanMobile},
		// Named by who sent the bounce, not by the MTA words it used or
		// the servers in its Received lines.
		{file: "lhost-dragonfly-01.eml", format: DragonFly, classes: []reply.Class{reply.Block}},
		{file: "lhost-exchange2003-01.eml", format: Exchange, classes: []reply.Class{reply.Hard}},
		{file: "lhost-yandex-01.eml", format: Yandex},
		{file: "lhost-mailru-01.eml", format: MailRu},
		{file: "lhost-aol-06.eml", format: Yahoo},
		{file: "lhost-outlook-01.eml", format: Office365},
		{file: "lhost-messagingserver-01.eml", format: MessagingServer, classes: []reply.Class{reply.Hard}},
		{file: "lhost-powermta-01.eml", format: PowerMTA},
		{file: "rhost-cox-01.eml", format: Postfix, classes: []reply.Class{reply.Block, reply.Block}}, // two bounces glued together
	}
	for _, tc := range tests {
		name := tc.file
		if tc.damage != nil {
			name += "/damaged"
		}
		t.Run(name, func(t *testing.T) {
			b := corpusFile(t, tc.file)
			if tc.damage != nil {
				b = tc.damage(b)
			}
			rep, err := Read(b)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != tc.format {
				t.Errorf("format %s, want %s", rep.Format, tc.format)
			}
			if len(rep.Recipients) == 0 {
				t.Fatal("no recipients")
			}
			for i, d := range rep.Recipients {
				if !strings.Contains(d.Recipient, "@") {
					t.Errorf("recipient %d: %q is not an address", i, d.Recipient)
				}
				if d.Explanation == "" && d.Class != reply.Unknown {
					t.Errorf("recipient %d: no explanation", i)
				}
				if d.Class == reply.Hard && d.Action != reply.Suppress || d.Class == reply.Block && d.Action != reply.FixSender {
					t.Errorf("recipient %d: class %s with action %s", i, d.Class, d.Action)
				}
			}
			if tc.classes != nil {
				if len(rep.Recipients) != len(tc.classes) {
					t.Fatalf("%d recipients, want %d", len(rep.Recipients), len(tc.classes))
				}
				for i, c := range tc.classes {
					if d := rep.Recipients[i]; d.Class != c {
						t.Errorf("recipient %d (%s): class %s, want %s: %q", i, d.Recipient, d.Class, c, d.Diagnostic)
					}
				}
			}
		})
	}
}

// TestComplaintAndAutoReply pins the contract for what is not a bounce.
func TestComplaintAndAutoReply(t *testing.T) {
	rep, err := Read(corpusFile(t, "arf-01.eml"))
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Recipients[0]
	if d.Reason != outcome.Complained || d.Class != reply.Unknown || d.Action != reply.Suppress || d.FeedbackType != "abuse" {
		t.Errorf("ARF: %+v", d)
	}
	rep, err = Read(corpusFile(t, "rfc3834-03.eml"))
	if err != nil {
		t.Fatal(err)
	}
	d = rep.Recipients[0]
	if d.Class != reply.Unknown || d.Action != reply.Review || d.Recipient != "kijitora@apple.example.com" {
		t.Errorf("auto-reply: %+v", d)
	}
	// Apple Mail's unsubscribe message is the recipient's opt-out.
	rep, err = Read(corpusFile(t, "arf-26.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Recipients[0]; rep.Format != ARF || d.Recipient != "example@icloud.com" || d.Reason != outcome.Complained || d.Action != reply.Suppress {
		t.Errorf("Apple unsubscribe: %s %+v", rep.Format, d)
	}
	// An out-of-office reply in Spanish without Auto-Submitted: the
	// subject says it, and the colleague it names is no failed recipient.
	rep, err = Read([]byte("Received: by mx.example.org (Postfix)\nFrom: Marta <marta@example.es>\nTo: citas@example.org\nSubject: Fuera de la oficina: su cita\n\n" +
		"Estoy fuera de la oficina hasta el lunes. Para asuntos urgentes escriba a recepcion@example.es.\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Recipients[0]; rep.Format != AutoReply || d.Recipient != "marta@example.es" || d.Action != reply.Review {
		t.Errorf("Spanish auto-reply: %s %+v", rep.Format, d)
	}
}

// TestReadRefuses: what is not a bounce is refused, not guessed at.
func TestReadRefuses(t *testing.T) {
	for _, in := range []string{
		"",
		"   \n\n",
		"From: a@example.com\nTo: b@example.org\nSubject: lunch\n\nSee you at noon, c@example.net.\n",
		"no header at all",
		// A person's reply that passed through Postfix and talks of an
		// undeliverable parcel: our own address, quoted, is no failed
		// recipient.
		"Received: from mx.example.org (Postfix) with ESMTPS id 4W\nFrom: Gary <gary@example.co.uk>\nTo: news@example.org\nSubject: Re: Mail delivery and returns\n" +
			"In-Reply-To: <offer-1@example.org>\n\nWhat is your returns policy? The last parcel was undeliverable for a week.\n\n" +
			"On Wed, Example Tools <news@example.org> wrote:\n> July offers\n",
		// A read receipt.
		"Received: by mx.example.org (Postfix)\nFrom: Rolf <rolf@example.se>\nTo: sales@example.org\nSubject: Read: quote 4411\n\nYour message to rolf@example.se was read on Monday.\n",
	} {
		if _, err := Read([]byte(in)); !errors.Is(err, ErrNotBounce) && !errors.Is(err, ErrEmpty) {
			t.Errorf("%q: err %v", in, err)
		}
	}
}

// nested builds a message nested depth multiparts deep.
func nested(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n")
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n", i, i+1)
	}
	b.WriteString("--b" + fmt.Sprint(depth) + "\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@example.com\nAction: failed\nStatus: 5.1.1\n\n")
	return b.Bytes()
}

// TestLimits: deep nesting, many parts and huge input end quickly, and
// what is within the limits is still read.
func TestLimits(t *testing.T) {
	if rep, err := Read(nested(maxDepth - 1)); err != nil || rep.Recipients[0].Class != reply.Hard {
		t.Errorf("nesting within the limit: %+v %v", rep, err)
	}
	var many bytes.Buffer
	many.WriteString("Content-Type: multipart/mixed; boundary=x\n\n")
	for i := 0; i < 100000; i++ {
		many.WriteString("--x\n\nsome text\n")
	}
	huge := append([]byte("From: MAILER-DAEMON@example.org\nSubject: failure notice\n\n<x@example.com>:\n550 5.1.1 user unknown\n\n"), bytes.Repeat([]byte("A very long returned message line.\n"), 2*MaxSize/34)...)
	var rcpts bytes.Buffer
	rcpts.WriteString("From: MAILER-DAEMON@example.org\nSubject: failure notice\n\n")
	for i := 0; rcpts.Len() < MaxSize; i++ {
		fmt.Fprintf(&rcpts, "<user%d@example.com>:\n550 5.1.1 user unknown\n\n", i)
	}
	folded := append([]byte("From: MAILER-DAEMON@example.org\nSubject: x"), bytes.Repeat([]byte("\n y"), MaxSize/3)...)
	dsnFolded := append([]byte("Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.com\nDiagnostic-Code: smtp; 550"), bytes.Repeat([]byte("\n y"), MaxSize/3)...)
	for name, in := range map[string][]byte{
		"folded header": folded,
		"folded dsn":    dsnFolded,
		"recipients":    rcpts.Bytes(),
		"deep":          nested(100000),
		"parts":         many.Bytes(),
		"huge":          huge,
		"base64 bomb": []byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Transfer-Encoding: base64\n\n" +
			strings.Repeat("QUFB", MaxSize/4) + "\n--x--\n"),
	} {
		start := time.Now()
		rep, err := Read(in)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: %v", name, d)
		}
		t.Logf("%s: %d bytes, %d recipients, err %v", name, len(in), len(rep.Recipients), err)
	}
	if rep, err := Read(huge); err != nil || len(rep.Recipients) != 1 || rep.Recipients[0].Class != reply.Hard {
		t.Errorf("huge: %+v %v", rep, err)
	}
}

// FuzzRead: Read never panics, on any input, and stays within its limits.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/eml/*.eml")
	for i, p := range files {
		if i%20 == 0 {
			f.Add(corpusFile(f, filepath.Base(p)))
		}
	}
	f.Add(nested(20))
	f.Add([]byte("Content-Type: multipart/report; boundary=\"\"\n\n--\n--\n"))
	f.Add([]byte("Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Read(b)
		if err == nil && len(rep.Recipients) == 0 {
			t.Fatal("no error and no recipient")
		}
		for _, d := range rep.Recipients {
			if len(d.Diagnostic) > maxDiagnostic+100 {
				t.Fatalf("diagnostic of %d bytes", len(d.Diagnostic))
			}
		}
	})
}

// BenchmarkRead reads the whole corpus; ns/op is per message.
func BenchmarkRead(b *testing.B) {
	files, err := filepath.Glob("testdata/eml/*.eml")
	if err != nil || len(files) == 0 {
		b.Fatal("no corpus")
	}
	msgs := make([][]byte, len(files))
	total := 0
	for i, p := range files {
		msgs[i] = corpusFile(b, filepath.Base(p))
		total += len(msgs[i])
	}
	Read(msgs[0]) // build the classifier outside the timing
	b.SetBytes(int64(total / len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Read(msgs[i%len(msgs)])
	}
}

// TestLineEndingsInvariant reads every corpus message with LF, CRLF and
// lone-CR line ends: the recipients and their classes must not change.
func TestLineEndingsInvariant(t *testing.T) {
	files, _ := filepath.Glob("testdata/eml/*.eml")
	heldOut := loadHeldOut(t)
	for _, p := range files {
		name := filepath.Base(p)
		if *tuneOnly && heldOut[name] {
			continue
		}
		lf := bytes.ReplaceAll(bytes.ReplaceAll(corpusFile(t, name), []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		want, werr := Read(lf)
		for _, v := range []struct {
			eol string
			b   []byte
		}{{"CRLF", bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))}, {"CR", bytes.ReplaceAll(lf, []byte("\n"), []byte("\r"))}} {
			got, gerr := Read(v.b)
			if (werr == nil) != (gerr == nil) || len(got.Recipients) != len(want.Recipients) {
				t.Errorf("%s %s: %d recipients (err %v), with LF %d (err %v)", name, v.eol, len(got.Recipients), gerr, len(want.Recipients), werr)
				continue
			}
			for i := range got.Recipients {
				g, w := got.Recipients[i], want.Recipients[i]
				if g.Recipient != w.Recipient || g.Class != w.Class || g.Reason != w.Reason {
					t.Errorf("%s %s #%d: %s %s/%s, with LF %s %s/%s", name, v.eol, i, g.Recipient, g.Class, g.Reason, w.Recipient, w.Class, w.Reason)
				}
			}
		}
	}
}

// dropDiagnosticCode removes every Diagnostic-Code field (with its folded
// lines) from a message.
func dropDiagnosticCode(b []byte) []byte {
	var out [][]byte
	skipping := false
	for _, l := range bytes.Split(b, []byte("\n")) {
		if skipping && len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			continue
		}
		skipping = bytes.HasPrefix(bytes.ToLower(l), []byte("diagnostic-code:"))
		if !skipping {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// TestWithoutDiagnosticCode reads the corpus with every Diagnostic-Code
// removed: every message must still be read, and the reasons left in the
// human-readable parts must keep most classes right.
func TestWithoutDiagnosticCode(t *testing.T) {
	damaged := func(b []byte) ([]got, error) { return readNew(dropDiagnosticCode(b)) }
	tuned, held := measure(t, damaged)
	for _, x := range []struct {
		name string
		t    *tally
	}{{"tuned", tuned}, {"held-out", held}} {
		if *showHeld || x.name == "tuned" {
			t.Logf("%s part without Diagnostic-Code: read %d/%d, right %d/%d (%.1f%%), dangerous %d",
				x.name, x.t.read, x.t.msgs, x.t.right, x.t.rcpts, pct(x.t.right, x.t.rcpts), x.t.dangerous)
		}
		if x.t.read < x.t.msgs {
			t.Errorf("%s: %d of %d messages not read without Diagnostic-Code", x.name, x.t.msgs-x.t.read, x.t.msgs)
		}
	}
}

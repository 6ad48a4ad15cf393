package bounce

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
)

func newList(t *testing.T) *suppression.List {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "preflight.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := suppression.New(ctx, db, suppression.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func corpusFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "eml", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIngestMaildirTwice ingests the same Maildir twice: the second run
// finds every recipient a duplicate and suppresses nothing more.
func TestIngestMaildirTwice(t *testing.T) {
	l := newList(t)
	fsys := fstest.MapFS{
		"Maildir/new/1.eml":        {Data: corpusFile(t, "lhost-postfix-02.eml")},
		"Maildir/new/2.eml":        {Data: corpusFile(t, "lhost-qmail-03.eml")},
		"Maildir/cur/3.eml:2,S":    {Data: corpusFile(t, "arf-01.eml")},
		"Maildir/cur/4.eml:2,S":    {Data: corpusFile(t, "rfc3834-02.eml")},
		"Maildir/cur/5.eml:2,S":    {Data: []byte("From: a@example.com\nSubject: hello\n\nJust a note.\n")},
		"Maildir/cur/6.eml:2,S":    {Data: []byte{}},
		"Maildir/tmp/7.eml":        {Data: corpusFile(t, "lhost-exim-01.eml")},
		"Maildir/new/.hidden.eml":  {Data: corpusFile(t, "lhost-exim-01.eml")},
		"Maildir/cur/8-crlf.eml:2": {Data: bytes.ReplaceAll(corpusFile(t, "lhost-sendmail-01.eml"), []byte("\n"), []byte("\r\n"))},
	}
	ctx := context.Background()
	var calls int
	first, err := IngestPath(ctx, l, fsys, "Maildir", func(s Summary, done, total int64) {
		calls++
		if done > total {
			t.Errorf("progress %d of %d", done, total)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first run: %+v", first)
	if first.Messages != 7 || calls != 7 {
		t.Errorf("messages %d, progress calls %d, want 7 (tmp/ and dot files skipped)", first.Messages, calls)
	}
	if first.Suppressed < 3 || first.Complaints != 1 || first.NotBounces != 2 || first.Unreadable != 1 || first.Duplicates != 0 {
		t.Errorf("first run %+v: want >=3 suppressed, 1 complaint, 2 not bounces, 1 unreadable, 0 duplicates", first)
	}
	second, err := IngestPath(ctx, l, fsys, "Maildir", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second run: %+v", second)
	if second.Suppressed != 0 || second.Duplicates != first.Recipients {
		t.Errorf("second run %+v: want 0 suppressed and %d duplicates", second, first.Recipients)
	}
}

// TestApplyComplaint: an ARF report suppresses its recipient as complained.
func TestApplyComplaint(t *testing.T) {
	l := newList(t)
	ctx := context.Background()
	o, err := Apply(ctx, l, corpusFile(t, "arf-16.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Report.Format != ARF || len(o.Applied) != 7 {
		t.Fatalf("format %s, %d applied; want arf, 7", o.Report.Format, len(o.Applied))
	}
	for _, a := range o.Applied {
		if !a.Suppressed || a.Reason != outcome.Complained || a.Class != reply.Unknown {
			t.Errorf("%s: suppressed %v, reason %s, class %s; want suppressed, complained, unknown", a.Email, a.Suppressed, a.Reason, a.Class)
		}
	}
	e, ok, err := l.Lookup(ctx, "kijitora@example.com")
	if err != nil || !ok || e.Reason != outcome.Complained {
		t.Fatalf("lookup: %+v %v %v; want suppressed as complained", e, ok, err)
	}
}

// TestApplyAutoReply: an auto-reply is read but suppresses nothing.
func TestApplyAutoReply(t *testing.T) {
	l := newList(t)
	ctx := context.Background()
	for _, name := range []string{"rfc3834-02.eml", "rfc3834-03.eml", "rfc3834-04.eml"} {
		o, err := Apply(ctx, l, corpusFile(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.Report.Format != AutoReply || len(o.Applied) != 0 || len(o.Skipped) != 1 {
			t.Fatalf("%s: format %s, %d applied, %d skipped; want autoreply, 0, 1", name, o.Report.Format, len(o.Applied), len(o.Skipped))
		}
		d := o.Skipped[0]
		if d.Class != reply.Unknown || d.Action != reply.Review {
			t.Errorf("%s: class %s action %s, want unknown/review", name, d.Class, d.Action)
		}
		if _, ok, _ := l.Lookup(ctx, d.Recipient); ok {
			t.Errorf("%s: %s suppressed by an auto-reply", name, d.Recipient)
		}
	}
}

// TestApplyNotBounce: an ordinary message is refused and writes nothing,
// and so are the mail a bounce mailbox also gets: a person's reply (which
// passed through Postfix and talks of an "undeliverable" parcel), a read
// receipt and an out-of-office reply without Auto-Submitted (testdata/blind).
func TestApplyNotBounce(t *testing.T) {
	l := newList(t)
	ctx := context.Background()
	_, err := Apply(ctx, l, []byte("From: a@example.com\nTo: b@example.org\nSubject: lunch\n\nSee you at noon.\n"))
	if !errors.Is(err, ErrNotBounce) {
		t.Fatalf("err %v, want ErrNotBounce", err)
	}
	for _, name := range []string{"131-human-reply.eml", "130-mdn-read-receipt.eml", "129-autoreply-es.eml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "blind", "eml", name))
		if err != nil {
			t.Fatal(err)
		}
		o, err := Apply(ctx, l, b)
		if err != nil && !errors.Is(err, ErrNotBounce) {
			t.Errorf("%s: %v", name, err)
		}
		if len(o.Applied) != 0 {
			t.Errorf("%s: %d addresses applied, want none: %+v", name, len(o.Applied), o.Applied)
		}
	}
	var csv bytes.Buffer
	if err := l.Export(ctx, &csv); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(csv.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("export has %d lines, want the header only:\n%s", n, csv.String())
	}
}

// TestWalkMbox splits an mbox and undoes ">From " quoting.
func TestWalkMbox(t *testing.T) {
	var mbox bytes.Buffer
	for _, name := range []string{"lhost-postfix-02.eml", "lhost-qmail-03.eml", "arf-01.eml"} {
		mbox.WriteString("From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n")
		mbox.Write(corpusFile(t, name))
		mbox.WriteString("\n>From the quoted line\n\n")
	}
	fsys := fstest.MapFS{"mbox": {Data: mbox.Bytes()}}
	var got []Message
	if err := Walk(fsys, "mbox", func(m Message) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d messages, want 3", len(got))
	}
	for _, m := range got {
		if bytes.Contains(m.Data, []byte(">From the quoted")) || !bytes.Contains(m.Data, []byte("\nFrom the quoted")) {
			t.Errorf("%s: >From quoting not undone", m.Name)
		}
		if _, err := Read(m.Data); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	if got[2].Done != int64(mbox.Len()) || got[2].Total != int64(mbox.Len()) {
		t.Errorf("progress %d/%d, want %d", got[2].Done, got[2].Total, mbox.Len())
	}
}

// TestKey: the Message-ID is the key; without one, the content hash,
// the same for CRLF and LF line ends.
func TestKey(t *testing.T) {
	if k := Key([]byte("Message-ID: <abc@example.com>\n\nx\n")); k != "mid:abc@example.com" {
		t.Errorf("key %q", k)
	}
	lf := Key([]byte("Subject: x\n\nbody\n"))
	crlf := Key([]byte("Subject: x\r\n\r\nbody\r\n"))
	if lf != crlf || lf[:7] != "sha256:" {
		t.Errorf("keys %q %q", lf, crlf)
	}
}

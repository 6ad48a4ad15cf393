package smtpwire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// replyGolden is what readReply made of one input.
type replyGolden struct {
	Code     int      `json:"code"`
	Enhanced string   `json:"enhanced"`
	Text     string   `json:"text"`
	Lines    []string `json:"lines,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// readerConn is a Conn that reads from s and writes nowhere.
func readerConn(s string) *Conn {
	return &Conn{r: bufio.NewReaderSize(strings.NewReader(s), readBufferSize)}
}

// TestReadReply reads each raw reply under testdata/replies/*.txt and
// compares the result with its .golden file. Run with -update to rewrite
// the golden files after a deliberate change.
func TestReadReply(t *testing.T) {
	inputs, err := filepath.Glob("testdata/replies/*.txt")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			c := readerConn(string(raw))
			r, err := c.readReply()
			got := replyGolden{Code: r.Code, Enhanced: r.Enhanced, Text: r.Text}
			if err != nil {
				got = replyGolden{Error: err.Error()}
			} else if len(c.lines) > 1 {
				got.Lines = c.lines
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			golden := strings.TrimSuffix(in, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("got\n%s\nwant\n%s", b, want)
			}
		})
	}
}

// TestReplyErrors checks that hostile and broken replies map to the
// typed errors, whatever the golden files say.
func TestReplyErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"250 " + strings.Repeat("x", maxLineLen) + "\r\n", ErrLineTooLong},
		{strings.Repeat("250-x\r\n", maxReplyLines) + "250 x\r\n", ErrTooManyLines},
		{"250-a\r\n251 b\r\n", ErrMalformedReply},
		{"abc\r\n", ErrMalformedReply},
		{"25\r\n", ErrMalformedReply},
		{"650 too high\r\n", ErrMalformedReply},
		{" 250 indented\r\n", ErrMalformedReply},
		{"2500 four digits\r\n", ErrMalformedReply},
		{"250-a\r\n", io.EOF},
		{"", io.EOF},
	}
	for _, tc := range tests {
		if _, err := readerConn(tc.in).readReply(); !errors.Is(err, tc.want) {
			name := tc.in
			if len(name) > 40 {
				name = name[:40] + "..."
			}
			t.Errorf("%q: err = %v, want %v", name, err, tc.want)
		}
	}
}

// TestNoDATA checks the rule the package is built around: the wire never
// sends DATA. It writes only allowed verbs, no argument smuggles a second
// command, and no string in the package's code spells DATA or BDAT.
func TestNoDATA(t *testing.T) {
	for _, v := range []string{"DATA", "BDAT", "data", "VRFY", "EXPN", "AUTH", "TURN", "ETRN"} {
		if allowedVerb(v) {
			t.Errorf("allowedVerb(%q) = true", v)
		}
	}
	server, conn := net.Pipe()
	defer server.Close()
	c := NewConn(t.Context(), conn, Options{CommandTimeout: time.Second})
	written := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		written <- b
	}()
	for _, v := range []string{"DATA", "BDAT"} {
		if _, err := c.cmd("test", v, ""); !errors.Is(err, errVerbNotAllowed) {
			t.Errorf("cmd(%s): err = %v, want errVerbNotAllowed", v, err)
		}
	}
	if _, err := c.Rcpt("a@b.c>\r\nDATA"); !errors.Is(err, ErrBadArgument) {
		t.Errorf("RCPT with CRLF: err = %v, want ErrBadArgument", err)
	}
	c.Close()
	if b := <-written; len(b) != 0 {
		t.Errorf("client wrote %q", b)
	}

	// That no string of the wire's code spells DATA or BDAT is checked
	// with the probe's own files, by probe's TestNoDATA.
}

func TestRcptMax(t *testing.T) {
	for limits, want := range map[string]int{
		"RCPTMAX=50":                50,
		"MAILMAX=10 RCPTMAX=5":      5,
		"rcptmax=7":                 7,
		"MAILMAX=10":                0,
		"RCPTMAX=abc":               0,
		"RCPTMAX=99999999999999999": 0,
	} {
		c := &Conn{ext: map[string]string{"LIMITS": limits}}
		if got := c.RcptMax(); got != want {
			t.Errorf("LIMITS %s: RcptMax = %d, want %d", limits, got, want)
		}
	}
}

// dialFake connects to a fake on loopback and wraps the connection.
func dialFake(t *testing.T, addr string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(ctx, conn, Options{ServerName: "mx.test", BannerTimeout: time.Second, CommandTimeout: 2 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSession walks one session with a fake MX: greeting, EHLO, STARTTLS
// and EHLO again, MAIL, RCPTs that each get their own reply, RSET, NOOP
// and QUIT.
func TestSession(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
		TLS:            true,
		EnableSMTPUTF8: true,
		Replies:        map[string]smtptest.Reply{"jane@example.com": smtptest.Accept()},
	})
	c := dialFake(t, srv.Addr)
	if r, err := c.Greeting(); err != nil || r.Code != 220 {
		t.Fatalf("Greeting: %+v, %v", r, err)
	}
	if err := c.Hello("probe.preflight.test"); err != nil || !c.ESMTP() {
		t.Fatalf("Hello: %v (ESMTP %v)", err, c.ESMTP())
	}
	if _, ok := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not advertised")
	}
	if ok, err := c.StartTLS(testTLSConfig()); !ok || err != nil || !c.TLS() {
		t.Fatalf("StartTLS: %v, %v", ok, err)
	}
	if _, ok := c.Extension("STARTTLS"); ok {
		t.Error("extensions kept across STARTTLS (RFC 3207 §4.2)")
	}
	if err := c.Hello("probe.preflight.test"); err != nil {
		t.Fatalf("Hello after STARTTLS: %v", err)
	}
	if r, err := c.Mail("verify@preflight.test", true); err != nil || r.Code != 250 {
		t.Fatalf("Mail: %+v, %v", r, err)
	}
	if r, err := c.Rcpt("jane@example.com"); err != nil || r.Code != 250 {
		t.Errorf("Rcpt(jane): %+v, %v", r, err)
	}
	// A refusal is an answer, not an error.
	if r, err := c.Rcpt("ghost@example.com"); err != nil || r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Errorf("Rcpt(ghost): %+v, %v", r, err)
	}
	if r, err := c.Rset(); err != nil || r.Code != 250 {
		t.Errorf("Rset: %+v, %v", r, err)
	}
	if r, err := c.Noop(); err != nil || r.Code != 250 {
		t.Errorf("Noop: %+v, %v", r, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
	if srv.UTF8Mails() != 1 || srv.DataAttempts() != 0 {
		t.Errorf("fake: %d SMTPUTF8 MAILs, %d DATA; want 1 and 0", srv.UTF8Mails(), srv.DataAttempts())
	}
}

// TestHELOFallback checks an old server that refuses EHLO.
func TestHELOFallback(t *testing.T) {
	srv := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{Behavior: smtptest.HELOOnly, Default: smtptest.Accept()})
	c := dialFake(t, srv.Addr)
	if _, err := c.Greeting(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("probe.preflight.test"); err != nil || c.ESMTP() {
		t.Fatalf("Hello: %v, ESMTP %v; want HELO", err, c.ESMTP())
	}
	if r, err := c.Rcpt("x@example.com"); err != nil || r.Code != 250 {
		t.Errorf("Rcpt: %+v, %v", r, err)
	}
	c.Quit()
}

// TestGreetingRefused checks that a 421 banner is a typed, temporary
// *ReplyError, and that the connection is then known to be broken.
func TestGreetingRefused(t *testing.T) {
	srv := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{Behavior: smtptest.BannerReject})
	c := dialFake(t, srv.Addr)
	_, err := c.Greeting()
	var re *ReplyError
	if !errors.As(err, &re) || re.Reply.Code != 421 || !re.Temporary() || re.Command != CmdBanner {
		t.Fatalf("Greeting: %v, want a temporary *ReplyError 421", err)
	}
	if !c.Broken() {
		t.Error("not broken after 421")
	}
	if _, err := c.Noop(); !errors.Is(err, ErrBroken) {
		t.Errorf("Noop after 421: %v, want ErrBroken", err)
	}
}

// TestTimeout checks that a tarpit is a timeout *OpError, not a hang.
func TestTimeout(t *testing.T) {
	srv := smtptest.StartRaw(t, "127.0.0.1:0", smtptest.RawOptions{Behavior: smtptest.Tarpit})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(ctx, conn, Options{BannerTimeout: 50 * time.Millisecond})
	defer c.Close()
	_, err = c.Greeting()
	var oe *OpError
	if !errors.As(err, &oe) || !oe.Timeout() || oe.Command != CmdBanner {
		t.Fatalf("Greeting: %v, want a timeout *OpError", err)
	}
}

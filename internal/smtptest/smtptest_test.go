package smtptest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder stands in for the test given to a fake, so that a test can
// check that the fake fails it.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = append(r.fatal, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) got() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...), append([]string(nil), r.fatal...)
}

// inGoroutine runs f where runtime.Goexit (a recorder's Fatalf) cannot end
// the test itself.
func inGoroutine(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// smtpConn is a bare client for talking to the fakes.
type smtpConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialFake(t testing.TB, addr string) *smtpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &smtpConn{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one whole reply, lines joined with "\n".
func (s *smtpConn) reply() (string, error) {
	var lines []string
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return strings.Join(lines, "\n"), err
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n"), nil
		}
	}
}

func (s *smtpConn) cmd(line string) string {
	s.t.Helper()
	if _, err := io.WriteString(s.c, line+"\r\n"); err != nil {
		s.t.Fatalf("write %q: %v", line, err)
	}
	r, err := s.reply()
	if err != nil {
		s.t.Fatalf("reply to %q: %v (got %q)", line, err, r)
	}
	return r
}

func TestReplyLines(t *testing.T) {
	tests := []struct {
		r    Reply
		want []string
	}{
		{Reply{250, "2.1.5", "OK"}, []string{"250 2.1.5 OK"}},
		{Reply{550, "", "No such user"}, []string{"550 No such user"}},
		{Reply{550, "5.1.1", "a\nb\nc"}, []string{"550-5.1.1 a", "550-5.1.1 b", "550 5.1.1 c"}},
		{Reply{421, "4.7.0", ""}, []string{"421 4.7.0 "}},
	}
	for _, tc := range tests {
		if got := tc.r.Lines(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%+v.Lines() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

// TestServerReplies checks what the go-smtp fake puts on the wire.
func TestServerReplies(t *testing.T) {
	srv := Start(t, "127.0.0.1:0", Options{
		Replies: map[string]Reply{
			"Jane@Example.com":  Accept(),
			"ghost@example.com": GmailUserUnknown(),
			"plain@example.com": {Code: 550, Message: "No such user"},
		},
		EnableSMTPUTF8: true,
	})
	c := dialFake(t, srv.Addr)
	if r, _ := c.reply(); !strings.HasPrefix(r, "220 ") {
		t.Fatalf("banner %q", r)
	}
	if r := c.cmd("EHLO client.test"); !strings.Contains(r, "SMTPUTF8") || !strings.Contains(r, "ENHANCEDSTATUSCODES") {
		t.Errorf("EHLO reply %q", r)
	}
	if r := c.cmd("MAIL FROM:<v@client.test> SMTPUTF8"); !strings.HasPrefix(r, "250 ") {
		t.Errorf("MAIL reply %q", r)
	}
	tests := []struct{ rcpt, want string }{
		{"jane@example.com", "250 2.0.0 "},
		{"ghost@example.com", "550-5.1.1 The email account that you tried to reach does not exist. Please try\n" +
			"550-5.1.1 double-checking the recipient's email address for typos or\n" +
			"550-5.1.1 unnecessary spaces. For more information, go to\n" +
			"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1b2c3d4e5f6g7 - gsmtp"},
		{"plain@example.com", "550 No such user"},
		{"other@example.com", "550 5.1.1 User unknown"},
	}
	for _, tc := range tests {
		if r := c.cmd("RCPT TO:<" + tc.rcpt + ">"); !strings.HasPrefix(r, tc.want) {
			t.Errorf("RCPT %s: got %q, want prefix %q", tc.rcpt, r, tc.want)
		}
	}
	c.cmd("QUIT")
	if srv.Rcpts() != 4 || srv.Mails() != 1 || srv.UTF8Mails() != 1 || srv.Sessions() != 1 || srv.Quits() != 1 {
		t.Errorf("counters: rcpts %d mails %d utf8 %d sessions %d quits %d", srv.Rcpts(), srv.Mails(), srv.UTF8Mails(), srv.Sessions(), srv.Quits())
	}
	if got := srv.Recipients(); got[0] != "jane@example.com" {
		t.Errorf("recipients %q", got)
	}
}

// TestServerDataTripwire checks that DATA fails the test, whether go-smtp
// would take it (a recipient was accepted) or not.
func TestServerDataTripwire(t *testing.T) {
	for _, accept := range []bool{true, false} {
		t.Run(fmt.Sprint("accepted=", accept), func(t *testing.T) {
			rec := &recorder{TB: t}
			opt := Options{}
			if accept {
				opt.Default = Accept()
			}
			srv := Start(rec, "127.0.0.1:0", opt)
			c := dialFake(t, srv.Addr)
			c.reply()
			c.cmd("EHLO client.test")
			c.cmd("MAIL FROM:<v@client.test>")
			c.cmd("RCPT TO:<x@example.com>")
			r := c.cmd("DATA")
			if accept && strings.HasPrefix(r, "354") {
				io.WriteString(c.c, "Subject: x\r\n\r\nhello\r\n.\r\n")
				r, _ = c.reply()
			}
			if !strings.HasPrefix(r, "5") {
				t.Errorf("DATA answered %q", r)
			}
			c.cmd("QUIT")
			srv.Close()
			errs, _ := rec.got()
			if len(errs) == 0 || !strings.Contains(errs[0], "fake SMTP server received DATA") {
				t.Errorf("tripwire errors: %q", errs)
			}
			if srv.DataAttempts() == 0 {
				t.Error("DataAttempts = 0")
			}
		})
	}
}

func TestRawDataTripwire(t *testing.T) {
	rec := &recorder{TB: t}
	raw := StartRaw(rec, "127.0.0.1:0", RawOptions{Behavior: HELOOnly, Default: Accept()})
	c := dialFake(t, raw.Addr)
	c.reply()
	if r := c.cmd("EHLO client.test"); !strings.HasPrefix(r, "502") {
		t.Errorf("EHLO: %q", r)
	}
	c.cmd("HELO client.test")
	c.cmd("MAIL FROM:<v@client.test>")
	if r := c.cmd("RCPT TO:<x@example.com>"); !strings.HasPrefix(r, "250 2.1.5") {
		t.Errorf("RCPT: %q", r)
	}
	c.cmd("BDAT 10 LAST")
	c.cmd("QUIT")
	raw.Close()
	if errs, _ := rec.got(); len(errs) != 1 || !strings.Contains(errs[0], "received DATA") {
		t.Errorf("tripwire errors: %q", errs)
	}
}

// TestDropAfterRcpts checks the Postfix-style hang-up.
func TestDropAfterRcpts(t *testing.T) {
	srv := Start(t, "127.0.0.1:0", Options{Default: Accept(), DropAfterRcpts: 2})
	c := dialFake(t, srv.Addr)
	c.reply()
	c.cmd("EHLO client.test")
	c.cmd("MAIL FROM:<v@client.test>")
	c.cmd("RCPT TO:<a@example.com>")
	c.cmd("RCPT TO:<b@example.com>")
	if r := c.cmd("RCPT TO:<c@example.com>"); r != "421 4.7.0 Error: too many errors" {
		t.Errorf("third RCPT: %q", r)
	}
	if r, err := c.reply(); err == nil {
		t.Errorf("connection still open after 421, read %q", r)
	}
}

// TestGreylist checks that the first RCPT of each (sender, recipient)
// pair is greylisted, on any connection, and later ones are not.
func TestGreylist(t *testing.T) {
	srv := Start(t, "127.0.0.1:0", Options{Greylist: true, Replies: map[string]Reply{"jane@example.com": Accept()}})
	const grey = "451 4.7.1 Greylisted, please try again later"
	c := dialFake(t, srv.Addr)
	c.reply()
	c.cmd("EHLO client.test")
	for _, step := range []struct{ cmd, want string }{
		{"MAIL FROM:<v@client.test>", "250"},
		{"RCPT TO:<jane@example.com>", grey},
		{"RCPT TO:<ghost@example.com>", grey},
		{"RCPT TO:<jane@example.com>", "250"},
		{"RCPT TO:<ghost@example.com>", "550 5.1.1 User unknown"},
		{"RSET", "250"},
		{"MAIL FROM:<other@client.test>", "250"},
		{"RCPT TO:<JANE@example.com>", grey}, // a new sender makes a new pair
	} {
		if r := c.cmd(step.cmd); !strings.HasPrefix(r, step.want) {
			t.Errorf("%s: %q, want %q", step.cmd, r, step.want)
		}
	}
	// The pair is remembered across connections.
	c2 := dialFake(t, srv.Addr)
	c2.reply()
	c2.cmd("EHLO client.test")
	c2.cmd("MAIL FROM:<other@client.test>")
	if r := c2.cmd("RCPT TO:<jane@example.com>"); !strings.HasPrefix(r, "250") {
		t.Errorf("second connection: %q, want 250", r)
	}
	if srv.Greylisted() != 3 {
		t.Errorf("Greylisted = %d, want 3", srv.Greylisted())
	}
	// Five RCPTs on the first session, one on the second, each timed.
	if srv.MaxSessionRcpts() != 5 {
		t.Errorf("MaxSessionRcpts = %d, want 5", srv.MaxSessionRcpts())
	}
	times := srv.RcptTimes()
	if len(times) != 6 || len(srv.Recipients()) != 6 {
		t.Fatalf("%d RCPT times for %d recipients, want 6 and 6", len(times), len(srv.Recipients()))
	}
	for i := 1; i < len(times); i++ {
		if times[i].Before(times[i-1]) {
			t.Errorf("RCPT times out of order: %v", times)
		}
	}
}

// TestRcptsPerTransaction checks the unadvertised recipient limit: it
// counts per transaction, refused recipients included.
func TestRcptsPerTransaction(t *testing.T) {
	srv := Start(t, "127.0.0.1:0", Options{RcptsPerTransaction: 2, Replies: map[string]Reply{"a@example.com": Accept()}})
	c := dialFake(t, srv.Addr)
	c.reply()
	if r := c.cmd("EHLO client.test"); strings.Contains(r, "LIMITS") {
		t.Errorf("limit advertised: %q", r)
	}
	const tooMany = "452 4.5.3 Too many recipients"
	for _, step := range []struct{ cmd, want string }{
		{"MAIL FROM:<v@client.test>", "250"},
		{"RCPT TO:<a@example.com>", "250"},
		{"RCPT TO:<ghost@example.com>", "550"},
		{"RCPT TO:<a@example.com>", tooMany},
		{"RSET", "250"},
		{"MAIL FROM:<v@client.test>", "250"},
		{"RCPT TO:<a@example.com>", "250"},
		{"RCPT TO:<a@example.com>", "250"},
		{"RCPT TO:<a@example.com>", tooMany},
		{"MAIL FROM:<v@client.test>", "250"}, // go-smtp lets a new MAIL start over
		{"RCPT TO:<a@example.com>", "250"},
	} {
		if r := c.cmd(step.cmd); !strings.HasPrefix(r, step.want) {
			t.Errorf("%s: %q, want %q", step.cmd, r, step.want)
		}
	}
}

// TestMaxConcurrent checks the count of sessions open at once: a session
// is over at its QUIT, before the connection closes.
func TestMaxConcurrent(t *testing.T) {
	srv := Start(t, "127.0.0.1:0", Options{})
	for range 3 { // one after the other
		c := dialFake(t, srv.Addr)
		c.reply()
		c.cmd("QUIT")
	}
	if got := srv.MaxConcurrent(); got != 1 {
		t.Errorf("sequential sessions: MaxConcurrent = %d, want 1", got)
	}
	a, b := dialFake(t, srv.Addr), dialFake(t, srv.Addr)
	a.reply()
	b.reply() // both greeted: both open
	if got := srv.MaxConcurrent(); got != 2 {
		t.Errorf("two open sessions: MaxConcurrent = %d, want 2", got)
	}
	a.cmd("QUIT")
	b.c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		srv.mu.Lock()
		open := srv.open
		srv.mu.Unlock()
		if open == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d sessions still counted open after QUIT and hang-up", open)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSessionsPerSecond checks the 421 banner for connections over the rate.
func TestSessionsPerSecond(t *testing.T) {
	srv := Start(t, "127.0.0.1:0", Options{SessionsPerSecond: 0.1})
	first := dialFake(t, srv.Addr)
	if r, _ := first.reply(); !strings.HasPrefix(r, "220 ") {
		t.Errorf("first banner %q", r)
	}
	second := dialFake(t, srv.Addr)
	if r, _ := second.reply(); r != "421 4.7.0 Too many connections, slow down" {
		t.Errorf("second banner %q", r)
	}
	if srv.Conns() != 2 || srv.Rejected() != 1 || srv.Sessions() != 1 {
		t.Errorf("conns %d rejected %d sessions %d", srv.Conns(), srv.Rejected(), srv.Sessions())
	}
}

func TestRawBehaviors(t *testing.T) {
	t.Run("tarpit", func(t *testing.T) {
		raw := StartRaw(t, "127.0.0.1:0", RawOptions{Behavior: Tarpit})
		c := dialFake(t, raw.Addr)
		c.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if r, err := c.reply(); err == nil {
			t.Errorf("tarpit greeted: %q", r)
		}
		c.c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := raw.WaitClosed(ctx, 1); err != nil {
			t.Errorf("WaitClosed: %v", err)
		}
	})
	t.Run("banner reject", func(t *testing.T) {
		raw := StartRaw(t, "127.0.0.1:0", RawOptions{Behavior: BannerReject, Banner: Reply{554, "5.7.1", "go away\nreally"}})
		c := dialFake(t, raw.Addr)
		if r, _ := c.reply(); r != "554-5.7.1 go away\n554 5.7.1 really" {
			t.Errorf("banner %q", r)
		}
	})
	t.Run("drop after EHLO", func(t *testing.T) {
		raw := StartRaw(t, "127.0.0.1:0", RawOptions{Behavior: DropAfterEHLO})
		c := dialFake(t, raw.Addr)
		c.reply()
		io.WriteString(c.c, "EHLO client.test\r\n")
		if r, err := c.reply(); err == nil {
			t.Errorf("got a reply %q", r)
		}
		if cmds := raw.Commands(); len(cmds) != 1 || cmds[0] != "EHLO client.test" {
			t.Errorf("commands %q", cmds)
		}
	})
	t.Run("extra reply", func(t *testing.T) {
		raw := StartRaw(t, "127.0.0.1:0", RawOptions{Behavior: ExtraReply,
			Replies: map[string]Reply{"jane@example.com": Accept()}})
		c := dialFake(t, raw.Addr)
		c.reply()
		if r := c.cmd("EHLO client.test"); !strings.HasPrefix(r, "250-") {
			t.Errorf("EHLO: %q", r)
		}
		c.cmd("MAIL FROM:<a@b.test>")
		if r := c.cmd("RCPT TO:<ghost@example.com>"); r != "550 5.1.1 User unknown" {
			t.Errorf("RCPT ghost: %q", r)
		}
		// The unsolicited reply is next in line, ahead of jane's.
		if r := c.cmd("RCPT TO:<jane@example.com>"); r != "250 2.0.0 OK" {
			t.Errorf("after RCPT ghost: %q, want the extra 250", r)
		}
		if r, _ := c.reply(); r != "250 2.1.5 OK" {
			t.Errorf("RCPT jane: %q", r)
		}
	})
	for _, b := range []Behavior{EndlessLines, EndlessLine} {
		t.Run(fmt.Sprint("endless ", b), func(t *testing.T) {
			raw := StartRaw(t, "127.0.0.1:0", RawOptions{Behavior: b})
			c := dialFake(t, raw.Addr)
			c.reply()
			io.WriteString(c.c, "EHLO client.test\r\n")
			n, _ := io.CopyN(io.Discard, c.c, 4<<20)
			if n != 4<<20 {
				t.Errorf("read %d bytes of the flood", n)
			}
			c.c.Close()
			raw.Close() // must not hang on the flood
		})
	}
}

// TestListen checks shared ports and the loopback-only rule.
func TestListen(t *testing.T) {
	port, lns := Listen(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	for i, ln := range lns {
		want := fmt.Sprintf("127.0.0.%d:%d", i+2, port)
		if ln.Addr().String() != want {
			t.Errorf("listener %d on %s, want %s", i, ln.Addr(), want)
		}
	}
	for _, bad := range []string{"10.0.0.1", "0.0.0.0", "192.168.1.1", "example.com"} {
		rec := &recorder{TB: t}
		inGoroutine(func() { Listen(rec, bad) })
		if _, fatal := rec.got(); len(fatal) != 1 {
			t.Errorf("Listen(%s) did not refuse", bad)
		}
		rec = &recorder{TB: t}
		inGoroutine(func() { Start(rec, bad+":2525", Options{}) })
		if _, fatal := rec.got(); len(fatal) != 1 {
			t.Errorf("Start(%s) did not refuse", bad)
		}
	}
}

func TestBadOptions(t *testing.T) {
	for name, opt := range map[string]Options{
		"code":     {Default: Reply{Code: 700}},
		"enhanced": {Replies: map[string]Reply{"a@b": {Code: 550, Enhanced: "4.1.1"}}},
		"CR":       {Default: Reply{Code: 550, Message: "a\r\nb"}},
	} {
		rec := &recorder{TB: t}
		inGoroutine(func() { Start(rec, "127.0.0.1:0", opt) })
		if _, fatal := rec.got(); len(fatal) != 1 {
			t.Errorf("%s: not refused", name)
		}
	}
}

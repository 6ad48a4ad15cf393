package smtptest

import (
	"io"
	"strings"
	"testing"
	"time"
)

// flightOf writes lines in one write, a flight of pipelined commands, and
// reads one reply for each.
func (s *smtpConn) flightOf(lines ...string) []string {
	s.t.Helper()
	if _, err := io.WriteString(s.c, strings.Join(lines, "\r\n")+"\r\n"); err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for range lines {
		r, err := s.reply()
		if err != nil {
			s.t.Fatalf("reply: %v (got %q)", err, r)
		}
		out = append(out, r)
	}
	return out
}

// TestPipeliningTripwire checks that the fake fails a test on pipelining
// the server did not offer, and on a command after a group-ending one in
// the same flight (RFC 2920 §3.1), and on nothing else.
func TestPipeliningTripwire(t *testing.T) {
	tests := []struct {
		name   string
		opt    Options
		flight []string
		want   string // in the test's error; "" for none
	}{
		{"pipelined", Options{}, []string{"MAIL FROM:<v@client.test>", "RCPT TO:<a@example.com>", "RCPT TO:<b@example.com>"}, ""},
		{"rset first", Options{}, []string{"RSET", "MAIL FROM:<v@client.test>", "RCPT TO:<a@example.com>"}, ""},
		{"not offered", Options{NoPipelining: true}, []string{"MAIL FROM:<v@client.test>", "RCPT TO:<a@example.com>"}, "without the PIPELINING extension"},
		{"after NOOP", Options{}, []string{"NOOP", "MAIL FROM:<v@client.test>"}, "ends a group"},
		{"after EHLO", Options{}, []string{"EHLO client.test", "MAIL FROM:<v@client.test>"}, "ends a group"},
		{"rtt", Options{RTT: 30 * time.Millisecond}, []string{"MAIL FROM:<v@client.test>", "RCPT TO:<a@example.com>"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			srv := Start(rec, "127.0.0.1:0", tc.opt)
			c := dialFake(t, srv.Addr)
			c.reply()
			ehlo := c.cmd("EHLO client.test")
			if got := strings.Contains(ehlo, "PIPELINING"); got == tc.opt.NoPipelining {
				t.Errorf("EHLO reply %q: PIPELINING offered = %v", ehlo, got)
			}
			start := time.Now()
			replies := c.flightOf(tc.flight...)
			if took := time.Since(start); took < tc.opt.RTT {
				t.Errorf("a flight took %v, less than the RTT %v", took, tc.opt.RTT)
			}
			if r := replies[len(replies)-1]; !strings.HasPrefix(r, "2") && !strings.HasPrefix(r, "5") {
				t.Errorf("replies %q", replies)
			}
			c.cmd("QUIT")
			srv.Close()
			errs, _ := rec.got()
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("tripwire fired: %q", errs)
			case tc.want != "" && (len(errs) == 0 || !strings.Contains(errs[0], tc.want)):
				t.Errorf("tripwire errors %q, want %q", errs, tc.want)
			}
			if (tc.want != "") != (srv.PipeliningViolations() > 0) {
				t.Errorf("PipeliningViolations = %d", srv.PipeliningViolations())
			}
		})
	}
}

// TestRawPipeliningTripwire: a RawServer never offers PIPELINING, so two
// commands in one write fail the test.
func TestRawPipeliningTripwire(t *testing.T) {
	rec := &recorder{TB: t}
	srv := StartRaw(rec, "127.0.0.1:0", RawOptions{Behavior: HELOOnly})
	c := dialFake(t, srv.Addr)
	c.reply()
	c.cmd("HELO client.test")
	c.flightOf("MAIL FROM:<v@client.test>", "RCPT TO:<a@example.com>")
	c.cmd("QUIT")
	srv.Close()
	if errs, _ := rec.got(); len(errs) == 0 || !strings.Contains(errs[0], "without the PIPELINING extension") {
		t.Errorf("tripwire errors %q", errs)
	}
}

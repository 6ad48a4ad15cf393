package smtpwire

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/internal/smtptest"
)

// TestPipeline sends RSET, MAIL and RCPTs in one flight and checks that
// each reply answers its own command, with PIPELINING offered or not (the
// fake's tripwire fails the test on pipelining it did not offer), and
// that a 421 in the middle ends the flight's replies.
func TestPipeline(t *testing.T) {
	for _, offered := range []bool{true, false} {
		t.Run(map[bool]string{true: "offered", false: "not offered"}[offered], func(t *testing.T) {
			srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{
				NoPipelining: !offered,
				Replies: map[string]smtptest.Reply{
					"jane@example.com": smtptest.Accept(),
					"full@example.com": {Code: 452, Enhanced: "4.5.3", Message: "Too many recipients"},
					"bye@example.com":  {Code: 421, Enhanced: "4.7.0", Message: "Closing"},
				},
			})
			c := dialFake(t, srv.Addr)
			if _, err := c.Greeting(); err != nil {
				t.Fatal(err)
			}
			if err := c.Hello("probe.preflight.test"); err != nil {
				t.Fatal(err)
			}
			if c.Pipelining() != offered {
				t.Fatalf("Pipelining() = %v", c.Pipelining())
			}
			rs, err := c.Pipeline().Rset().Mail("verify@preflight.test", false).
				Rcpt("x7k2@example.com").Rcpt("jane@example.com").Rcpt("full@example.com").Send()
			if err != nil {
				t.Fatal(err)
			}
			var codes []int
			for _, r := range rs {
				codes = append(codes, r.Code)
			}
			if want := []int{250, 250, 550, 250, 452}; !slices.Equal(codes, want) {
				t.Errorf("codes %v, want %v", codes, want)
			}
			if rs[2].Enhanced != "5.1.1" {
				t.Errorf("the catch-all RCPT got %+v", rs[2])
			}
			// The transaction stays open: more RCPTs, then a 421 in the
			// middle of a flight.
			rs, err = c.Pipeline().Rcpt("jane@example.com").Rcpt("bye@example.com").Rcpt("jane@example.com").Send()
			if err != nil && !offered {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Code != 250 || rs[1].Code != 421 || !c.Broken() {
				t.Errorf("after a 421: %+v, %v, broken %v", rs, err, c.Broken())
			}
			if _, err := c.Pipeline().Rset().Send(); !errors.Is(err, ErrBroken) {
				t.Errorf("a flight after 421: %v, want ErrBroken", err)
			}
			c.Quit()
		})
	}
}

func TestPipelineRefusesBadArgument(t *testing.T) {
	c := readerConn("")
	if _, err := c.Pipeline().Mail("v@p.test", false).Rcpt("a@b.c>\r\nDATA").Send(); !errors.Is(err, ErrBadArgument) {
		t.Errorf("Send: %v, want ErrBadArgument", err)
	}
	p := c.Pipeline()
	for range maxFlight + 1 {
		p.Rcpt("a@b.c")
	}
	if _, err := p.Send(); !errors.Is(err, ErrPipelineFull) || !strings.Contains(err.Error(), CmdRCPT) {
		t.Errorf("Send: %v, want ErrPipelineFull", err)
	}
}

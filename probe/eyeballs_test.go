package probe

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
)

func TestEyeballOrder(t *testing.T) {
	p := netip.MustParseAddr
	tests := []struct{ in, want []netip.Addr }{
		{nil, nil},
		{[]netip.Addr{p("192.0.2.1")}, []netip.Addr{p("192.0.2.1")}},
		{[]netip.Addr{p("192.0.2.1"), p("192.0.2.2"), p("2001:db8::1"), p("2001:db8::2")},
			[]netip.Addr{p("192.0.2.1"), p("2001:db8::1"), p("192.0.2.2"), p("2001:db8::2")}},
		{[]netip.Addr{p("2001:db8::1"), p("192.0.2.1"), p("192.0.2.2")},
			[]netip.Addr{p("2001:db8::1"), p("192.0.2.1"), p("192.0.2.2")}},
		{[]netip.Addr{p("192.0.2.1"), p("192.0.2.2")}, []netip.Addr{p("192.0.2.1"), p("192.0.2.2")}},
	}
	for _, tc := range tests {
		if got := eyeballOrder(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("eyeballOrder(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestHappyEyeballs checks that a dead address family costs no connect
// timeout (RFC 8305): the IPv6 address swallows its SYN (the dial never
// returns), and the IPv4 address, tried attemptDelay later alongside it,
// answers well within the caller's deadline, which is shorter than the
// connect timeout the dead address would have cost.
func TestHappyEyeballs(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{Default: smtptest.Accept()})
	e, err := New(Config{
		Port: srv.Port, HELO: "probe.preflight.test", MailFrom: "verify@preflight.test",
		AllowPrivate: true, ConnectTimeout: 30 * time.Second, RatePerHost: 100, BurstPerHost: 10,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	blackholed := make(chan struct{}, 1)
	e.routes[0].dialer.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		if strings.HasPrefix(address, "[::1]") {
			blackholed <- struct{}{}
			<-ctx.Done() // a SYN into the void
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, network, address)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Check(ctx, Request{Address: "jane@example.com", Targets: []Target{{
		Host: "mx.example.com", Addrs: []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	}}})
	if err != nil || res.Code != 250 || (res.Reason != outcome.Accepted && res.Reason != outcome.CatchAll) {
		t.Fatalf("Check: %+v, %v", res, err)
	}
	select {
	case <-blackholed:
	default:
		t.Error("the IPv6 address was never tried first")
	}
}

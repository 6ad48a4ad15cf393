package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestDialerRefuses(t *testing.T) {
	resolver := ResolverFunc(func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "loopback.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "mixed.test":
			return []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("10.0.0.7")}, nil
		case "mapped.test":
			return []netip.Addr{netip.MustParseAddr("::ffff:192.168.1.1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	})
	dialled := 0
	d := &Dialer{Resolver: resolver, Dial: func(context.Context, string, string) (net.Conn, error) {
		dialled++
		return nil, errors.New("must not dial")
	}}
	for _, addr := range []string{"127.0.0.1:25", "[::1]:25", "10.1.2.3:80", "loopback.test:80", "mixed.test:443", "mapped.test:80", "[64:ff9b::a00:1]:25"} {
		if _, err := d.DialContext(t.Context(), "tcp", addr); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: err = %v, want ErrForbidden", addr, err)
		}
	}
	if _, err := d.DialContext(t.Context(), "tcp", "nxdomain.test:80"); err == nil {
		t.Error("nxdomain.test dialled")
	}
	if _, err := (&Dialer{}).DialContext(t.Context(), "tcp", "example.test:80"); !errors.Is(err, ErrNoResolver) {
		t.Errorf("name without a resolver: %v, want ErrNoResolver", err)
	}
	if dialled != 0 {
		t.Errorf("dialled %d times", dialled)
	}
}

// TestDialerDialsChecked checks that the Dialer dials the addresses it
// resolved and checked, in order, and never the name.
func TestDialerDialsChecked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	var got []string
	d := &Dialer{
		AllowPrivate: true, // the test server is on loopback
		Resolver: ResolverFunc(func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::ffff:127.0.0.1")}, nil
		}),
	}
	d.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		got = append(got, address)
		if address == net.JoinHostPort("127.0.0.2", port) {
			return nil, errors.New("refused")
		}
		return (&net.Dialer{}).DialContext(ctx, network, address)
	}
	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("hooks.test", port))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	want := []string{"127.0.0.2:" + port, "127.0.0.1:" + port}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("dialled %v, want %v", got, want)
	}
}

func TestAllowed(t *testing.T) {
	for _, tt := range []struct {
		addr         string
		allowPrivate bool
		want         bool
	}{
		{"8.8.8.8", false, true},
		{"::ffff:8.8.8.8", false, true},
		{"127.0.0.1", false, false},
		{"127.0.0.1", true, true},
		{"fe80::1%eth0", false, false},
	} {
		d := &Dialer{AllowPrivate: tt.allowPrivate}
		if got := d.Allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Allowed(%s) with AllowPrivate=%v = %v", tt.addr, tt.allowPrivate, got)
		}
	}
	if (&Dialer{AllowPrivate: true}).Allowed(netip.Addr{}) {
		t.Error("the zero Addr is allowed")
	}
}

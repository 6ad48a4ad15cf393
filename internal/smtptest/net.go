package smtptest

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
)

// Listen binds one free TCP port on every given loopback IP ("127.0.0.2",
// ...) and returns the port and the listeners, in the order of ips. With
// no ips it binds 127.0.0.1. The listeners stay open, so no other process
// can take the port between choosing it and serving on it.
func Listen(t testing.TB, ips ...string) (int, []net.Listener) {
	t.Helper()
	if len(ips) == 0 {
		ips = []string{"127.0.0.1"}
	}
	for _, ip := range ips {
		mustLoopback(t, ip)
	}
	for try := 0; try < 50; try++ {
		first, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			t.Fatalf("smtptest: listen on %s: %v", ips[0], err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		ok := true
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		if ok {
			for _, ln := range lns {
				t.Cleanup(func() { ln.Close() })
			}
			return port, lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("smtptest: no port free on all of %v", ips)
	return 0, nil
}

// listen binds addr, which must be a loopback address.
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("smtptest: bad address %q: %v", addr, err)
	}
	mustLoopback(t, host)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("smtptest: listen on %s: %v", addr, err)
	}
	return ln
}

// mustLoopback refuses anything but a loopback IP: tests never reach out.
func mustLoopback(t testing.TB, ip string) {
	t.Helper()
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Unmap().IsLoopback() {
		t.Fatalf("smtptest: %q is not a loopback IP; fake servers only listen on loopback", ip)
	}
}

// listenerLoopback checks a listener handed in by a test.
func listenerLoopback(t testing.TB, ln net.Listener) {
	t.Helper()
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("smtptest: listener is not TCP: %v", ln.Addr())
	}
	a, _ := netip.AddrFromSlice(ta.IP)
	if !a.Unmap().IsLoopback() {
		t.Fatalf("smtptest: listener %v is not on loopback", ln.Addr())
	}
}

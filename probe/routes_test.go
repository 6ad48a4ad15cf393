package probe

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/egress"
	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/outcome"
)

var spamhaus = smtptest.Reply{Code: 550, Enhanced: "5.7.1", Message: "Service unavailable; Client host [127.0.0.52] blocked using zen.spamhaus.org"}

func routesEngine(t *testing.T, port int, routes ...string) *Engine {
	t.Helper()
	var rs []egress.Route
	for _, s := range routes {
		r, err := egress.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	e, err := New(Config{
		Port: port, HELO: "probe.preflight.test", MailFrom: "verify@preflight.test", AllowPrivate: true,
		ConnectTimeout: time.Second, BannerTimeout: time.Second, CommandTimeout: time.Second,
		RatePerHost: 100, BurstPerHost: 100, RcptRatePerHost: 1e4, RcptBurstPerHost: 100,
		MaxSessionsPerHost: 2, MaxSessions: 20, IdleTimeout: 100 * time.Millisecond, Routes: rs,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// hostFirst returns an MX host name whose preferred route is route want.
func hostFirst(t *testing.T, e *Engine, want int) string {
	for i := range 1000 {
		h := "mx" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + ".test"
		if e.routeOrder(h, netip.Addr{})[0] == want {
			return h
		}
	}
	t.Fatal("no host prefers the route")
	return ""
}

func checkVia(t *testing.T, e *Engine, host, ip, addr string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Check(ctx, Request{Address: addr, Targets: []Target{{Host: host, Addrs: []netip.Addr{netip.MustParseAddr(ip)}}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestRouteFailover: a host that blocklists one route's address gets the
// recipient's true answer through the other route; the refused route is
// benched for that host only.
func TestRouteFailover(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.50", "127.0.0.51")
	refusing := smtptest.Serve(t, lns[0], smtptest.Options{Default: smtptest.Accept(), RefuseClients: map[string]smtptest.Reply{"127.0.0.52": spamhaus}})
	other := smtptest.Serve(t, lns[1], smtptest.Options{Default: smtptest.Accept()})
	e := routesEngine(t, port, "127.0.0.52", "127.0.0.53")
	host := hostFirst(t, e, 0) // tries 127.0.0.52 first

	res := checkVia(t, e, host, "127.0.0.50", "jane@example.test")
	if res.Reason != outcome.Accepted || res.Route != "127.0.0.53" {
		t.Fatalf("got %s via %q (%s), want accepted via 127.0.0.53", res.Reason, res.Route, res.Message)
	}
	if got := refusing.Clients(); !slices.Contains(got, "127.0.0.52") || !slices.Contains(got, "127.0.0.53") {
		t.Errorf("the host saw clients %v, want both routes", got)
	}
	if e.Stats().RouteBenches != 1 || e.RouteRefusals()["127.0.0.52"] != 1 || e.RouteRefusals()["127.0.0.53"] != 0 {
		t.Errorf("%d benches, refusals %v; want 1 bench and one refusal of 127.0.0.52", e.Stats().RouteBenches, e.RouteRefusals())
	}
	if sig := e.RouteSignals(time.Now()); len(sig) != 1 || sig[0].Route != "127.0.0.52" || !strings.HasSuffix(host, sig[0].Provider) || sig[0].LastHour != 1 || sig[0].LastDay != 1 {
		t.Errorf("route signals %+v", sig)
	}
	// Benched for this host: the next recipient goes straight to .53.
	if order := e.routeOrder(host, netip.Addr{}); order[0] != 1 {
		t.Errorf("route order for the refusing host %v, want the healthy route first", order)
	}
	// Not benched elsewhere: another host still prefers .52.
	host2 := hostFirst(t, e, 0)
	res = checkVia(t, e, host2, "127.0.0.51", "bob@example.test")
	if res.Reason != outcome.Accepted || res.Route != "127.0.0.52" {
		t.Errorf("other host: %s via %q, want accepted via 127.0.0.52", res.Reason, res.Route)
	}
	if got := other.Clients(); len(got) == 0 || got[0] != "127.0.0.52" {
		t.Errorf("the other host saw %v, want 127.0.0.52", got)
	}
}

// TestEveryRouteRefused: a host that refuses every client gives
// unknown/blocked, after one try per route, naming what each was told.
func TestEveryRouteRefused(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.54")
	srv := smtptest.Serve(t, lns[0], smtptest.Options{Default: spamhaus})
	e := routesEngine(t, port, "127.0.0.55", "127.0.0.56", "127.0.0.57")
	res := checkVia(t, e, "mx.everyone.test", "127.0.0.54", "jane@example.test")
	if res.Reason != outcome.Blocked {
		t.Fatalf("got %s, want blocked", res.Reason)
	}
	for _, r := range []string{"127.0.0.55", "127.0.0.56", "127.0.0.57"} {
		if !strings.Contains(res.Message, r+": 550 5.7.1") {
			t.Errorf("detail %q does not say what %s was told", res.Message, r)
		}
	}
	if n := srv.Rcpts(); n > 6 {
		t.Errorf("%d RCPTs for one recipient over 3 routes, want at most 2 a route", n)
	}
}

// TestRouteConcurrency: many checks over several routes at once, under
// -race.
func TestRouteConcurrency(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.58")
	smtptest.Serve(t, lns[0], smtptest.Options{Default: smtptest.Accept(), RefuseClients: map[string]smtptest.Reply{"127.0.0.59": spamhaus}})
	e := routesEngine(t, port, "127.0.0.59", "127.0.0.60", "127.0.0.61")
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			host := []string{"mx1.test", "mx2.test", "mx3.test", "mx4.test"}[i%4]
			res := checkVia(t, e, host, "127.0.0.58", "user@example.test")
			if res.Reason != outcome.Accepted {
				t.Errorf("%s: %s via %s", host, res.Reason, res.Route)
			}
		})
	}
	wg.Wait()
}

// socks5 is a minimal SOCKS5 server (RFC 1928, no authentication, CONNECT
// only) that dials its targets from source: a proxy on another host, seen
// by receiving servers with that address.
func socks5(t *testing.T, listen, source string) string {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 262)
				// Greeting: version, methods; we take "no authentication".
				if _, err := io.ReadFull(c, buf[:2]); err != nil || buf[0] != 5 {
					return
				}
				if _, err := io.ReadFull(c, buf[:buf[1]]); err != nil {
					return
				}
				c.Write([]byte{5, 0})
				// Request: version, CONNECT, reserved, address type.
				if _, err := io.ReadFull(c, buf[:4]); err != nil || buf[1] != 1 {
					return
				}
				var host string
				switch buf[3] {
				case 1:
					io.ReadFull(c, buf[:4])
					host = net.IP(buf[:4]).String()
				case 3:
					io.ReadFull(c, buf[:1])
					n := int(buf[0])
					io.ReadFull(c, buf[:n])
					host = string(buf[:n])
				default:
					return
				}
				io.ReadFull(c, buf[:2])
				port := binary.BigEndian.Uint16(buf[:2])
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 2 * time.Second}
				up, err := d.Dial("tcp", net.JoinHostPort(host, itoa(int(port))))
				if err != nil {
					c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
					return
				}
				defer up.Close()
				c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestSOCKS5Route: a route through a SOCKS5 proxy reaches the MX from the
// proxy's address.
func TestSOCKS5Route(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.62")
	srv := smtptest.Serve(t, lns[0], smtptest.Options{Default: smtptest.Accept()})
	proxy := socks5(t, "127.0.0.63:0", "127.0.0.64")
	e := routesEngine(t, port, "socks5://"+proxy)
	res := checkVia(t, e, "mx.socks.test", "127.0.0.62", "jane@example.test")
	if res.Reason != outcome.Accepted || res.Route != "socks5://"+proxy {
		t.Fatalf("got %s via %q (%s)", res.Reason, res.Route, res.Message)
	}
	if got := srv.Clients(); len(got) == 0 || got[0] != "127.0.0.64" {
		t.Errorf("the MX saw %v, want the proxy's source 127.0.0.64", got)
	}
}

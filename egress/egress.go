// Package egress describes the routes Preflight's SMTP traffic leaves by:
// a local source address to bind, or a SOCKS5 proxy (probe.egress). Each
// route may carry its own HELO name and its known public IP, which a NATed
// host or a proxy cannot see for itself.
//
// A route is written as one string, in the environment as in
// preflight.yaml:
//
//	203.0.113.7
//	2001:db8::25 helo=probe6.example.com
//	socks5://user:pass@10.0.0.4:1080 public_ip=198.51.100.4 helo=probe2.example.com
//
// The empty list means one route: the kernel's choice of source address.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/proxy"

	"github.com/preflight-email/preflight/internal/redact"
)

// ErrRoute marks a route that cannot be parsed.
var ErrRoute = errors.New("egress: invalid route")

// Route is one way out.
type Route struct {
	// Source is the local address to bind; invalid for the kernel's
	// choice or a proxy.
	Source netip.Addr
	// Proxy is a socks5:// URL; nil for a direct route.
	Proxy *url.URL
	// HELO, when set, replaces probe.helo on this route.
	HELO string
	// PublicIP is the address receiving servers see, when known: the
	// source address itself when it is public, else what the operator
	// configured (public_ip=). Doctor checks PTR, SPF and blocklists
	// against it.
	PublicIP netip.Addr
}

// Default is the kernel's choice: no source address, no proxy.
var Default = Route{}

// Name is how logs, results and doctor name the route: its source
// address, its proxy's host:port (never its password), or "default".
func (r Route) Name() string {
	switch {
	case r.Proxy != nil:
		return "socks5://" + r.Proxy.Host
	case r.Source.IsValid():
		return r.Source.String()
	}
	return "default"
}

// String is the route's configuration form, with the proxy's password
// masked.
func (r Route) String() string {
	var b strings.Builder
	switch {
	case r.Proxy != nil:
		b.WriteString(redact.URL(r.Proxy.String()))
	case r.Source.IsValid():
		b.WriteString(r.Source.String())
	default:
		b.WriteString("default")
	}
	if r.HELO != "" {
		b.WriteString(" helo=" + r.HELO)
	}
	if r.PublicIP.IsValid() && r.PublicIP != r.Source {
		b.WriteString(" public_ip=" + r.PublicIP.String())
	}
	return b.String()
}

// Parse reads one route (see the package comment).
func Parse(s string) (Route, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return Route{}, fmt.Errorf("%w: empty", ErrRoute)
	}
	var r Route
	head := fields[0]
	if strings.Contains(head, "://") {
		u, err := url.Parse(head)
		if err != nil || u.Scheme != "socks5" || u.Hostname() == "" || u.Port() == "" {
			return Route{}, fmt.Errorf("%w: %q: want socks5://[user:pass@]host:port", ErrRoute, redact.URL(head))
		}
		r.Proxy = u
	} else {
		ip, err := netip.ParseAddr(head)
		if err != nil {
			return Route{}, fmt.Errorf("%w: %q is neither an IP address nor a socks5:// URL", ErrRoute, head)
		}
		r.Source = ip.Unmap()
		if public(r.Source) {
			r.PublicIP = r.Source
		}
	}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return Route{}, fmt.Errorf("%w: %q: want key=value after the address", ErrRoute, f)
		case k == "helo":
			if !strings.Contains(v, ".") {
				return Route{}, fmt.Errorf("%w: helo=%q is not a fully qualified name", ErrRoute, v)
			}
			r.HELO = v
		case k == "public_ip":
			ip, err := netip.ParseAddr(v)
			if err != nil {
				return Route{}, fmt.Errorf("%w: public_ip=%q is not an IP address", ErrRoute, v)
			}
			r.PublicIP = ip.Unmap()
		default:
			return Route{}, fmt.Errorf("%w: unknown attribute %q (want helo= or public_ip=)", ErrRoute, k)
		}
	}
	return r, nil
}

// ParseAll reads a list of routes; the empty list is one Default route.
func ParseAll(list []string) ([]Route, error) {
	if len(list) == 0 {
		return []Route{Default}, nil
	}
	out := make([]Route, 0, len(list))
	var errs []error
	for _, s := range list {
		r, err := Parse(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// public reports whether ip is a global unicast address that receiving
// servers could see as it is.
func public(ip netip.Addr) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate()
}

// ContextDialer dials like net.Dialer.DialContext.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Dialer returns the dialer of the route: a net.Dialer bound to its source
// address, or a SOCKS5 client. timeout bounds the connection (and, for a
// proxy, the connection to the proxy).
func (r Route) Dialer(timeout time.Duration) (ContextDialer, error) {
	d := &net.Dialer{Timeout: timeout}
	if r.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: r.Source.AsSlice()}
	}
	if r.Proxy == nil {
		return d, nil
	}
	var auth *proxy.Auth
	if u := r.Proxy.User; u != nil {
		p, _ := u.Password()
		auth = &proxy.Auth{User: u.Username(), Password: p}
	}
	pd, err := proxy.SOCKS5("tcp", r.Proxy.Host, auth, d)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRoute, r.Name(), err)
	}
	cd, ok := pd.(ContextDialer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: the SOCKS5 dialer cannot take a context", ErrRoute, r.Name())
	}
	return cd, nil
}

package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ErrForbidden wraps every refusal of a target that is not a public
// address (see Public).
var ErrForbidden = errors.New("target is not a public address (loopback, private, link-local, multicast, reserved or unspecified)")

// ErrNoResolver: a host name was given to a Dialer without a Resolver.
var ErrNoResolver = errors.New("netguard: no resolver for host names")

// Resolver looks up the addresses of a host name. (*mx.Resolver) has this
// method, so the resolvers of dns.resolvers can serve a Dialer; ResolverFunc
// adapts anything else, such as net.Resolver.LookupNetIP.
type Resolver interface {
	LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error)
}

// ResolverFunc is a function that is a Resolver.
type ResolverFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// LookupAddrs calls f.
func (f ResolverFunc) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	return f(ctx, host)
}

// Dialer is the one guarded way Preflight connects on a user's behalf: the
// SMTP probe to an MX host, the jobs webhook to a callback URL. It resolves
// a host name itself, refuses the target when any of its addresses is not
// public (unless AllowPrivate), and dials the addresses it checked, never
// the name, which could resolve differently a second time (DNS
// rebinding). The zero value dials literal public addresses only.
type Dialer struct {
	// Resolver resolves host names. Nil refuses names (ErrNoResolver):
	// there is no silent fallback to the system's resolver.
	Resolver Resolver
	// AllowPrivate lets the Dialer connect to any address. Tests set it;
	// production never does (docs/design.md "Rules of conduct":
	// probe.allow_private).
	AllowPrivate bool
	// Timeout bounds each connection attempt (zero: only ctx does).
	Timeout time.Duration
	// Dial opens a connection to a checked address, "ip:port". Nil uses a
	// net.Dialer. Egress routes (a source address, a proxy) plug in here.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Allowed reports whether the Dialer may connect to a.
func (d *Dialer) Allowed(a netip.Addr) bool {
	return a.IsValid() && (d.AllowPrivate || Public(a.Unmap()))
}

// Check returns an error wrapping ErrForbidden when the Dialer may not
// connect to a.
func (d *Dialer) Check(a netip.Addr) error {
	if d.Allowed(a) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrForbidden, a)
}

// Resolve returns the addresses of host, a name or a literal address,
// after checking every one of them: one forbidden address refuses the
// whole host, since a name that mixes public and private addresses is
// how rebinding attacks are staged.
func (d *Dialer) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if d.Resolver == nil {
			return nil, fmt.Errorf("resolve %s: %w", host, ErrNoResolver)
		}
		addrs, err = d.Resolver.LookupAddrs(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	for i, a := range addrs {
		if err := d.Check(a); err != nil {
			return nil, err
		}
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// DialContext connects to address ("host:port") as net.Dialer does, but
// only to checked addresses: it resolves host with Resolve and tries its
// addresses in order. It fits http.Transport.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := d.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	dial := d.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	var last error
	for _, a := range addrs {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if d.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, d.Timeout)
		}
		c, err := dial(actx, network, net.JoinHostPort(a.String(), port))
		cancel()
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

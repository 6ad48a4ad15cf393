package mx

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// hostAddrs is a host's cached address answer.
type hostAddrs struct {
	addrs  []netip.Addr // never modified once cached
	temp   bool         // no address, and at least one family failed for now
	detail string       // why there is no address
}

type hostAnswer struct {
	entry[hostAddrs]
	err error
}

// resolveHosts finds the addresses of hosts concurrently.
func (r *Resolver) resolveHosts(ctx context.Context, hosts []Host) []hostAnswer {
	out := make([]hostAnswer, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			e, err := r.hostAddrs(ctx, h.Name)
			out[i] = hostAnswer{entry: e, err: err}
		})
	}
	wg.Wait()
	return out
}

// hostAddrs returns the cached addresses of host (normalized), looking
// them up once for all concurrent callers when they are not cached.
func (r *Resolver) hostAddrs(ctx context.Context, host string) (entry[hostAddrs], error) {
	if v, expires, ok := r.hosts.get(host, r.now()); ok {
		return entry[hostAddrs]{val: v, expires: expires}, nil
	}
	return r.hostCalls.do(ctx, host, func(ctx context.Context) (entry[hostAddrs], error) {
		e, err := r.lookupHost(ctx, host)
		if err == nil {
			r.hosts.put(host, e)
		}
		return e, err
	})
}

// lookupHost asks for the A and AAAA records of host at the same time.
func (r *Resolver) lookupHost(ctx context.Context, host string) (entry[hostAddrs], error) {
	now := r.now()
	// RFC 1035 §3.3.9 and RFC 5321 §5.1 make the MX exchange a domain name.
	// An IP address there is a misconfiguration that MTAs such as Postfix
	// refuse to use, so it is not queried and counts as no address.
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return entry[hostAddrs]{
			val:     hostAddrs{detail: fmt.Sprintf("%s: an IP address where a host name belongs (RFC 1035 §3.3.9)", host)},
			expires: now.Add(MaxNegativeTTL),
		}, nil
	}

	var (
		v6    rrAnswer
		v6err error
		wg    sync.WaitGroup
	)
	wg.Go(func() { v6, v6err = r.resolve(ctx, host, dns.TypeAAAA) })
	v4, v4err := r.resolve(ctx, host, dns.TypeA)
	wg.Wait()
	if err := cmp.Or(v4err, v6err); err != nil {
		return entry[hostAddrs]{}, err
	}

	var addrs []netip.Addr
	for _, rr := range v4.rrs {
		if a, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
			addrs = append(addrs, a)
		}
	}
	for _, rr := range v6.rrs {
		if a, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA.To16()); ok {
			addrs = append(addrs, a)
		}
	}

	// A family that failed for now does not shorten the lifetime of the
	// other family's addresses: some broken servers never answer AAAA.
	ttl := MaxTTL
	for _, a := range []rrAnswer{v4, v6} {
		switch a.kind {
		case answerFound:
			ttl = min(ttl, positiveTTL(a.ttl))
		case answerNoData, answerNXDomain:
			ttl = min(ttl, negativeTTL(a.ttl))
		}
	}
	switch {
	case len(addrs) > 0:
		return entry[hostAddrs]{val: hostAddrs{addrs: addrs}, expires: now.Add(ttl)}, nil
	case v4.kind == answerTemp || v6.kind == answerTemp:
		var d []string
		for _, a := range []rrAnswer{v4, v6} {
			if a.kind == answerTemp {
				d = append(d, a.detail)
			}
		}
		return entry[hostAddrs]{val: hostAddrs{temp: true, detail: strings.Join(d, "; ")}, expires: now.Add(TempFailTTL)}, nil
	default:
		what := "no A or AAAA"
		if v4.kind == answerNXDomain && v6.kind == answerNXDomain {
			what = "NXDOMAIN"
		}
		return entry[hostAddrs]{val: hostAddrs{detail: fmt.Sprintf("%s: %s", host, what)}, expires: now.Add(ttl)}, nil
	}
}

package netguard_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"

	"github.com/preflight-email/preflight/internal/netguard"
)

// A webhook client whose every connection goes through the guard. The
// resolver would be the one built from dns.resolvers; here a function
// stands in for it. This example is compiled, not run.
func ExampleDialer() {
	d := &netguard.Dialer{
		Resolver: netguard.ResolverFunc(func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}),
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext}}
	_ = client
}

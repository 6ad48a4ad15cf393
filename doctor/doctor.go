// Package doctor checks Preflight's own sending identity, route by route:
// can we reach port 25, does our IP have forward-confirmed reverse DNS
// matching our HELO name, does the MAIL FROM domain's SPF record allow
// the IP, and is the IP on a DNS blocklist. When these fail, receiving
// servers answer "blocked" or nothing at all, and every verdict quietly
// turns into unknown; doctor says why before that happens.
package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"

	"github.com/preflight-email/preflight/egress"
)

// Resolver is what doctor asks DNS; *net.Resolver fits, and so does the
// one Resolver builds on dns.resolvers.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Config says what to check.
type Config struct {
	Routes   []egress.Route // egress.ParseAll's output; empty: the default route
	HELO     string         // probe.helo, for routes without their own
	MailFrom string         // probe.mail_from
	// TestDomain's MX is connected to, to see that port 25 is open
	// (default gmail.com). Port is the SMTP port (default 25).
	TestDomain string
	Port       int
	// Blocklists are DNSBL zones (default zen.spamhaus.org,
	// b.barracudacentral.org, bl.spamcop.net).
	Blocklists []string
	Timeout    time.Duration // per network step (default 10s)
}

// DefaultBlocklists are the DNS blocklists the big mailbox providers and
// gateways consult most.
var DefaultBlocklists = []string{"zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net"}

// Status is a check's outcome.
type Status string

// Check outcomes. Unknown is for a check that could not be made (a proxy
// route without public_ip, a resolver that failed): not a failure, but
// not a pass either.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// Check is one check of one route.
type Check struct {
	Route  string `json:"route"`
	Name   string `json:"check"` // port25, fcrdns, spf, dnsbl:<zone>
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Report is every check of every route.
type Report struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"` // no check failed
	Checks []Check   `json:"checks"`
}

// Failures returns the failed checks.
func (r Report) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Run makes every check of every route.
func Run(ctx context.Context, cfg Config, res Resolver) Report {
	if len(cfg.Routes) == 0 {
		cfg.Routes = []egress.Route{egress.Default}
	}
	if cfg.TestDomain == "" {
		cfg.TestDomain = "gmail.com"
	}
	if cfg.Port == 0 {
		cfg.Port = 25
	}
	if cfg.Blocklists == nil {
		cfg.Blocklists = DefaultBlocklists
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	rep := Report{At: time.Now().UTC(), OK: true}
	for _, r := range cfg.Routes {
		helo := cfg.HELO
		if r.HELO != "" {
			helo = r.HELO
		}
		rep.Checks = append(rep.Checks, port25(ctx, cfg, res, r))
		if !r.PublicIP.IsValid() {
			why := "the route's public IP is not known: set public_ip= on the route (a NATed host or a proxy cannot see it)"
			rep.Checks = append(rep.Checks,
				Check{r.Name(), "fcrdns", Unknown, why},
				Check{r.Name(), "spf", Unknown, why})
			for _, zone := range cfg.Blocklists {
				rep.Checks = append(rep.Checks, Check{r.Name(), "dnsbl:" + zone, Unknown, why})
			}
			continue
		}
		rep.Checks = append(rep.Checks, fcrdns(ctx, cfg, res, r, helo), spfCheck(ctx, cfg, res, r, helo))
		for _, zone := range cfg.Blocklists {
			rep.Checks = append(rep.Checks, dnsbl(ctx, cfg, res, r, zone))
		}
	}
	for _, c := range rep.Checks {
		if c.Status == Fail {
			rep.OK = false
		}
	}
	return rep
}

// port25 connects through the route to the test domain's first MX and
// reads its banner, then says QUIT.
func port25(ctx context.Context, cfg Config, res Resolver, r egress.Route) Check {
	c := Check{Route: r.Name(), Name: "port25"}
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	mxs, err := res.LookupMX(lctx, cfg.TestDomain)
	if err != nil || len(mxs) == 0 {
		c.Status, c.Detail = Unknown, fmt.Sprintf("no MX for the test domain %s: %v", cfg.TestDomain, err)
		return c
	}
	slices.SortFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	host := strings.TrimSuffix(mxs[0].Host, ".")
	d, err := r.Dialer(cfg.Timeout)
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		return c
	}
	addr := net.JoinHostPort(host, strconv.Itoa(cfg.Port))
	if r.Proxy == nil {
		// Resolve here, through our resolver, not the system's.
		ips, err := res.LookupHost(lctx, host)
		if err != nil || len(ips) == 0 {
			c.Status, c.Detail = Unknown, fmt.Sprintf("%s has no address: %v", host, err)
			return c
		}
		addr = net.JoinHostPort(ips[0], strconv.Itoa(cfg.Port))
	}
	conn, err := d.DialContext(lctx, "tcp", addr)
	if err != nil {
		c.Status = Fail
		c.Detail = fmt.Sprintf("cannot connect to %s (%s) port %d: %v; many cloud providers block outbound port 25 until asked", host, addr, cfg.Port, err)
		return c
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(cfg.Timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	line = strings.TrimSpace(line)
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("connected to %s but read no banner: %v", host, err)
	case !strings.HasPrefix(line, "220"):
		c.Status, c.Detail = Fail, fmt.Sprintf("%s refused us at the banner: %q", host, line)
	default:
		c.Status, c.Detail = Pass, fmt.Sprintf("%s answered %q", host, line)
		fmt.Fprint(conn, "QUIT\r\n")
	}
	return c
}

// fcrdns checks forward-confirmed reverse DNS: the IP's PTR names resolve
// back to it, and one of them is the HELO name.
func fcrdns(ctx context.Context, cfg Config, res Resolver, r egress.Route, helo string) Check {
	c := Check{Route: r.Name(), Name: "fcrdns"}
	ip := r.PublicIP.String()
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	names, err := res.LookupAddr(lctx, ip)
	if err != nil || len(names) == 0 {
		c.Status, c.Detail = Fail, fmt.Sprintf("%s has no PTR record: Gmail, Outlook and most gateways refuse or throttle such clients; ask the IP's owner for a PTR naming %s", ip, helo)
		return c
	}
	var confirmed []string
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		addrs, err := res.LookupHost(lctx, n)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParseAddr(a); err == nil && p.Unmap() == r.PublicIP {
				confirmed = append(confirmed, n)
			}
		}
	}
	switch {
	case len(confirmed) == 0:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s's PTR names %s, which does not resolve back to it", ip, strings.Join(names, ", "))
	case helo != "" && !slices.ContainsFunc(confirmed, func(n string) bool { return strings.EqualFold(n, helo) }):
		c.Status, c.Detail = Fail, fmt.Sprintf("%s's PTR is %s, but the HELO name is %s: set probe.helo (or helo= on the route) to %s", ip, confirmed[0], helo, confirmed[0])
	default:
		c.Status, c.Detail = Pass, fmt.Sprintf("%s ↔ %s", ip, confirmed[0])
	}
	return c
}

// spfCheck asks whether the MAIL FROM domain's SPF record allows the IP.
func spfCheck(ctx context.Context, cfg Config, res Resolver, r egress.Route, helo string) Check {
	c := Check{Route: r.Name(), Name: "spf"}
	if cfg.MailFrom == "" {
		c.Status, c.Detail = Fail, "probe.mail_from is not set"
		return c
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	result, err := spf.CheckHostWithSender(r.PublicIP.AsSlice(), helo, cfg.MailFrom, spf.WithResolver(res), spf.WithContext(lctx))
	_, domain, _ := strings.Cut(cfg.MailFrom, "@")
	switch result {
	case spf.Pass:
		c.Status, c.Detail = Pass, fmt.Sprintf("%s's SPF record allows %s", domain, r.PublicIP)
	case spf.TempError:
		c.Status, c.Detail = Unknown, fmt.Sprintf("SPF lookup for %s failed: %v", domain, err)
	case spf.None:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s has no SPF record: publish one allowing %s (v=spf1 ip4:%s -all)", domain, r.PublicIP, r.PublicIP)
	default:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s's SPF record gives %s for %s: add the IP to it", domain, result, r.PublicIP)
	}
	return c
}

// dnsbl looks the IP up on one DNS blocklist (RFC 5782): an A record under
// the reversed address means listed, and its TXT record says why.
func dnsbl(ctx context.Context, cfg Config, res Resolver, r egress.Route, zone string) Check {
	c := Check{Route: r.Name(), Name: "dnsbl:" + zone}
	q := reverse(r.PublicIP) + "." + zone
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	addrs, err := res.LookupHost(lctx, q)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		c.Status, c.Detail = Pass, fmt.Sprintf("%s is not listed on %s", r.PublicIP, zone)
		return c
	case err != nil:
		c.Status, c.Detail = Unknown, fmt.Sprintf("%s did not answer: %v", zone, err)
		return c
	}
	for _, a := range addrs {
		// RFC 5782 §2.1: listings are 127.0.0.2 and up; Spamhaus answers
		// 127.255.255.x to refuse a query (an open or public resolver).
		if strings.HasPrefix(a, "127.255.255.") {
			c.Status, c.Detail = Unknown, fmt.Sprintf("%s refused the query (%s): query it through your own resolver", zone, a)
			return c
		}
	}
	reason := ""
	if txt, err := res.LookupTXT(lctx, q); err == nil && len(txt) > 0 {
		reason = ": " + strings.Join(txt, " ")
	}
	c.Status, c.Detail = Fail, fmt.Sprintf("%s is listed on %s (%s)%s; request delisting from the list's site", r.PublicIP, zone, strings.Join(addrs, ", "), reason)
	return c
}

// reverse writes ip the DNSBL way: IPv4 octets reversed, IPv6 nibbles
// reversed (RFC 5782 §2.1, §2.4).
func reverse(ip netip.Addr) string {
	if ip.Is4() {
		b := ip.As4()
		return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
	}
	b := ip.As16()
	var s strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		fmt.Fprintf(&s, "%x.%x", b[i]&0xf, b[i]>>4)
		if i > 0 {
			s.WriteByte('.')
		}
	}
	return s.String()
}

// NewResolver returns a *net.Resolver that asks the DNS servers given
// (host:port, in order, as dns.resolvers lists them) instead of the
// system's; nil servers means the system's configuration.
func NewResolver(servers []string, timeout time.Duration) *net.Resolver {
	if len(servers) == 0 {
		return net.DefaultResolver
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			var err error
			for _, s := range servers {
				var c net.Conn
				if c, err = d.DialContext(ctx, network, s); err == nil {
					return c, nil
				}
			}
			return nil, err
		},
	}
}

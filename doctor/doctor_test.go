package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/egress"
	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/internal/smtptest"
)

// world is a fake internet for doctor: a test domain whose MX is a fake
// SMTP server on 127.0.0.41, PTR and SPF records for a clean public IP
// (192.0.2.10) and a blocklist zone that lists another (192.0.2.66).
func world(t *testing.T) (Config, *dnstest.Server) {
	t.Helper()
	dns := dnstest.NewServer(t, `
$ORIGIN test.
$TTL 300
@                 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
probe-target      IN MX 10 mx.probe-target.test.
mx.probe-target   IN A  127.0.0.41
probe.clean       IN A  192.0.2.10
probe.listed      IN A  192.0.2.66
probe.noptr       IN A  192.0.2.77
clean             IN TXT "v=spf1 ip4:192.0.2.10 ip4:192.0.2.66 -all"
10.2.0.192.in-addr.arpa. IN PTR probe.clean.test.
66.2.0.192.in-addr.arpa. IN PTR probe.listed.test.
66.2.0.192.bl.test. IN A   127.0.0.2
66.2.0.192.bl.test. IN TXT "Listed by the test list, see https://bl.test/66"
`)
	port, lns := smtptest.Listen(t, "127.0.0.41")
	smtptest.Serve(t, lns[0], smtptest.Options{Domain: "mx.probe-target.test"})
	return Config{
		HELO: "probe.clean.test", MailFrom: "verify@clean.test",
		TestDomain: "probe-target.test", Port: port, Blocklists: []string{"bl.test"}, Timeout: 3 * time.Second,
	}, dns
}

func route(t *testing.T, s string) egress.Route {
	t.Helper()
	r, err := egress.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func status(rep Report, route, check string) Check {
	for _, c := range rep.Checks {
		if c.Route == route && c.Name == check {
			return c
		}
	}
	return Check{}
}

func TestDoctor(t *testing.T) {
	cfg, dns := world(t)
	cfg.Routes = []egress.Route{
		route(t, "127.0.0.42 public_ip=192.0.2.10"),
		route(t, "127.0.0.43 public_ip=192.0.2.66 helo=probe.listed.test"),
		route(t, "127.0.0.44 public_ip=192.0.2.77 helo=probe.noptr.test"),
		route(t, "socks5://127.0.0.45:1080"),
	}
	rep := Run(context.Background(), cfg, NewResolver([]string{dns.Addr}, time.Second))
	tests := []struct {
		route, check string
		want         Status
		detail       string
	}{
		{"127.0.0.42", "port25", Pass, "220"},
		{"127.0.0.42", "fcrdns", Pass, "probe.clean.test"},
		{"127.0.0.42", "spf", Pass, "allows 192.0.2.10"},
		{"127.0.0.42", "dnsbl:bl.test", Pass, "not listed"},
		{"127.0.0.43", "fcrdns", Pass, "probe.listed.test"},
		{"127.0.0.43", "dnsbl:bl.test", Fail, "Listed by the test list"},
		{"127.0.0.44", "fcrdns", Fail, "no PTR"},
		{"127.0.0.44", "spf", Fail, "add the IP"},
		{"socks5://127.0.0.45:1080", "port25", Fail, "cannot connect"},
		{"socks5://127.0.0.45:1080", "fcrdns", Unknown, "public_ip="},
	}
	for _, tt := range tests {
		c := status(rep, tt.route, tt.check)
		if c.Status != tt.want || !strings.Contains(c.Detail, tt.detail) {
			t.Errorf("%s %s: %s %q; want %s with %q", tt.route, tt.check, c.Status, c.Detail, tt.want, tt.detail)
		}
	}
	if rep.OK {
		t.Error("the report is OK with failed checks")
	}

	clean := Run(context.Background(), Config{
		Routes: cfg.Routes[:1], HELO: cfg.HELO, MailFrom: cfg.MailFrom, TestDomain: cfg.TestDomain,
		Port: cfg.Port, Blocklists: cfg.Blocklists, Timeout: cfg.Timeout,
	}, NewResolver([]string{dns.Addr}, time.Second))
	if !clean.OK || len(clean.Failures()) != 0 {
		t.Errorf("a clean route fails: %+v", clean.Failures())
	}
}

func TestReverse(t *testing.T) {
	r := route(t, "192.0.2.1")
	if got := reverse(r.PublicIP); got != "1.2.0.192" {
		t.Errorf("reverse = %s", got)
	}
	r6 := route(t, "2001:db8::1")
	if got := reverse(r6.PublicIP); !strings.HasPrefix(got, "1.0.0.0") || !strings.HasSuffix(got, "8.b.d.0.1.0.0.2") {
		t.Errorf("reverse v6 = %s", got)
	}
}

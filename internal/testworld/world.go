// Package testworld is a small mail internet on loopback for the tests
// that drive the commands and the binary: a fake DNS server and fake MX
// hosts, slow enough per RCPT that a job of a few thousand rows takes
// seconds. It is imported by tests only.
package testworld

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/internal/smtptest"
)

// World is what the preflight binary talks to in the end-to-end tests.
type World struct {
	DNS     *dnstest.Server
	Port    int
	Servers []*smtptest.Server
	CSV     []byte
	Rows    int
}

// Size shapes a world: fake MX hosts (at most 20, on 127.0.0.30 and up),
// domains spread over them, and a CSV of Rows rows over Distinct
// addresses.
type Size struct {
	Hosts, Domains, Rows, Distinct int
}

// New starts 4 fake MX hosts on 127.0.0.30-33 serving 40 domains
// (d0.test … d39.test) and builds a 3,000-row CSV over 2,400 distinct
// addresses. Every address exists but those whose user number is
// divisible by 7; d5.test is a catch-all.
func New(t testing.TB) *World {
	t.Helper()
	return NewSized(t, Size{Hosts: 4, Domains: 40, Rows: 3000, Distinct: 2400})
}

// NewSized is New with another size.
func NewSized(t testing.TB, size Size) *World {
	t.Helper()
	hosts, domains, rows := size.Hosts, size.Domains, size.Rows
	var zone strings.Builder
	zone.WriteString("$ORIGIN test.\n$TTL 3600\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n")
	ips := make([]string, hosts)
	for h := range hosts {
		ips[h] = fmt.Sprintf("127.0.0.%d", 30+h)
		fmt.Fprintf(&zone, "mx%d IN A %s\n", h, ips[h])
	}
	for d := range domains {
		fmt.Fprintf(&zone, "d%d IN MX 10 mx%d.test.\n", d, d%hosts)
	}
	w := &World{DNS: dnstest.NewServer(t, zone.String()), Rows: rows}
	exists := func(rcpt string) bool {
		var n, d int
		if _, err := fmt.Sscanf(rcpt, "user%d@d%d.test", &n, &d); err != nil {
			return false
		}
		return n%7 != 0
	}
	port, lns := smtptest.Listen(t, ips...)
	w.Port = port
	for _, ln := range lns {
		w.Servers = append(w.Servers, smtptest.Serve(t, ln, smtptest.Options{
			RcptDelay: 4 * time.Millisecond,
			Rcpt: func(rcpt string) (smtptest.Reply, bool) {
				if exists(rcpt) || strings.HasSuffix(rcpt, "@d5.test") {
					return smtptest.Accept(), true
				}
				return smtptest.UserUnknown(), true
			},
		}))
	}
	var b bytes.Buffer
	b.WriteString("Email Address,First Name,Row\n")
	for i := range rows {
		n := i % size.Distinct
		fmt.Fprintf(&b, "user%d@d%d.test,Name %d,%d\n", n, n%domains, i, i)
	}
	w.CSV = b.Bytes()
	return w
}

// Env is the configuration that points Preflight at the world, with the
// politeness limits opened wide, as PREFLIGHT_* variables.
func (w *World) Env() map[string]string {
	return map[string]string{
		"PREFLIGHT_DNS_RESOLVERS":               w.DNS.Addr,
		"PREFLIGHT_PROBE_ALLOW_PRIVATE":         "true",
		"PREFLIGHT_PROBE_PORT":                  fmt.Sprint(w.Port),
		"PREFLIGHT_PROBE_HELO":                  "probe.preflight.test",
		"PREFLIGHT_PROBE_MAIL_FROM":             "verify@preflight.test",
		"PREFLIGHT_PROBE_RATE_PER_HOST":         "1000",
		"PREFLIGHT_PROBE_BURST_PER_HOST":        "1000",
		"PREFLIGHT_PROBE_RCPT_RATE_PER_HOST":    "1000",
		"PREFLIGHT_PROBE_RCPT_BURST_PER_HOST":   "1000",
		"PREFLIGHT_PROBE_MAX_SESSIONS_PER_HOST": "3",
		"PREFLIGHT_JOBS_CONCURRENCY":            "64",
		// The world tests checks, not keys.
		"PREFLIGHT_AUTH_REQUIRED": "false",
	}
}

// Mark returns how many RCPTs each fake has received so far.
func (w *World) Mark() []int {
	out := make([]int, len(w.Servers))
	for i, s := range w.Servers {
		out[i] = s.Rcpts()
	}
	return out
}

// Since returns the RCPTs the fakes received after mark.
func (w *World) Since(mark []int) []string {
	var out []string
	for i, s := range w.Servers {
		out = append(out, s.Recipients()[mark[i]:]...)
	}
	return out
}

package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/syntax"
	"github.com/preflight-email/preflight/verify"

	"github.com/preflight-email/preflight/store"
)

// world is the real pipeline (syntax, lists, DNS, probe, scoring) pointed
// at a fake DNS server and fake MX hosts on 127.0.0.2, 127.0.0.3, …, all on
// one port, as production uses port 25 everywhere.
type world struct {
	v       *verify.Verifier
	probe   *probe.Engine
	servers []*smtptest.Server
	domains []string
}

// newWorld serves nDomains domains (d0.test, d1.test, …) on nHosts MX
// hosts: domain k is on host k%nHosts. opt gives each host its options.
func newWorld(t testing.TB, nHosts, nDomains int, opt func(host int) smtptest.Options, pc probe.Config) *world {
	t.Helper()
	var zone strings.Builder
	zone.WriteString("$ORIGIN test.\n$TTL 3600\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n")
	ips := make([]string, nHosts)
	for h := range nHosts {
		ips[h] = fmt.Sprintf("127.0.0.%d", 2+h)
		fmt.Fprintf(&zone, "mx%d IN A %s\n", h, ips[h])
	}
	w := &world{}
	for k := range nDomains {
		d := fmt.Sprintf("d%d", k)
		w.domains = append(w.domains, d+".test")
		fmt.Fprintf(&zone, "%s IN MX 10 mx%d.test.\n", d, k%nHosts)
	}
	dns := dnstest.NewServer(t, zone.String())
	port, lns := smtptest.Listen(t, ips...)
	for h, ln := range lns {
		w.servers = append(w.servers, smtptest.Serve(t, ln, opt(h)))
	}
	lists, err := disposable.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := mx.New(mx.Config{Resolvers: []string{dns.Addr}, Timeout: 2 * time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	pc.Port, pc.AllowPrivate = port, true
	pc.HELO, pc.MailFrom = "probe.preflight.test", "verify@preflight.test"
	w.probe, err = probe.New(pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.v = verify.New(verify.Config{ProbeEnabled: true, ProbeTimeout: 60 * time.Second, CacheTTL: time.Hour, UnknownTTL: time.Minute, CacheSize: 1 << 20},
		verify.Deps{Lists: lists, Resolver: res, Prober: w.probe, Suggester: syntax.DefaultSuggester()})
	t.Cleanup(func() {
		w.v.Close()
		w.probe.Close()
	})
	return w
}

// sessions and rcpts add up the fakes' counters.
func (w *world) sessions() (n int) {
	for _, s := range w.servers {
		n += s.Sessions()
	}
	return n
}

func (w *world) rcpts() (n int) {
	for _, s := range w.servers {
		n += s.Rcpts()
	}
	return n
}

// listCSV writes n addresses spread over the domains, domain-interleaved
// as real lists are (sorted by signup, not by domain). Addresses whose
// number is a multiple of badEvery (when positive) do not exist.
func listCSV(domains []string, n, badEvery int) (csv string, known map[string]smtptest.Reply) {
	var b strings.Builder
	b.WriteString("Email,First Name\n")
	known = map[string]smtptest.Reply{}
	for i := range n {
		addr := fmt.Sprintf("user%d@%s", i, domains[i%len(domains)])
		if badEvery > 0 && i%badEvery == 0 {
			addr = fmt.Sprintf("bad%d@%s", i, domains[i%len(domains)])
		} else {
			known[addr] = smtptest.Accept()
		}
		fmt.Fprintf(&b, "%s,Name %d\n", addr, i)
	}
	return b.String(), known
}

// TestGroupsByMX runs a list through the real probe and counts what the
// fake MX hosts saw: far fewer sessions than addresses, and one RCPT per
// distinct address plus about one catch-all test per domain.
func TestGroupsByMX(t *testing.T) {
	const n, hosts, domains = 1200, 4, 24
	csv, known := listCSV(domainNames(domains), n, 10)
	w := newWorld(t, hosts, domains, func(int) smtptest.Options {
		return smtptest.Options{Replies: known}
	}, probe.Config{RatePerHost: 1000, BurstPerHost: 1000, RcptRatePerHost: 1000, RcptBurstPerHost: 1000, MaxSessionsPerHost: 2, MaxSessions: 100, BatchSize: 50})
	db, _ := openDB(t, store.SQLite)
	m := newManager(t, db, Config{Concurrency: 256}, w.v)
	st, err := m.Create(context.Background(), strings.NewReader(csv), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, m, st.ID, Done)
	if s.Counts[outcome.Deliverable] != n-n/10 || s.Counts[outcome.Undeliverable] != n/10 {
		t.Errorf("counts %v, reasons %v; want %d deliverable and %d undeliverable", s.Counts, s.Reasons, n-n/10, n/10)
	}
	sessions, rcpts := w.sessions(), w.rcpts()
	t.Logf("%d addresses, %d SMTP sessions, %d RCPTs, probe stats %+v", n, sessions, rcpts, w.probe.Stats())
	if sessions*10 > n {
		t.Errorf("%d sessions for %d addresses: want at least 10× fewer", sessions, n)
	}
	// Besides the tests, the probe asks a domain's random address again
	// (a canary) after accepted answers that followed refusals, to catch
	// anti-harvest switches: about one per batch, and a transaction now
	// stays open over several batches, so they are bounded by the list
	// (at most 5% more RCPTs), not by the transactions.
	if st := w.probe.Stats(); rcpts < n || rcpts > n+2*domains+int(st.Canaries) || int(st.Canaries) > n/20 {
		t.Errorf("%d RCPTs for %d addresses on %d domains, %d canaries in %d transactions", rcpts, n, domains, st.Canaries, st.Transactions)
	}
}

func domainNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("d%d.test", i)
	}
	return out
}

// TestReconnectAfterDrop: a server that hangs up after a few RCPTs, as
// Postfix does after too many errors, costs sessions but no answers.
func TestReconnectAfterDrop(t *testing.T) {
	const n = 150
	csv, known := listCSV(domainNames(3), n, 0)
	w := newWorld(t, 1, 3, func(int) smtptest.Options {
		return smtptest.Options{Replies: known, DropAfterRcpts: 7}
	}, probe.Config{RatePerHost: 1000, BurstPerHost: 1000, RcptRatePerHost: 1000, RcptBurstPerHost: 1000, MaxSessionsPerHost: 2, BatchSize: 20, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	db, _ := openDB(t, store.SQLite)
	m := newManager(t, db, Config{}, w.v)
	st, err := m.Create(context.Background(), strings.NewReader(csv), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, m, st.ID, Done)
	if s.Counts[outcome.Deliverable] != n {
		t.Errorf("counts %v, reasons %v; want all %d deliverable", s.Counts, s.Reasons, n)
	}
	if sess := w.sessions(); sess < n/7 {
		t.Errorf("%d sessions: the server hangs up every 7 RCPTs, so at least %d were needed", sess, n/7)
	}
	t.Logf("%d sessions, probe stats %+v", w.sessions(), w.probe.Stats())
}

// TestGreylistThroughProbe: the fake greylists each address on first
// sight and accepts it afterwards; the job retries after the delay and
// every address ends deliverable, asked exactly twice.
func TestGreylistThroughProbe(t *testing.T) {
	const n = 40
	csv, known := listCSV(domainNames(2), n, 0)
	var mu sync.Mutex
	seen := map[string]int{}
	w := newWorld(t, 1, 2, func(int) smtptest.Options {
		return smtptest.Options{Rcpt: func(rcpt string) (smtptest.Reply, bool) {
			if _, ok := known[rcpt]; !ok {
				return smtptest.UserUnknown(), true
			}
			mu.Lock()
			defer mu.Unlock()
			seen[rcpt]++
			if seen[rcpt] == 1 {
				return smtptest.Reply{Code: 451, Enhanced: "4.7.1", Message: "Greylisted, please try again later"}, true
			}
			return smtptest.Accept(), true
		}}
	}, probe.Config{RatePerHost: 1000, BurstPerHost: 1000, RcptRatePerHost: 1000, RcptBurstPerHost: 1000, BatchSize: 20})
	db, _ := openDB(t, store.SQLite)
	m := newManager(t, db, Config{GreylistDelay: 50 * time.Millisecond, GreylistAttempts: 2}, w.v)
	st, err := m.Create(context.Background(), strings.NewReader(csv), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, m, st.ID, Done)
	if s.Counts[outcome.Deliverable] != n {
		t.Errorf("counts %v, reasons %v; want all %d deliverable", s.Counts, s.Reasons, n)
	}
	mu.Lock()
	defer mu.Unlock()
	for a := range known {
		if seen[a] != 2 {
			t.Errorf("%s asked %d times, want 2", a, seen[a])
		}
	}
}

package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
)

// world is a small internet on loopback: one fake DNS server and one fake MX
// per loopback address, all on the same port (the probe uses one port for
// every host, as production uses 25).
type world struct {
	v    *Verifier
	dns  *dnstest.Server
	smtp map[string]*smtptest.Server
	raw  map[string]*smtptest.RawServer
}

// hosts assigns each fake MX its loopback address. 127.0.0.20 has nothing
// listening: a dead primary.
var hosts = []struct {
	ip   string
	opt  *smtptest.Options
	raw  *smtptest.RawOptions
	name string
}{
	{"127.0.0.2", &smtptest.Options{Replies: map[string]smtptest.Reply{
		"jane@ok.test":           smtptest.Accept(),
		"info@ok.test":           smtptest.Accept(),
		"gone@ok.test":           smtptest.GmailUserUnknown(),
		"disabled@ok.test":       {Code: 550, Enhanced: "5.2.1", Message: "The email account that you tried to reach is disabled."},
		"full@ok.test":           {Code: 452, Enhanced: "4.2.2", Message: "The email account that you tried to reach is over quota."},
		"grey@ok.test":           {Code: 451, Enhanced: "4.7.1", Message: "Greylisted, please try again later"},
		"blocked@ok.test":        {Code: 550, Enhanced: "5.7.1", Message: "Service unavailable, Client host [127.0.0.1] blocked using zen.spamhaus.org"},
		"implicit@implicit.test": smtptest.Accept(),
		"later@ok.test":          {Code: 450, Enhanced: "4.1.1", Message: "<later@ok.test>: Recipient address rejected: User unknown in local recipient table"},
	}}, nil, "mx.ok.test"},
	{"127.0.0.3", &smtptest.Options{Default: smtptest.Accept()}, nil, "mx.catchall.test"},
	{"127.0.0.4", &smtptest.Options{Replies: map[string]smtptest.Reply{"jane@tls.test": smtptest.Accept()}, TLS: true}, nil, "mx.tls.test"},
	{"127.0.0.5", nil, &smtptest.RawOptions{Behavior: smtptest.Tarpit}, "mx.tarpit.test"},
	{"127.0.0.6", nil, &smtptest.RawOptions{Behavior: smtptest.DropAfterEHLO}, "mx.drop.test"},
	{"127.0.0.7", nil, &smtptest.RawOptions{Behavior: smtptest.HELOOnly, Replies: map[string]smtptest.Reply{"jane@helo.test": smtptest.Accept()}}, "mx.helo.test"},
	{"127.0.0.8", &smtptest.Options{Replies: map[string]smtptest.Reply{"josé@utf8.test": smtptest.Accept()}, EnableSMTPUTF8: true}, nil, "mx.utf8.test"},
	{"127.0.0.9", &smtptest.Options{Replies: map[string]smtptest.Reply{"jane@backup.test": smtptest.Accept()}}, nil, "mx2.backup.test"},
	{"127.0.0.10", &smtptest.Options{Default: smtptest.Reply{Code: 421, Enhanced: "4.7.0", Message: "Try again later, closing connection. (rate limited)"}}, nil, "mx.busy.test"},
	{"127.0.0.11", &smtptest.Options{Replies: map[string]smtptest.Reply{"jane@slow.test": smtptest.Accept()}, RcptDelay: 400 * time.Millisecond}, nil, "mx.slow.test"},
	{"127.0.0.12", nil, &smtptest.RawOptions{Behavior: smtptest.EndlessLines}, "mx.endless.test"},
}

const worldZone = `
$ORIGIN test.
$TTL 300
@               IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
ok              IN MX 10 mx.ok.test.
mx.ok           IN A  127.0.0.2
catchall        IN MX 10 mx.catchall.test.
mx.catchall     IN A  127.0.0.3
tls             IN MX 10 mx.tls.test.
mx.tls          IN A  127.0.0.4
tarpit          IN MX 10 mx.tarpit.test.
mx.tarpit       IN A  127.0.0.5
drop            IN MX 10 mx.drop.test.
mx.drop         IN A  127.0.0.6
helo            IN MX 10 mx.helo.test.
mx.helo         IN A  127.0.0.7
utf8            IN MX 10 mx.utf8.test.
mx.utf8         IN A  127.0.0.8
backup          IN MX 10 mx1.backup.test.
backup          IN MX 20 mx2.backup.test.
mx1.backup      IN A  127.0.0.20
mx2.backup      IN A  127.0.0.9
busy            IN MX 10 mx.busy.test.
mx.busy         IN A  127.0.0.10
slow            IN MX 10 mx.slow.test.
mx.slow         IN A  127.0.0.11
endless         IN MX 10 mx.endless.test.
mx.endless      IN A  127.0.0.12
implicit        IN A  127.0.0.2
nullmx          IN MX 0 .
broken          IN MX 10 mx.broken.test.
mailinator.com. IN MX 10 mx.catchall.test.
`

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{smtp: map[string]*smtptest.Server{}, raw: map[string]*smtptest.RawServer{}}
	w.dns = dnstest.NewServer(t, worldZone)
	w.dns.SetRcode("broken.test.", 2) // SERVFAIL

	ips := make([]string, len(hosts))
	for i, h := range hosts {
		ips[i] = h.ip
	}
	port, lns := smtptest.Listen(t, ips...)
	for i, h := range hosts {
		if h.opt != nil {
			h.opt.Domain = h.name
			w.smtp[h.name] = smtptest.Serve(t, lns[i], *h.opt)
		} else {
			w.raw[h.name] = smtptest.ServeRaw(t, lns[i], *h.raw)
		}
	}
	// Nothing may listen on the dead primary's address.
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.20:%d", port)); err == nil {
		c.Close()
		t.Fatal("something listens on the dead primary's address")
	}

	lists, err := disposable.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := mx.New(mx.Config{Resolvers: []string{w.dns.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := probe.New(probe.Config{
		Port: port, HELO: "probe.preflight.test", MailFrom: "verify@preflight.test", AllowPrivate: true,
		ConnectTimeout: time.Second, BannerTimeout: 700 * time.Millisecond, CommandTimeout: time.Second,
		RatePerHost: 100, BurstPerHost: 100, MaxSessionsPerHost: 4, MaxSessions: 50,
		IdleTimeout: 200 * time.Millisecond, MaxAttempts: 1, BackoffMin: 50 * time.Millisecond,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	w.v = New(Config{ProbeEnabled: true, ProbeTimeout: 10 * time.Second, CacheTTL: time.Hour, UnknownTTL: time.Minute, CacheSize: 1000},
		Deps{Lists: lists, Resolver: res, Prober: eng, Suggester: syntax.DefaultSuggester()})
	t.Cleanup(func() {
		w.v.Close()
		eng.Close()
	})
	return w
}

func TestEndToEnd(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		email   string
		verdict outcome.Verdict
		reason  outcome.Reason
		check   func(t *testing.T, r Result)
	}{
		{"jane@ok.test", outcome.Deliverable, outcome.Accepted, func(t *testing.T, r Result) {
			if r.SMTP == nil || r.SMTP.Code != 250 || r.SMTP.Host != "mx.ok.test" {
				t.Errorf("smtp = %+v", r.SMTP)
			}
			if r.Flags.CatchAll {
				t.Error("ok.test rejects unknown users, so it is not catch-all")
			}
		}},
		{"Jane@OK.test", outcome.Deliverable, outcome.Accepted, func(t *testing.T, r Result) {
			if r.Normalized != "Jane@ok.test" {
				t.Errorf("normalized = %q", r.Normalized)
			}
		}},
		{"info@ok.test", outcome.Deliverable, outcome.Accepted, func(t *testing.T, r Result) {
			if !r.Flags.Role {
				t.Error("info@ is a role account")
			}
		}},
		{"gone@ok.test", outcome.Undeliverable, outcome.MailboxNotFound, func(t *testing.T, r Result) {
			if r.SMTP == nil || r.SMTP.Enhanced != "5.1.1" || !strings.Contains(r.SMTP.Message, "gsmtp") {
				t.Errorf("multi-line reply not kept whole: %+v", r.SMTP)
			}
		}},
		{"disabled@ok.test", outcome.Undeliverable, outcome.MailboxDisabled, nil},
		{"full@ok.test", outcome.Risky, outcome.MailboxFull, nil},
		{"grey@ok.test", outcome.Unknown, outcome.Greylisted, nil},
		{"blocked@ok.test", outcome.Unknown, outcome.Blocked, nil},
		{"anyone@catchall.test", outcome.Risky, outcome.CatchAll, func(t *testing.T, r Result) {
			if !r.Flags.CatchAll {
				t.Error("flags.catch_all not set")
			}
		}},
		{"jane@nullmx.test", outcome.Undeliverable, outcome.NoMailServer, nil},
		{"jane@nowhere.test", outcome.Undeliverable, outcome.DomainNotFound, nil},
		{"jane@broken.test", outcome.Unknown, outcome.DNSError, nil},
		{"implicit@implicit.test", outcome.Deliverable, outcome.Accepted, func(t *testing.T, r Result) {
			if len(r.MX) != 1 || r.MX[0] != "implicit.test" {
				t.Errorf("implicit MX = %v", r.MX)
			}
		}},
		{"jane@backup.test", outcome.Deliverable, outcome.Accepted, func(t *testing.T, r Result) {
			if r.SMTP == nil || r.SMTP.Host != "mx2.backup.test" {
				t.Errorf("answer should come from the secondary: %+v", r.SMTP)
			}
		}},
		{"jane@tls.test", outcome.Deliverable, outcome.Accepted, func(t *testing.T, r Result) {
			if r.SMTP == nil || !r.SMTP.TLS {
				t.Errorf("STARTTLS was offered but not used: %+v", r.SMTP)
			}
		}},
		{"jane@tarpit.test", outcome.Unknown, outcome.Timeout, nil}, // our banner timeout fired
		{"jane@drop.test", outcome.Unknown, outcome.ConnectionFailed, nil},
		{"jane@endless.test", outcome.Unknown, outcome.ConnectionFailed, nil},
		{"jane@helo.test", outcome.Deliverable, outcome.Accepted, nil},
		{"josé@utf8.test", outcome.Deliverable, outcome.Accepted, func(t *testing.T, r Result) {
			if !r.Flags.SMTPUTF8 {
				t.Error("flags.smtputf8 not set")
			}
			if w.smtp["mx.utf8.test"].UTF8Mails() == 0 {
				t.Error("MAIL FROM did not carry SMTPUTF8")
			}
		}},
		{"jane@busy.test", outcome.Unknown, outcome.RateLimited, nil},
		// mx.ok.test does not offer SMTPUTF8: no message can reach a
		// non-ASCII local part there (RFC 6531 §3.4).
		{"josé@ok.test", outcome.Undeliverable, outcome.SMTPRejected, func(t *testing.T, r Result) {
			if !strings.Contains(r.Detail, "SMTPUTF8") {
				t.Errorf("detail %q does not say why", r.Detail)
			}
		}},
		{"throwaway@mailinator.com", outcome.Risky, outcome.Disposable, func(t *testing.T, r Result) {
			if r.SMTP != nil || len(r.MX) != 1 {
				t.Errorf("a disposable address gets DNS (mx %v) but no probe (smtp %+v)", r.MX, r.SMTP)
			}
		}},
		// Disposable lists hold typo domains; one that does not exist is
		// undeliverable, not merely risky.
		{"jane@gmial.com", outcome.Undeliverable, outcome.DomainNotFound, func(t *testing.T, r Result) {
			if !r.Flags.Disposable {
				t.Error("gmial.com is on the disposable list")
			}
		}},
		{"jane@@ok.test", outcome.Undeliverable, outcome.InvalidSyntax, nil},
		// A 4xx "user unknown" is no proof: Postfix sends 450 on purpose.
		{"later@ok.test", outcome.Unknown, outcome.SMTPRejected, nil},
		// Valid RFC 5322, but no SMTP path can carry it.
		{`"a>b"@ok.test`, outcome.Unknown, outcome.SMTPRejected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			start := time.Now()
			r := w.v.Verify(ctx, tt.email)
			if r.Verdict != tt.verdict || r.Reason != tt.reason {
				t.Fatalf("Verify(%q) = %s/%s (risk %d, detail %q, smtp %+v), want %s/%s",
					tt.email, r.Verdict, r.Reason, r.Risk, r.Detail, r.SMTP, tt.verdict, tt.reason)
			}
			if ctx.Err() != nil {
				t.Fatalf("check took %s, past its budget", time.Since(start))
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestTimeoutThenCached: a signup form's short budget gets unknown/timeout
// at once, the probe finishes in the background, and the next call gets its
// answer from the cache without a new SMTP session.
func TestTimeoutThenCached(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := w.v.Verify(ctx, "jane@slow.test")
	if r.Verdict != outcome.Unknown || r.Reason != outcome.Timeout {
		t.Fatalf("first call = %s/%s, want unknown/timeout", r.Verdict, r.Reason)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("first call took %s despite a 100ms budget", d)
	}
	if len(r.MX) != 1 {
		t.Errorf("the evidence so far (MX) should be kept: %v", r.MX)
	}
	srv := w.smtp["mx.slow.test"]
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = w.v.Verify(context.Background(), "jane@slow.test")
		if r.Reason != outcome.Timeout || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.Verdict != outcome.Deliverable {
		t.Fatalf("after the background probe: %s/%s, want deliverable", r.Verdict, r.Reason)
	}
	rcpts := srv.Rcpts()
	r = w.v.Verify(context.Background(), "jane@slow.test")
	if r.Verdict != outcome.Deliverable || srv.Rcpts() != rcpts {
		t.Fatalf("third call should come from the cache: %s, RCPTs %d -> %d", r.Verdict, rcpts, srv.Rcpts())
	}
}

// TestConcurrentCallsShareOneProbe: a burst of calls for one address probes
// it once.
func TestConcurrentCallsShareOneProbe(t *testing.T) {
	w := newWorld(t)
	srv := w.smtp["mx.slow.test"]
	done := make(chan Result)
	for range 10 {
		go func() { done <- w.v.Verify(context.Background(), "jane@slow.test") }()
	}
	for range 10 {
		if r := <-done; r.Verdict != outcome.Deliverable {
			t.Errorf("verdict %s/%s", r.Verdict, r.Reason)
		}
	}
	real := 0
	for _, rc := range srv.Recipients() {
		if strings.EqualFold(rc, "jane@slow.test") {
			real++
		}
	}
	if real != 1 {
		t.Fatalf("jane@slow.test was asked %d times, want 1", real)
	}
}

// fakeSuppressions is a suppression list in memory, keyed like the real
// one by syntax.Address.Key.
type fakeSuppressions struct {
	mu      sync.Mutex
	entries map[string]Suppression
	err     error
}

func (f *fakeSuppressions) Lookup(_ context.Context, key string) (Suppression, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[key]
	return e, ok, f.err
}

// TestSuppressedAddress: an address on the suppression list comes back
// undeliverable/suppressed with when and why, without an SMTP probe, and
// an un-suppress takes effect at once. The list is asked by the address's
// key, so a change of case does not escape it.
func TestSuppressedAddress(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	list := &fakeSuppressions{entries: map[string]Suppression{
		"jane@ok.test": {At: at, Reason: outcome.MailboxNotFound, Class: "hard", Source: "api",
			Diagnostic: "smtp; 550 5.1.1 The email account that you tried to reach does not exist. - gsmtp"},
	}}
	w.v.deps.Suppressions = list
	v := New(w.v.cfg, w.v.deps)
	t.Cleanup(func() { v.Close() })

	srv := w.smtp["mx.ok.test"]
	r := v.Verify(ctx, "Jane@OK.test")
	if r.Verdict != outcome.Undeliverable || r.Reason != outcome.Suppressed {
		t.Fatalf("suppressed address = %s/%s, want undeliverable/suppressed", r.Verdict, r.Reason)
	}
	if r.Suppression == nil || !r.Suppression.At.Equal(at) || r.Suppression.Reason != outcome.MailboxNotFound {
		t.Fatalf("suppression details = %+v", r.Suppression)
	}
	if srv.Rcpts() != 0 {
		t.Fatalf("a suppressed address must not be probed; fake saw %d RCPTs", srv.Rcpts())
	}
	list.mu.Lock()
	delete(list.entries, "jane@ok.test")
	list.mu.Unlock()
	if r := v.Verify(ctx, "jane@ok.test"); r.Verdict != outcome.Deliverable {
		t.Fatalf("after un-suppress = %s/%s, want deliverable", r.Verdict, r.Reason)
	}
}

// TestSuppressionListUnreadable: when the list cannot be read, the answer
// is unknown with a detail, never a verdict that ignores the list, and it
// is not cached.
func TestSuppressionListUnreadable(t *testing.T) {
	w := newWorld(t)
	list := &fakeSuppressions{err: errors.New("database is locked")}
	w.v.deps.Suppressions = list
	v := New(w.v.cfg, w.v.deps)
	t.Cleanup(func() { v.Close() })
	r := v.Verify(context.Background(), "jane@ok.test")
	if r.Verdict != outcome.Unknown || r.Detail == "" {
		t.Fatalf("unreadable list: %s/%s %q, want unknown with a detail", r.Verdict, r.Reason, r.Detail)
	}
	list.mu.Lock()
	list.err = nil
	list.mu.Unlock()
	if r := v.Verify(context.Background(), "jane@ok.test"); r.Verdict != outcome.Deliverable {
		t.Fatalf("after the list recovers: %s/%s, want deliverable (the unknown must not be cached)", r.Verdict, r.Reason)
	}
}

// TestRateLimitedRealTime: a signup form's 2-second budget gets
// rate_limited before its deadline, while the probe keeps waiting a
// rate-limited host out only for callers with a long budget.
func TestRateLimitedRealTime(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r := w.v.Verify(ctx, "realtime@busy.test")
	if r.Reason != outcome.RateLimited {
		t.Fatalf("got %s/%s (%q), want unknown/rate_limited", r.Verdict, r.Reason, r.Detail)
	}
	if ctx.Err() != nil {
		t.Fatal("the answer came only at the deadline")
	}
}

// TestCacheTTL: answers that DNS may soon change are kept no longer than
// DNS itself would keep them.
func TestCacheTTL(t *testing.T) {
	v := New(Config{CacheTTL: 24 * time.Hour, UnknownTTL: 5 * time.Minute}, Deps{})
	defer v.Close()
	tests := []struct {
		verdict outcome.Verdict
		reason  outcome.Reason
		want    time.Duration
	}{
		{outcome.Deliverable, outcome.Accepted, 24 * time.Hour},
		{outcome.Undeliverable, outcome.MailboxNotFound, 24 * time.Hour},
		{outcome.Undeliverable, outcome.DomainNotFound, mx.MaxNegativeTTL},
		{outcome.Undeliverable, outcome.NoMailServer, mx.MaxNegativeTTL},
		{outcome.Unknown, outcome.DNSError, 0},
		{outcome.Unknown, outcome.Greylisted, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := v.ttl(Result{Verdict: tt.verdict, Reason: tt.reason}); got != tt.want {
			t.Errorf("ttl(%s/%s) = %s, want %s", tt.verdict, tt.reason, got, tt.want)
		}
	}
}

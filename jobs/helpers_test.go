package jobs

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// ruleVerifier answers from the address's local part, the way the real
// pipeline's verdicts come out, so that the jobs code can be tested
// without the network. It counts every check it is asked for.
//
//	bad…   undeliverable  mailbox_not_found  97
//	full…  risky          mailbox_full       35
//	catch… risky          catch_all          30 (flags.catch_all)
//	grey…  unknown        greylisted         15 (every time)
//	busy…  unknown        rate_limited       20 (every time)
//	no "@" undeliverable  invalid_syntax     100
//	…@gmial.com gets the suggestion …@gmail.com
//	anything else: deliverable, accepted, 2
type ruleVerifier struct {
	// gate, when set, holds every check until it is closed or the check's
	// context ends.
	gate chan struct{}
	// greyFirst makes an address greylisted for its first n checks.
	greyFirst map[string]int

	mu      sync.Mutex
	verify  map[string]int
	recheck map[string]int
	started chan string // when set, receives each key as its check starts
}

func newRuleVerifier() *ruleVerifier {
	return &ruleVerifier{verify: map[string]int{}, recheck: map[string]int{}, greyFirst: map[string]int{}}
}

func (v *ruleVerifier) Verify(ctx context.Context, email string) verify.Result {
	return v.check(ctx, email, false)
}

func (v *ruleVerifier) Recheck(ctx context.Context, email string) verify.Result {
	return v.check(ctx, email, true)
}

func (v *ruleVerifier) check(ctx context.Context, email string, fresh bool) verify.Result {
	v.mu.Lock()
	if fresh {
		v.recheck[email]++
	} else {
		v.verify[email]++
	}
	n := v.verify[email] + v.recheck[email]
	grey := n <= v.greyFirst[email]
	started := v.started
	v.mu.Unlock()
	if started != nil {
		started <- email
	}
	if v.gate != nil {
		select {
		case <-v.gate:
		case <-ctx.Done():
			return verify.Result{Email: email, Verdict: outcome.Unknown, Risk: 50, Reason: outcome.Timeout}
		}
	}
	r := rule(email)
	if grey {
		r.Verdict, r.Reason, r.Risk = outcome.Unknown, outcome.Greylisted, 15
	}
	return r
}

func rule(email string) verify.Result {
	r := verify.Result{Email: email, Normalized: email, MX: []string{}}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		r.Verdict, r.Reason, r.Risk = outcome.Undeliverable, outcome.InvalidSyntax, 100
		r.Normalized = ""
		return r
	}
	local, domain := email[:at], email[at+1:]
	r.MX = []string{"mx." + domain}
	switch {
	case strings.HasPrefix(local, "bad"):
		r.Verdict, r.Reason, r.Risk = outcome.Undeliverable, outcome.MailboxNotFound, 97
	case strings.HasPrefix(local, "full"):
		r.Verdict, r.Reason, r.Risk = outcome.Risky, outcome.MailboxFull, 35
	case strings.HasPrefix(local, "catch"):
		r.Verdict, r.Reason, r.Risk = outcome.Risky, outcome.CatchAll, 30
		r.Flags.CatchAll = true
	case strings.HasPrefix(local, "grey"):
		r.Verdict, r.Reason, r.Risk = outcome.Unknown, outcome.Greylisted, 15
	case strings.HasPrefix(local, "busy"):
		r.Verdict, r.Reason, r.Risk = outcome.Unknown, outcome.RateLimited, 20
	default:
		r.Verdict, r.Reason, r.Risk = outcome.Deliverable, outcome.Accepted, 2
	}
	if domain == "gmial.com" {
		r.Suggestion = local + "@gmail.com"
	}
	return r
}

// calls returns how many checks key got: Verify and Recheck.
func (v *ruleVerifier) calls(key string) (verifies, rechecks int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.verify[key], v.recheck[key]
}

func (v *ruleVerifier) total() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.verify {
		n += c
	}
	for _, c := range v.recheck {
		n += c
	}
	return n
}

// openDB opens a fresh store on engine and returns it with its URL, for
// reopenDB. The tests of the storage run once per engine (storetest.Each);
// the tests of the runner and the benchmarks use SQLite.
func openDB(t testing.TB, engine store.Dialect) (*store.DB, string) {
	t.Helper()
	url := storetest.URL(t, engine)
	return reopenDB(t, url), url
}

// reopenDB opens the store at url again, as a restarted process does.
func reopenDB(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newManager builds and starts a Manager on db; it is closed at the end of
// the test.
func newManager(t testing.TB, db *store.DB, cfg Config, v Verifier) *Manager {
	t.Helper()
	m, err := New(context.Background(), cfg, db, Deps{Verifier: v, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// waitState polls a job until it reaches state; the deadline only keeps a
// broken test from hanging.
func waitState(t testing.TB, m *Manager, id string, want State) Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := m.Status(context.Background(), id)
		if err != nil {
			t.Fatalf("status of %s: %v", id, err)
		}
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s (%d/%d) after 30s, want %s", id, s.Status, s.Processed, s.Total, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tableCounts returns the number of rows in each jobs table.
func tableCounts(t testing.TB, db *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"jobs", "job_rows", "job_addresses", "job_counts"} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitIdle waits until the Manager's queue has no River job available or
// running: every piece of work queued so far has been done.
func waitIdle(t *testing.T, m *Manager) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := m.q.counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c[rivertype.JobStateAvailable]+c[rivertype.JobStateRunning] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue is still busy: %v", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

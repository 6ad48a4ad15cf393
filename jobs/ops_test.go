package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/netguard"
	"github.com/preflight-email/preflight/outcome"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// TestDeleteCancels deletes a running job: its checks stop, its data is
// gone, and its id is unknown afterwards.
func TestDeleteCancels(t *testing.T) { storetest.Each(t, testDeleteCancels) }

func testDeleteCancels(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	v := newRuleVerifier()
	v.gate = make(chan struct{}) // never opened: every check hangs
	v.started = make(chan string, 1000)
	m := newManager(t, db, Config{Concurrency: 4}, v)
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 50 {
		fmt.Fprintf(&b, "c%d@cancel.example\n", i)
	}
	st, err := m.Create(context.Background(), strings.NewReader(b.String()), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		<-v.started // the window is full and waiting
	}
	if s, _ := m.Status(context.Background(), st.ID); s.Status != Running {
		t.Fatalf("status %s, want running", s.Status)
	}
	if err := m.Export(context.Background(), st.ID, io.Discard, ExportOptions{}); !errors.Is(err, ErrNotDone) {
		t.Errorf("export of a running job: %v, want ErrNotDone", err)
	}
	if err := m.Delete(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Status(context.Background(), st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("status after delete: %v, want ErrNotFound", err)
	}
	if err := m.Delete(context.Background(), st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	for tbl, n := range tableCounts(t, db) {
		if n != 0 {
			t.Errorf("%s has %d rows after delete", tbl, n)
		}
	}
	if n := v.total(); n != 4 {
		t.Errorf("%d checks started, want only the 4 of the window", n)
	}
}

// TestStartRemovesLeftovers: an upload cut short by a crash and a
// deletion cut short are both cleaned up by the next Start. On a shared
// store (PostgreSQL) an upload begun a minute ago may be another
// instance's, still arriving: it is left alone until it is older than
// DefaultSharedUploadGrace.
func TestStartRemovesLeftovers(t *testing.T) { storetest.Each(t, testStartRemovesLeftovers) }

func testStartRemovesLeftovers(t *testing.T, engine store.Dialect) {
	db, path := openDB(t, engine)
	m1, err := New(context.Background(), Config{}, db, Deps{Verifier: newRuleVerifier()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	half := jobRecord{id: "half", created: time.Now().Add(-DefaultSharedUploadGrace - time.Minute), delimiter: ','}
	if err := m1.st.createJob(ctx, &half); err != nil {
		t.Fatal(err)
	}
	live := jobRecord{id: "live", created: time.Now().Add(-time.Minute), delimiter: ','}
	if err := m1.st.createJob(ctx, &live); err != nil {
		t.Fatal(err)
	}
	if err := m1.st.appendRows(ctx, half.pk, []row{{line: 2, key: "a@x.example", domain: "x.example", fields: []string{"a@x.example"}}}); err != nil {
		t.Fatal(err)
	}
	gone := jobRecord{id: "gone", created: time.Now().Add(-time.Minute), delimiter: ','}
	if err := m1.st.createJob(ctx, &gone); err != nil {
		t.Fatal(err)
	}
	if err := m1.st.appendRows(ctx, gone.pk, []row{{line: 2, key: "b@x.example", domain: "x.example", fields: []string{"b@x.example"}}}); err != nil {
		t.Fatal(err)
	}
	if err := m1.st.commitJob(ctx, gone.pk, 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.st.setState(ctx, gone.pk, Canceled, "", Queued); err != nil {
		t.Fatal(err)
	}
	newManager(t, reopenDB(t, path), Config{}, newRuleVerifier())
	want := 0 // SQLite: one process owns the file, so "live" was this one's
	if engine != store.SQLite {
		want = 1
	}
	if n := tableCounts(t, db)["jobs"]; n != want {
		t.Errorf("jobs has %d rows after Start, want %d", n, want)
	}
	for tbl, n := range tableCounts(t, db) {
		if tbl != "jobs" && n != 0 {
			t.Errorf("%s has %d rows after Start", tbl, n)
		}
	}
}

// TestExportOptions: the verdict filter, formula neutralisation and its
// raw override, and JSONL.
func TestExportOptions(t *testing.T) { storetest.Each(t, testExportOptions) }

func testExportOptions(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{}, newRuleVerifier())
	in := "Email,Note\n" +
		"ok@x.example,=HYPERLINK(\"http://evil.example\")\n" +
		"bad@x.example,+1\n" +
		"catch@x.example,@cmd\n" +
		"full@x.example,\"\tTabbed\"\n" +
		"ok2@x.example,-2\n"
	st, err := m.Create(context.Background(), strings.NewReader(in), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, Done)
	tests := []struct {
		name string
		opts ExportOptions
		want string
	}{
		{"neutralised", ExportOptions{}, "Email,Note,preflight_verdict,preflight_risk,preflight_reason,preflight_suggestion\n" +
			"ok@x.example,\"'=HYPERLINK(\"\"http://evil.example\"\")\",deliverable,2,accepted,\n" +
			"bad@x.example,+1,undeliverable,97,mailbox_not_found,\n" +
			"catch@x.example,'@cmd,risky,30,catch_all,\n" +
			"full@x.example,'\tTabbed,risky,35,mailbox_full,\n" +
			"ok2@x.example,-2,deliverable,2,accepted,\n"},
		{"raw", ExportOptions{Raw: true, Verdicts: []outcome.Verdict{outcome.Undeliverable}}, "Email,Note,preflight_verdict,preflight_risk,preflight_reason,preflight_suggestion\n" +
			"bad@x.example,+1,undeliverable,97,mailbox_not_found,\n"},
		{"keep", ExportOptions{Verdicts: []outcome.Verdict{outcome.Deliverable, outcome.Risky}}, "Email,Note,preflight_verdict,preflight_risk,preflight_reason,preflight_suggestion\n" +
			"ok@x.example,\"'=HYPERLINK(\"\"http://evil.example\"\")\",deliverable,2,accepted,\n" +
			"catch@x.example,'@cmd,risky,30,catch_all,\n" +
			"full@x.example,'\tTabbed,risky,35,mailbox_full,\n" +
			"ok2@x.example,-2,deliverable,2,accepted,\n"},
		{"jsonl", ExportOptions{Format: JSONL, Verdicts: []outcome.Verdict{outcome.Risky}},
			`{"line":4,"fields":{"Email":"catch@x.example","Note":"@cmd"},"result":{"email":"catch@x.example","normalized":"catch@x.example","verdict":"risky","risk":30,"reason":"catch_all","suggestion":"","flags":{"role":false,"disposable":false,"free":false,"catch_all":true,"smtputf8":false},"mx":["mx.x.example"],"smtp":null,"duration_ms":0,"timings_ms":{"dns":0,"connect":0,"tls":0,"smtp":0}}}` + "\n" +
				`{"line":5,"fields":{"Email":"full@x.example","Note":"\tTabbed"},"result":{"email":"full@x.example","normalized":"full@x.example","verdict":"risky","risk":35,"reason":"mailbox_full","suggestion":"","flags":{"role":false,"disposable":false,"free":false,"catch_all":false,"smtputf8":false},"mx":["mx.x.example"],"smtp":null,"duration_ms":0,"timings_ms":{"dns":0,"connect":0,"tls":0,"smtp":0}}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := m.Export(context.Background(), st.ID, &out, tt.opts); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
	for _, bad := range []ExportOptions{{Format: "xml"}, {Verdicts: []outcome.Verdict{"maybe"}}} {
		var out bytes.Buffer
		if err := m.Export(context.Background(), st.ID, &out, bad); !errors.Is(err, ErrFormat) || out.Len() > 0 {
			t.Errorf("%+v: %v, %d bytes written", bad, err, out.Len())
		}
	}
	if err := m.Export(context.Background(), "nope", io.Discard, ExportOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

// TestSummary checks the projected bounce rate and the advice at each
// threshold.
func TestSummary(t *testing.T) {
	d := func(rows, risk int64) tally {
		return tally{Verdict: outcome.Deliverable, Reason: outcome.Accepted, Rows: rows, Risk: rows * risk}
	}
	r := func(rows, risk int64) tally {
		return tally{Verdict: outcome.Risky, Reason: outcome.CatchAll, Rows: rows, Risk: rows * risk}
	}
	u := func(rows int64) tally {
		return tally{Verdict: outcome.Undeliverable, Reason: outcome.MailboxNotFound, Rows: rows, Risk: rows * 97}
	}
	k := func(rows int64) tally {
		return tally{Verdict: outcome.Unknown, Reason: outcome.Greylisted, Rows: rows, Risk: rows * 15}
	}
	tests := []struct {
		name      string
		state     State
		tallies   []tally
		projected *float64
		safe      *bool
		advice    []string
	}{
		{"healthy", Done, []tally{d(990, 0), r(10, 30), u(40)}, ptr(0.003), ptr(true),
			[]string{"Safe to send.", "0.30%", "Remove the 40 undeliverable rows", "4.02%"}},
		{"just under healthy", Done, []tally{d(950, 0), r(50, 9)}, ptr(0.0045), ptr(true), []string{"Safe to send.", "0.45%"}},
		{"with care", Done, []tally{d(900, 1), r(100, 6)}, ptr(0.015), ptr(true),
			[]string{"Safe to send with care", "1.50%", "within the 2%", "?verdict=deliverable", "1.00%"}},
		{"at the throttle line", Done, []tally{d(100, 2)}, ptr(0.02), ptr(true), []string{"Safe to send with care", "2.00%"}},
		{"over the throttle line", Done, []tally{d(100, 3)}, ptr(0.03), ptr(false), []string{"Not safe to send", "3.00%", "Even the deliverable rows"}},
		{"throttle", Done, []tally{d(500, 1), r(500, 50), k(3)}, ptr(0.255), ptr(false),
			[]string{"Not safe to send", "25.50%", "only the deliverable rows", "1.00%", "3 rows got no definite answer"}},
		{"nothing to keep", Done, []tally{u(10)}, nil, ptr(false), []string{"Not safe to send: no row is deliverable or risky"}},
		{"running", Running, []tally{d(10, 2)}, ptr(0.02), nil, []string{"In progress: 10 of 100 rows checked", "2.00%"}},
		{"queued", Queued, nil, nil, nil, []string{"Queued"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Status{Status: tt.state, Total: 100}
			s.summarize(tt.tallies)
			if !eqPtr(s.ProjectedBounceRate, tt.projected) {
				t.Errorf("projected %v, want %v", deref(s.ProjectedBounceRate), deref(tt.projected))
			}
			if !eqPtr(s.SafeToSend, tt.safe) {
				t.Errorf("safe %v, want %v", deref(s.SafeToSend), deref(tt.safe))
			}
			for _, w := range tt.advice {
				if !strings.Contains(s.Advice, w) {
					t.Errorf("advice %q lacks %q", s.Advice, w)
				}
			}
			var sum int64
			for _, n := range s.Counts {
				sum += n
			}
			if sum != s.Processed {
				t.Errorf("counts %v add up to %d, processed %d", s.Counts, sum, s.Processed)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestInterleave(t *testing.T) {
	page := []address{{key: "a1", domain: "a"}, {key: "a2", domain: "a"}, {key: "a3", domain: "a"},
		{key: "b1", domain: "b"}, {key: "c1", domain: "c"}, {key: "c2", domain: "c"}}
	var got []string
	for _, a := range interleave(page, 2) {
		got = append(got, a.key)
	}
	if want := "a1 a2 b1 c1 c2 a3"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestBlocked(t *testing.T) {
	for _, tt := range []struct {
		ip      string
		blocked bool
	}{
		{"127.0.0.1", true}, {"127.9.9.9", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true},
		{"192.168.1.1", true}, {"169.254.169.254", true}, {"fe80::1", true}, {"fc00::1", true},
		{"224.0.0.1", true}, {"ff02::1", true}, {"0.0.0.0", true}, {"::", true}, {"0.1.2.3", true},
		{"100.64.0.1", true}, {"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true},
		{"203.0.113.9", true}, {"8.8.8.8", false}, {"2001:4860:4860::8888", false}, {"172.32.0.1", false},
		// Reserved and special-purpose IPv4.
		{"192.0.0.8", true}, {"192.0.1.1", false}, {"198.18.0.1", true}, {"198.19.255.255", true},
		{"198.20.0.1", false}, {"240.0.0.1", true}, {"255.255.255.255", true}, {"100.127.255.255", true},
		{"100.128.0.1", false}, {"223.255.255.255", false},
		// NAT64: as allowed as the IPv4 address inside.
		{"64:ff9b::127.0.0.1", true}, {"64:ff9b::10.0.0.1", true}, {"64:ff9b::169.254.169.254", true},
		{"64:ff9b::8.8.8.8", false}, {"64:ff9b:1::8.8.8.8", true},
		// 6to4: the IPv4 address is in bits 16-47.
		{"2002:7f00:1::1", true}, {"2002:a9fe:a9fe::", true}, {"2002:c0a8:101:1::1", true},
		{"2002:808:808::1", false},
		// IPv4-compatible and IPv4-translated.
		{"::127.0.0.1", true}, {"::8.8.8.8", true}, {"::ffff:0:8.8.8.8", true},
	} {
		if got := !(&netguard.Dialer{}).Allowed(netip.MustParseAddr(tt.ip)); got != tt.blocked {
			t.Errorf("refused(%s) = %v, want %v", tt.ip, got, tt.blocked)
		}
	}
}

// failingStorage fails every save.
type failingStorage struct{ storage }

var errDiskFull = errors.New("disk full")

func (failingStorage) save(context.Context, int64, []answer) error { return errDiskFull }

// TestStorageFailureFailsJob: when results cannot be committed, the job
// ends failed, with a message that names no internals, and its callback
// is still sent.
func TestStorageFailureFailsJob(t *testing.T) { storetest.Each(t, testStorageFailureFailsJob) }

func testStorageFailureFailsJob(t *testing.T, engine store.Dialect) {
	hook := newHookServer(t, 0)
	db, _ := openDB(t, engine)
	m, err := New(context.Background(), Config{WebhookAllowPrivate: true}, db, Deps{Verifier: newRuleVerifier()})
	if err != nil {
		t.Fatal(err)
	}
	m.st = failingStorage{m.st}
	m.saveTries, m.saveWait = 2, time.Millisecond
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.Create(context.Background(), strings.NewReader("email\na@x.example\nb@x.example\n"), CreateOptions{CallbackURL: hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, m, st.ID, Failed)
	if s.Error != "results could not be stored" || strings.Contains(s.Advice, "disk") {
		t.Errorf("error %q, advice %q", s.Error, s.Advice)
	}
	select {
	case <-hook.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no callback for the failed job")
	}
	if err := m.Export(context.Background(), st.ID, io.Discard, ExportOptions{}); !errors.Is(err, ErrNotDone) {
		t.Errorf("export of a failed job: %v", err)
	}
}

// TestETASeconds: the projection is left × elapsed / done, without the
// int64 overflow of doing it in nanoseconds.
func TestETASeconds(t *testing.T) {
	for _, tt := range []struct {
		left, done int64
		elapsed    time.Duration
		want       int64
	}{
		{1_000_000, 200_000, 3 * time.Hour, 54_000},
		{5_000_000, 1, 24 * time.Hour, 432_000_000_000},
		{100, 100, 10 * time.Second, 10},
		{1, 3, time.Second, 0},
		{2, 3, time.Second, 1},
		{0, 50, time.Minute, 0},
	} {
		if got := etaSeconds(tt.left, tt.done, tt.elapsed); got != tt.want {
			t.Errorf("etaSeconds(%d, %d, %v) = %d, want %d", tt.left, tt.done, tt.elapsed, got, tt.want)
		}
	}
}

// cancelAtFinish cancels the job, as Delete does first, just before the
// runner records its end.
type cancelAtFinish struct{ storage }

func (c cancelAtFinish) finish(ctx context.Context, pk int64, to State, errMsg string) (bool, error) {
	if _, err := c.setState(ctx, pk, Canceled, "", Queued, Running); err != nil {
		return false, err
	}
	return c.storage.finish(ctx, pk, to, errMsg)
}

// TestNoCallbackAfterCancel: a job canceled (being deleted) as it finishes
// stays canceled and sends no callback.
func TestNoCallbackAfterCancel(t *testing.T) { storetest.Each(t, testNoCallbackAfterCancel) }

func testNoCallbackAfterCancel(t *testing.T, engine store.Dialect) {
	hook := newHookServer(t, 0)
	db, _ := openDB(t, engine)
	m, err := New(context.Background(), Config{WebhookAllowPrivate: true}, db, Deps{Verifier: newRuleVerifier(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	m.st = cancelAtFinish{m.st}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.Create(context.Background(), strings.NewReader("email\na@x.example\n"), CreateOptions{CallbackURL: hook.URL})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, Canceled)
	// A callback would be a River job queued before the chunk left
	// m.runs; once it has left and the queue is idle, any callback has
	// been delivered.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.runs)
		m.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the runner did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitIdle(t, m)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.calls != 0 {
		t.Errorf("%d callbacks for a canceled job: %s", hook.calls, hook.bodies)
	}
	if s, err := m.Status(context.Background(), st.ID); err != nil || s.Status != Canceled {
		t.Errorf("status %+v, %v; want canceled", s, err)
	}
}

package suppression

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
	"github.com/preflight-email/preflight/store"
)

// base is the tests' "now"; every event carries an explicit time.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// Replies used across tests.
const (
	hardMsg  = "smtp; 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in local recipient table"
	softMsg  = "452 4.2.2 Mailbox full"
	blockMsg = "550 5.7.1 Service unavailable, MailFrom domain is listed in Spamhaus. To request removal from this list see https://www.spamhaus.org/query/lookup/ (S8002)"
	rateMsg  = "421 4.7.0 Try again later, closing connection. (EHLO) - gsmtp"
)

// newList opens a list in a fresh store on engine. The tests of the list
// run once per engine (storetest.Each).
func newList(t testing.TB, engine store.Dialect, p Policy) (*List, *store.DB) {
	t.Helper()
	db := storetest.Open(t, engine)
	l, err := New(context.Background(), db, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, db
}

func ingest(t *testing.T, l *List, evs ...Event) []Applied {
	t.Helper()
	out, err := l.Ingest(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ev(email, msg string, at time.Time) Event {
	return Event{Email: email, Message: msg, At: at, Source: SourceAPI}
}

func lookup(t *testing.T, l *List, email string) (Entry, bool) {
	t.Helper()
	e, ok, err := l.Lookup(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return e, ok
}

func TestPolicyDefaults(t *testing.T) { storetest.Each(t, testPolicyDefaults) }

func testPolicyDefaults(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{})
	if p := l.Policy(); p.SoftLimit != 3 || p.SoftWindow != 30*day {
		t.Fatalf("defaults = %+v, want 3 and 30 days", p)
	}
}

func TestHardSuppressesAtOnce(t *testing.T) { storetest.Each(t, testHardSuppressesAtOnce) }

func testHardSuppressesAtOnce(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{})
	at := base.Add(-time.Hour)
	got := ingest(t, l, ev("Jane.Doe@Example.COM", hardMsg, at))
	a := got[0]
	if !a.Suppressed || a.Class != reply.Hard || a.Reason != outcome.MailboxNotFound || a.Action != reply.Suppress ||
		a.Email != "jane.doe@example.com" || a.Code != 550 || a.Enhanced != "5.1.1" {
		t.Fatalf("applied = %+v", a)
	}
	// Any spelling of the address finds the entry.
	for _, q := range []string{"jane.doe@example.com", "JANE.DOE@EXAMPLE.COM", " <Jane.Doe@example.com.> "} {
		e, ok := lookup(t, l, q)
		if !ok {
			t.Fatalf("Lookup(%q) found nothing", q)
		}
		want := Entry{Email: "jane.doe@example.com", Reason: outcome.MailboxNotFound, Class: reply.Hard, Code: 550,
			Enhanced: "5.1.1", Diagnostic: hardMsg, Explanation: a.Explanation, SuppressedAt: at, FirstEventAt: at,
			LastEventAt: at, SoftCount: 0, Source: SourceAPI}
		if e != want {
			t.Fatalf("entry = %+v\nwant    %+v", e, want)
		}
	}
	if _, ok := lookup(t, l, "someone.else@example.com"); ok {
		t.Fatal("an address never bounced is suppressed")
	}
}

func TestSoftLimitWindow(t *testing.T) { storetest.Each(t, testSoftLimitWindow) }

func testSoftLimitWindow(t *testing.T, engine store.Dialect) {
	w := 30 * day
	tests := []struct {
		name       string
		offsets    []time.Duration // event times after base, in arrival order
		suppressed []bool          // after each event
		first      time.Duration   // the entry's FirstEventAt, when suppressed
		reached    time.Duration   // its SuppressedAt
	}{
		{"three within a day", []time.Duration{0, time.Hour, 2 * time.Hour}, []bool{false, false, true}, 0, 2 * time.Hour},
		// The boundary is inclusive: first and third exactly SoftWindow apart.
		{"exactly at the boundary", []time.Duration{0, 15 * day, w}, []bool{false, false, true}, 0, w},
		{"one second outside", []time.Duration{0, 15 * day, w + time.Second}, []bool{false, false, false}, 0, 0},
		{"one millisecond outside", []time.Duration{0, 15 * day, w + time.Millisecond}, []bool{false, false, false}, 0, 0},
		// A later window can still fill up.
		{"outside, then a fourth inside", []time.Duration{0, 15 * day, w + time.Second, w + 2*time.Second},
			[]bool{false, false, false, true}, 15 * day, w + 2*time.Second},
		// Webhooks arrive out of order: the window is found around each event.
		{"out of order, boundary", []time.Duration{w, 0, 15 * day}, []bool{false, false, true}, 0, w},
		{"out of order, outside", []time.Duration{w + time.Second, 0, 15 * day}, []bool{false, false, false}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newList(t, engine, Policy{SoftLimit: 3, SoftWindow: w})
			for i, off := range tt.offsets {
				a := ingest(t, l, ev("soft@example.com", softMsg, base.Add(off)))[0]
				if a.Class != reply.Soft || a.Reason != outcome.MailboxFull {
					t.Fatalf("event %d classified %s/%s", i, a.Class, a.Reason)
				}
				if a.Suppressed != tt.suppressed[i] || a.SoftCount != i+1 {
					t.Fatalf("after event %d: suppressed %v soft_count %d, want %v %d", i, a.Suppressed, a.SoftCount, tt.suppressed[i], i+1)
				}
			}
			e, ok := lookup(t, l, "soft@example.com")
			want := tt.suppressed[len(tt.suppressed)-1]
			if ok != want {
				t.Fatalf("Lookup found %v, want %v", ok, want)
			}
			if ok && (e.Class != reply.Soft || e.Reason != outcome.MailboxFull || !e.FirstEventAt.Equal(base.Add(tt.first)) ||
				!e.SuppressedAt.Equal(base.Add(tt.reached)) || e.SoftCount != len(tt.offsets)) {
				t.Fatalf("entry = %+v; want first %v, suppressed at %v", e, base.Add(tt.first), base.Add(tt.reached))
			}
		})
	}
}

func TestSoftLimitIsConfigurable(t *testing.T) { storetest.Each(t, testSoftLimitIsConfigurable) }

func testSoftLimitIsConfigurable(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{SoftLimit: 1, SoftWindow: time.Hour})
	if a := ingest(t, l, ev("once@example.com", softMsg, base))[0]; !a.Suppressed {
		t.Fatal("SoftLimit 1: one soft bounce must suppress")
	}
}

func TestBlockNeverSuppresses(t *testing.T) { storetest.Each(t, testBlockNeverSuppresses) }

func testBlockNeverSuppresses(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{SoftLimit: 1})
	var evs []Event
	for i := range 5 {
		evs = append(evs, ev("victim@example.com", blockMsg, base.Add(-time.Duration(i)*time.Hour)))
	}
	for i, a := range ingest(t, l, evs...) {
		if a.Class != reply.Block || a.Action != reply.FixSender || a.Suppressed || a.SoftCount != 0 {
			t.Fatalf("block %d: %+v", i, a)
		}
	}
	if _, ok := lookup(t, l, "victim@example.com"); ok {
		t.Fatal("a block suppressed the address")
	}
	h, err := l.Health(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	w := h.Last7
	if !w.Flagged || w.Classes.Block.Count != 5 || w.Classes.Block.Rate != 1 || len(w.Signals) != 1 {
		t.Fatalf("health = %+v", w)
	}
	s := w.Signals[0]
	if s.Kind != KindBlocklist || s.Name != "spamhaus" || s.Count != 5 || !s.LastSeen.Equal(base) ||
		!strings.Contains(s.Advice, "delisting needed at Spamhaus: https://check.spamhaus.org") {
		t.Fatalf("signal = %+v", s)
	}
}

func TestUncountedSoftBounces(t *testing.T) { storetest.Each(t, testUncountedSoftBounces) }

func testUncountedSoftBounces(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{SoftLimit: 2})
	for _, msg := range []string{
		rateMsg, // the receiver throttles the sender
		"552 5.3.4 Message size exceeds fixed maximum message size", // the message, not the address
		"250 2.0.0 OK", // not a bounce at all
		"550 rejected", // nothing definite: unknown
	} {
		for i := range 3 {
			a := ingest(t, l, ev("u@example.com", msg, base.Add(time.Duration(i)*time.Minute)))[0]
			if a.Suppressed || a.SoftCount != 0 {
				t.Fatalf("%q: %+v", msg, a)
			}
		}
	}
	// Each reply is a distinct event (different text), so all twelve count.
	h, err := l.Health(context.Background(), base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if h.Last7.Events != 12 {
		t.Fatalf("events = %d, want 12", h.Last7.Events)
	}
}

func TestUnsuppressThenHardResuppresses(t *testing.T) {
	storetest.Each(t, testUnsuppressThenHardResuppresses)
}

func testUnsuppressThenHardResuppresses(t *testing.T, engine store.Dialect) {
	ctx := context.Background()
	l, db := newList(t, engine, Policy{})
	first := ev("back@example.com", hardMsg, base.Add(-2*day))
	ingest(t, l, first)

	if _, err := l.Remove(ctx, "back@example.com", "  "); !errors.Is(err, ErrReasonRequired) {
		t.Fatalf("blank reason: err = %v", err)
	}
	ok, err := l.Remove(ctx, "BACK@example.com", "customer confirmed the mailbox works")
	if err != nil || !ok {
		t.Fatalf("Remove = %v, %v", ok, err)
	}
	if _, found := lookup(t, l, "back@example.com"); found {
		t.Fatal("still suppressed after Remove")
	}
	if ok, err := l.Remove(ctx, "back@example.com", "again"); err != nil || ok {
		t.Fatalf("second Remove = %v, %v; want false", ok, err)
	}
	var reason, prev string
	if err := db.QueryRowContext(ctx, db.Rebind(`SELECT reason, previous_reason FROM suppression_removals WHERE email = ?`),
		"back@example.com").Scan(&reason, &prev); err != nil || reason != "customer confirmed the mailbox works" || prev != "mailbox_not_found" {
		t.Fatalf("audit row = %q %q, %v", reason, prev, err)
	}

	// The old bounce redelivered is a duplicate: it must not undo the removal.
	if a := ingest(t, l, first)[0]; !a.Duplicate || a.Suppressed {
		t.Fatalf("redelivered old bounce: %+v", a)
	}
	// A new hard bounce suppresses again.
	again := base.Add(-time.Hour)
	if a := ingest(t, l, ev("back@example.com", hardMsg, again))[0]; a.Duplicate || !a.Suppressed {
		t.Fatalf("new hard bounce: %+v", a)
	}
	if e, found := lookup(t, l, "back@example.com"); !found || !e.SuppressedAt.Equal(again) {
		t.Fatalf("entry = %+v, %v", e, found)
	}
}

func TestUnsuppressResetsSoftCount(t *testing.T) { storetest.Each(t, testUnsuppressResetsSoftCount) }

func testUnsuppressResetsSoftCount(t *testing.T, engine store.Dialect) {
	ctx := context.Background()
	l, _ := newList(t, engine, Policy{SoftLimit: 3, SoftWindow: 30 * day})
	for i := range 3 {
		ingest(t, l, ev("s@example.com", softMsg, base.Add(time.Duration(i)*time.Hour)))
	}
	if _, ok := lookup(t, l, "s@example.com"); !ok {
		t.Fatal("three soft bounces did not suppress")
	}
	if ok, err := l.Remove(ctx, "s@example.com", "mailbox cleaned up"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The three old soft bounces no longer count: one more is one, not four.
	for i := range 2 {
		a := ingest(t, l, ev("s@example.com", softMsg, base.Add(time.Duration(3+i)*time.Hour)))[0]
		if a.Suppressed || a.SoftCount != i+1 {
			t.Fatalf("soft %d after removal: %+v", i, a)
		}
	}
	if a := ingest(t, l, ev("s@example.com", softMsg, base.Add(5*time.Hour)))[0]; !a.Suppressed || a.SoftCount != 3 {
		t.Fatalf("third soft after removal: %+v", a)
	}
}

func TestHardReplacesSoftReason(t *testing.T) { storetest.Each(t, testHardReplacesSoftReason) }

func testHardReplacesSoftReason(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{SoftLimit: 1})
	ingest(t, l, ev("x@example.com", softMsg, base))
	ingest(t, l, ev("x@example.com", hardMsg, base.Add(time.Hour)), ev("x@example.com", blockMsg, base.Add(2*time.Hour)))
	e, ok := lookup(t, l, "x@example.com")
	if !ok || e.Class != reply.Hard || e.Reason != outcome.MailboxNotFound || !e.SuppressedAt.Equal(base) ||
		!e.LastEventAt.Equal(base.Add(2*time.Hour)) || e.SoftCount != 1 {
		t.Fatalf("entry = %+v", e)
	}
}

func TestDuplicateDeliveryCountedOnce(t *testing.T) {
	storetest.Each(t, testDuplicateDeliveryCountedOnce)
}

func testDuplicateDeliveryCountedOnce(t *testing.T, engine store.Dialect) {
	ctx := context.Background()
	l, db := newList(t, engine, Policy{SoftLimit: 2})
	body := readWebhook(t, "postmark_soft.json")
	for i := range 3 {
		evs, err := ParseEvents(body, "application/json")
		if err != nil {
			t.Fatal(err)
		}
		a := ingest(t, l, evs...)[0]
		if a.Duplicate != (i > 0) || a.SoftCount != 1 || a.Suppressed {
			t.Fatalf("delivery %d: %+v", i, a)
		}
	}
	// Our own JSON without an id: the same address, time and text is one event.
	own := ev("own@example.com", softMsg, base)
	got := ingest(t, l, own, own)
	if got[0].Duplicate || !got[1].Duplicate || got[1].SoftCount != 1 {
		t.Fatalf("same batch twice: %+v", got)
	}
	// SES: both recipients of one notification are distinct events, and a
	// redelivery of the notification adds nothing.
	sns := readWebhook(t, "ses_sns_permanent.json")
	for range 2 {
		evs, err := ParseEvents(sns, "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		ingest(t, l, evs...)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM suppression_events`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("stored events = %d, %v; want 4 (postmark 1, own 1, ses 2)", n, err)
	}
}

func TestIngestRejectsBadAddressBeforeWriting(t *testing.T) {
	storetest.Each(t, testIngestRejectsBadAddressBeforeWriting)
}

func testIngestRejectsBadAddressBeforeWriting(t *testing.T, engine store.Dialect) {
	ctx := context.Background()
	l, db := newList(t, engine, Policy{})
	for _, bad := range []string{"no-at-sign", "@example.com", "x@", "two words@example.com", strings.Repeat("a", 65) + "@example.com"} {
		_, err := l.Ingest(ctx, []Event{ev("good@example.com", hardMsg, base), ev(bad, hardMsg, base)})
		if !errors.Is(err, ErrInvalidAddress) || !strings.Contains(err.Error(), "event 1") {
			t.Fatalf("%q: err = %v", bad, err)
		}
		if _, _, err := l.Lookup(ctx, bad); !errors.Is(err, ErrInvalidAddress) {
			t.Fatalf("Lookup(%q): err = %v", bad, err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM suppression_events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("stored events = %d, %v; want 0", n, err)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Jane.Doe@Example.COM", "jane.doe@example.com"},
		{"<a@b.example>", "a@b.example"},
		{"rfc822; A@B.example", "a@b.example"},
		{"x@Bücher.example", "x@xn--bcher-kva.example"},
		{"x@example.com.", "x@example.com"},
		{"Ä.Doe@example.com", "ä.doe@example.com"},
	}
	for _, bad := range []string{"we@ird@example.com", "a b@example.com", "x@[127.0.0.1]"} {
		if _, _, err := normalize(bad); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("normalize(%q): err = %v, want ErrInvalidAddress", bad, err)
		}
	}
	for _, tt := range tests {
		got, _, err := normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestConcurrentIngest(t *testing.T) { storetest.Each(t, testConcurrentIngest) }

// Two instances share the store: each soft bounce still counts once.
func testConcurrentIngest(t *testing.T, engine store.Dialect) {
	url := storetest.URL(t, engine)
	var ls []*List
	for range 2 {
		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		l, err := New(context.Background(), db, Policy{SoftLimit: 5, SoftWindow: day}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
	}
	l := ls[0]
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			e := ev("busy@example.com", softMsg, base.Add(time.Duration(g)*time.Minute))
			if _, err := ls[g%2].Ingest(context.Background(), []Event{e}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e, ok := lookup(t, l, "busy@example.com")
	if !ok || e.SoftCount != 8 {
		t.Fatalf("entry = %+v, %v; want suppressed with 8 soft bounces", e, ok)
	}
}

// TestLookupCacheSeesWrites: a cached "not suppressed" must not hide a
// bounce ingested a moment later, nor a cached entry an un-suppress.
func TestLookupCacheSeesWrites(t *testing.T) { storetest.Each(t, testLookupCacheSeesWrites) }

func testLookupCacheSeesWrites(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{})
	ctx := context.Background()
	if _, ok, err := l.Lookup(ctx, "cache@example.com"); err != nil || ok {
		t.Fatalf("fresh lookup = %v, %v; want not suppressed", ok, err)
	}
	if _, err := l.Ingest(ctx, []Event{{Email: "cache@example.com", Message: "550 5.1.1 User unknown", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.Lookup(ctx, "cache@example.com"); err != nil || !ok {
		t.Fatalf("after a hard bounce: %v, %v; want suppressed", ok, err)
	}
	if _, err := l.Remove(ctx, "cache@example.com", "confirmed by the customer"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.Lookup(ctx, "cache@example.com"); err != nil || ok {
		t.Fatalf("after un-suppress: %v, %v; want not suppressed", ok, err)
	}
}

// TestComplaintSuppresses: an event carrying a complained diagnosis (an
// ARF report read by package bounce) suppresses at once, keeps its reason
// when a hard bounce follows, and is idempotent.
func TestComplaintSuppresses(t *testing.T) { storetest.Each(t, testComplaintSuppresses) }

func testComplaintSuppresses(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{})
	d := reply.Diagnosis{Class: reply.Unknown, Reason: outcome.Complained, Action: reply.Suppress, Explanation: "complaint"}
	e := Event{Email: "reader@example.net", Message: "Feedback-Type: abuse", At: base, Source: SourceMail, ID: "mid:1/reader@example.net", Diagnosis: &d}
	got := ingest(t, l, e, e)
	if !got[0].Suppressed || got[0].Reason != outcome.Complained || got[0].Duplicate || !got[1].Duplicate {
		t.Fatalf("applied = %+v", got)
	}
	ingest(t, l, ev("reader@example.net", hardMsg, base.Add(time.Hour)))
	ent, ok := lookup(t, l, "reader@example.net")
	if !ok || ent.Reason != outcome.Complained || ent.Source != SourceMail {
		t.Fatalf("entry = %+v", ent)
	}
	// A caller's diagnosis is used as given, not re-read from Message.
	soft := reply.Diagnosis{Class: reply.Soft, Reason: outcome.MailboxFull, Action: reply.Retry}
	got = ingest(t, l, Event{Email: "other@example.net", Message: hardMsg, At: base, Diagnosis: &soft})
	if got[0].Class != reply.Soft || got[0].Suppressed {
		t.Fatalf("applied = %+v", got[0])
	}
}

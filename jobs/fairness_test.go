package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/probe"

	"github.com/preflight-email/preflight/store"
)

// listAt is a CSV of n addresses per domain.
func listAt(domains []string, n int) string {
	var b strings.Builder
	b.WriteString("email\n")
	for _, d := range domains {
		for i := range n {
			fmt.Fprintf(&b, "user%d@%s\n", i, d)
		}
	}
	return b.String()
}

// fairProbe paces each fake host at 400 RCPTs a second, so that a list
// of a few thousand addresses takes seconds.
var fairProbe = probe.Config{RatePerHost: 100, BurstPerHost: 10, RcptRatePerHost: 400, RcptBurstPerHost: 20, MaxSessionsPerHost: 2, MaxSessions: 50}

// TestHostsWorkedAtOnce: a job whose list is three big domains on three
// hosts keeps all three hosts busy from the start, instead of working one
// domain after the other.
func TestHostsWorkedAtOnce(t *testing.T) {
	w := newWorld(t, 3, 3, func(int) smtptest.Options { return smtptest.Options{Default: smtptest.Accept()} }, fairProbe)
	db, _ := openDB(t, store.SQLite)
	m := newManager(t, db, Config{}, w.v)
	st, err := m.Create(context.Background(), strings.NewReader(listAt(w.domains, 1000)), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// When the first host has answered a third of its addresses, the
	// others must have been asked too. (The deadline only keeps a broken
	// test from hanging.)
	deadline := time.Now().Add(60 * time.Second)
	for {
		first := max(w.servers[0].Rcpts(), w.servers[1].Rcpts(), w.servers[2].Rcpts())
		if first >= 333 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no host reached a third of its addresses")
		}
		time.Sleep(2 * time.Millisecond)
	}
	for i, s := range w.servers {
		if s.Rcpts() == 0 {
			t.Errorf("host %d had not been asked anything while another had answered a third of its list", i)
		}
	}
	waitState(t, m, st.ID, Done)
}

// TestSmallJobNotStarved: a small list started behind a big one finishes
// long before it. The big one is 9,000 addresses at 150 RCPTs a second per
// host (at least 20 s, as its first domain's 3,000 addresses share one
// host); the small one is 30 addresses on the same hosts. Chunks run for
// one second before they snooze, as in production they run ChunkTime
// (30 s) against lists that take hours, so the workers turn over and the
// small job's plan and chunk (River priority 1) go before the big job's
// later chunks (priority 4). The big job is deleted at the end rather
// than waited for.
func TestSmallJobNotStarved(t *testing.T) {
	slow := fairProbe
	slow.RcptRatePerHost = 150
	w := newWorld(t, 3, 6, func(int) smtptest.Options { return smtptest.Options{Default: smtptest.Accept()} }, slow)
	db, _ := openDB(t, store.SQLite)
	m := newManager(t, db, Config{ChunkTime: time.Second}, w.v)
	big, err := m.Create(context.Background(), strings.NewReader(listAt(w.domains[:3], 3000)), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Let the big job fill its share first.
	deadline := time.Now().Add(30 * time.Second)
	for w.servers[0].Rcpts() == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	small, err := m.Create(context.Background(), strings.NewReader(listAt(w.domains[3:], 10)), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, small.ID, Done)
	st, err := m.Status(context.Background(), big.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status == Done || st.Processed > st.Total*3/4 {
		t.Errorf("the small job finished only when the big one had %d of %d addresses done (%s)", st.Processed, st.Total, st.Status)
	}
	if err := m.Delete(context.Background(), big.ID); err != nil {
		t.Fatal(err)
	}
}

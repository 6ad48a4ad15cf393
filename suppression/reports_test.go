package suppression

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

func TestExportCSV(t *testing.T) { storetest.Each(t, testExportCSV) }

func testExportCSV(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{})
	ingest(t, l,
		ev("=2+5@example.com", hardMsg, base.Add(-3*time.Hour)),
		ev("-cmd@example.com", "550 5.1.1 -user unknown", base.Add(-2*time.Hour)),
		ev("at@example.com", "smtp; 550 5.1.1 =HYPERLINK(\"http://attacker.example\")", base.Add(-90*time.Minute)),
		ev("plain@example.com", "550 5.1.1 \"quoted\", with comma\nand newline", base.Add(-time.Hour)),
		ev("blocked@example.com", blockMsg, base),
	)
	var buf bytes.Buffer
	if err := l.Export(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "export.golden.csv"), buf.Bytes())
	for _, line := range strings.Split(buf.String(), "\n") {
		for _, cell := range strings.Split(line, ",") {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Fatalf("cell %q in line %q starts like a formula", cell, line)
			}
		}
	}
	if strings.Contains(buf.String(), "blocked@example.com") {
		t.Fatal("a blocked address was exported as suppressed")
	}
}

func TestHealth(t *testing.T) { storetest.Each(t, testHealth) }

func testHealth(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{})
	ingest(t, l,
		ev("a@gmail.com", "550 5.1.1 The email account that you tried to reach does not exist. - gsmtp", base.Add(-1*day)),
		ev("b@example.org", hardMsg, base.Add(-10*day)),
		ev("c@example.org", softMsg, base.Add(-2*day)),
		ev("d@outlook.com", blockMsg, base.Add(-3*day)),
		ev("e@comcast.net", "550 5.2.0 Message rejected due to DMARC", base.Add(-20*day)),
		ev("f@gmail.com", rateMsg, base.Add(-5*day)),
		ev("g@example.org", "550 rejected", base.Add(-6*day)),
		ev("h@example.org", "550 5.7.1 Client host [192.0.2.1] blocked using bl.spamcop.net", base.Add(-7*day)), // the 7-day boundary, inclusive
		ev("old@example.org", hardMsg, base.Add(-31*day)),                                                       // outside both windows
		ev("future@example.org", hardMsg, base.Add(time.Hour)),                                                  // after now
	)
	h, err := l.Health(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	// Hand-counted: 7 days hold a, c, d, f, g, h; 30 days add b and e.
	c7, c30 := h.Last7.Classes, h.Last30.Classes
	if h.Last7.Events != 6 || c7.Hard.Count != 1 || c7.Soft.Count != 2 || c7.Block.Count != 2 || c7.Unknown.Count != 1 {
		t.Fatalf("7 days: %d events, %+v", h.Last7.Events, c7)
	}
	if h.Last30.Events != 8 || c30.Hard.Count != 2 || c30.Soft.Count != 2 || c30.Block.Count != 3 || c30.Unknown.Count != 1 {
		t.Fatalf("30 days: %d events, %+v", h.Last30.Events, c30)
	}
	if c30.Block.Rate != 0.375 || c7.Hard.Rate != 0.1667 {
		t.Fatalf("rates: block(30) %v hard(7) %v", c30.Block.Rate, c7.Hard.Rate)
	}
	// a and b (hard) are on the list, and so is future@ (suppressed after now,
	// so counted in neither window); old@ was suppressed 31 days ago.
	if h.Last7.Suppressed != 1 || h.Last30.Suppressed != 2 {
		t.Fatalf("suppressed: %d / %d", h.Last7.Suppressed, h.Last30.Suppressed)
	}
	kinds := map[string]string{}
	for _, s := range h.Last30.Signals {
		kinds[s.Kind+":"+s.Name] = s.Advice
	}
	for sig, advice := range map[string]string{
		"blocklist:spamhaus":   "delisting needed at Spamhaus",
		"blocklist:spamcop":    "delisting needed at SpamCop",
		"authentication:dmarc": "check SPF/DKIM/DMARC alignment",
		"rate_limit:":          "slow down: the receiver is rate-limiting you",
	} {
		if !strings.Contains(kinds[sig], advice) {
			t.Errorf("signal %s: advice %q, want it to say %q", sig, kinds[sig], advice)
		}
	}
	if len(kinds) != 4 {
		t.Errorf("signals = %v, want 4", kinds)
	}
	if !h.Last7.Flagged || !h.Last30.Flagged {
		t.Error("blocks in the window must flag it")
	}
	got, _ := jsonIndent(h)
	golden(t, filepath.Join("testdata", "health.golden.json"), got)
}

func TestHealthEmpty(t *testing.T) { storetest.Each(t, testHealthEmpty) }

func testHealthEmpty(t *testing.T, engine store.Dialect) {
	l, _ := newList(t, engine, Policy{})
	h, err := l.Health(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if h.Last30.Events != 0 || h.Last30.Flagged || h.Last30.Classes.Hard.Rate != 0 || h.Last30.Signals == nil {
		t.Fatalf("empty health = %+v", h.Last30)
	}
}

func ExampleList_Ingest() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "suppression-example")
	defer os.RemoveAll(dir)
	db, _ := store.Open(ctx, "sqlite://"+filepath.Join(dir, "preflight.db"))
	defer db.Close()
	list, _ := New(ctx, db, Policy{SoftLimit: 3, SoftWindow: 30 * 24 * time.Hour}, nil)
	defer list.Close()

	evs, _ := ParseEvents([]byte(`{"email": "Jane@Example.com",
		"message": "smtp; 550 5.1.1 The email account that you tried to reach does not exist. - gsmtp",
		"at": "2026-03-01T10:00:00Z"}`), "application/json")
	applied, _ := list.Ingest(ctx, evs)
	fmt.Println(applied[0].Class, applied[0].Reason, applied[0].Action, applied[0].Suppressed)

	e, ok, _ := list.Lookup(ctx, "jane@example.com")
	fmt.Println(ok, e.Reason, e.SuppressedAt.Format(time.RFC3339))
	// Output:
	// hard mailbox_not_found suppress true
	// true mailbox_not_found 2026-03-01T10:00:00Z
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

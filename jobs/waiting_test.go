package jobs

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/outcome"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// TestWaitingGreylisted: a job whose only unsettled address is greylisted
// says it is waiting, until when, with an ETA that counts the wait; its
// partial results stream with that row marked; and finishing it early
// keeps the greylisted answer and ends the job.
func TestWaitingGreylisted(t *testing.T) { storetest.Each(t, testWaitingGreylisted) }

func testWaitingGreylisted(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{GreylistDelay: time.Hour, GreylistAttempts: 3}, newRuleVerifier())
	st, err := m.Create(context.Background(), strings.NewReader("email,name\nok@x.example,Ann\ngrey@x.example,Bob\nbad@x.example,Cy\n"), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err = m.Status(context.Background(), st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Phase == "waiting" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never waiting: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st.Status != Running || st.Waiting == nil || st.Waiting.Addresses != 1 {
		t.Fatalf("status %s, waiting %+v; want running with 1 address waiting", st.Status, st.Waiting)
	}
	if until := time.Until(st.Waiting.Until); until < 50*time.Minute {
		t.Errorf("waiting until %s, want about an hour from now", st.Waiting.Until)
	}
	if st.ETASeconds == nil || *st.ETASeconds < 50*60 {
		t.Errorf("ETA %v s, want at least the wait (an hour)", st.ETASeconds)
	}
	if !strings.Contains(st.Waiting.Message, "finish") {
		t.Errorf("message %q does not say how to finish early", st.Waiting.Message)
	}

	// Results are not served yet, but partial results are.
	if err := m.Export(context.Background(), st.ID, &bytes.Buffer{}, ExportOptions{}); !errors.Is(err, ErrNotDone) {
		t.Errorf("export of a waiting job: %v, want ErrNotDone", err)
	}
	var partial bytes.Buffer
	if err := m.Export(context.Background(), st.ID, &partial, ExportOptions{Partial: true}); err != nil {
		t.Fatal(err)
	}
	want := "email,name,preflight_verdict,preflight_risk,preflight_reason,preflight_suggestion\n" +
		"ok@x.example,Ann,deliverable,2,accepted,\n" +
		"grey@x.example,Bob,,,pending,\n" +
		"bad@x.example,Cy,undeliverable,97,mailbox_not_found,\n"
	if partial.String() != want {
		t.Errorf("partial export:\n%s\nwant:\n%s", partial.String(), want)
	}

	fin, err := m.Finish(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fin.Processed != 3 {
		t.Errorf("processed %d after finish, want 3", fin.Processed)
	}
	done := waitState(t, m, st.ID, Done)
	if done.Reasons[outcome.Greylisted] != 1 || done.Counts[outcome.Unknown] != 1 {
		t.Errorf("counts %v, reasons %v; want the greylisted row kept as unknown/greylisted", done.Counts, done.Reasons)
	}
	var out bytes.Buffer
	if err := m.Export(context.Background(), st.ID, &out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "grey@x.example,Bob,unknown,15,greylisted,") {
		t.Errorf("final export:\n%s", out.String())
	}
	if _, err := m.Finish(context.Background(), st.ID); !errors.Is(err, ErrNotDone) {
		t.Errorf("finishing a done job: %v, want ErrNotDone", err)
	}
}

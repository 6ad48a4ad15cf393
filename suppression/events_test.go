package suppression

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// parsed is the golden form of one parsed event: the event as read and how
// it classifies (text first, the ESP's type as fallback).
type parsed struct {
	Event       Event  `json:"event"`
	Class       string `json:"class"`
	Reason      string `json:"reason"`
	Action      string `json:"action"`
	Provider    string `json:"provider"`
	Blocklist   string `json:"blocklist"`
	Signal      string `json:"signal"`
	CountsSoft  bool   `json:"counts_soft"`
	Explanation string `json:"explanation"`
}

func TestParseEvents(t *testing.T) {
	tests := []struct {
		file, contentType string
		n                 int // events expected
	}{
		{"own_single.json", "application/json", 1},
		{"own_array.json", "application/json; charset=utf-8", 3},
		{"postmark_hard.json", "application/json", 1},
		{"postmark_soft.json", "application/json", 1},
		{"postmark_spam.json", "application/json", 1},
		// SNS posts JSON as text/plain by default.
		{"ses_sns_permanent.json", "text/plain; charset=UTF-8", 2},
		{"ses_sns_transient.json", "text/plain; charset=UTF-8", 1},
		{"ses_raw.json", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readWebhook(t, tt.file)
			evs, err := ParseEvents(body, tt.contentType)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.n {
				t.Fatalf("got %d events, want %d", len(evs), tt.n)
			}
			out := make([]parsed, len(evs))
			for i, e := range evs {
				d := diagnose(e)
				out[i] = parsed{Event: e, Class: string(d.Class), Reason: string(d.Reason), Action: string(d.Action),
					Provider: d.Provider, Blocklist: d.Blocklist, Signal: signalOf(d, e.Message),
					CountsSoft: countsAsSoft(d), Explanation: d.Explanation}
			}
			got, _ := json.MarshalIndent(out, "", "  ")
			golden(t, filepath.Join("testdata", "parsed", strings.TrimSuffix(tt.file, ".json")+".golden.json"), append(got, '\n'))
		})
	}
}

// TestParseEventsClassification pins the decisions the golden files show,
// so that a regenerated golden file cannot hide a wrong one.
func TestParseEventsClassification(t *testing.T) {
	tests := []struct {
		file          string
		i             int
		email, source string
		class, reason string
		id            string
	}{
		// Own JSON: the text decides.
		{"own_single.json", 0, "Jane.Doe@Example.COM", SourceAPI, "hard", "mailbox_not_found", ""},
		{"own_array.json", 0, "ann@example.org", SourceAPI, "soft", "mailbox_full", "evt-1001"},
		// A 5.7.1 blocklist refusal is a block, not a hard bounce.
		{"own_array.json", 1, "bob@example.net", SourceAPI, "block", "blocked", ""},
		// Postmark: the Details text decides when it says something.
		{"postmark_hard.json", 0, "gone@gmail.com", SourcePostmark, "hard", "mailbox_not_found", "4323372036854775807"},
		// "Test bounce details" says nothing: Postmark's SoftBounce decides.
		{"postmark_soft.json", 0, "full@example.com", SourcePostmark, "soft", "smtp_rejected", "4323372036854775808"},
		{"postmark_spam.json", 0, "filter@corp.example", SourcePostmark, "block", "blocked", "4323372036854775809"},
		// SES: the diagnosticCode decides; without one, the status code.
		{"ses_sns_permanent.json", 0, "nobody@outlook.com", SourceSES, "hard", "mailbox_not_found",
			"0102018e0a1b2c3d-4e5f6a7b-8c9d-0e1f-2a3b-4c5d6e7f8a9b-000000/nobody@outlook.com"},
		{"ses_sns_permanent.json", 1, "Missing@Example.com", SourceSES, "hard", "mailbox_not_found",
			"0102018e0a1b2c3d-4e5f6a7b-8c9d-0e1f-2a3b-4c5d6e7f8a9b-000000/missing@example.com"},
		{"ses_sns_transient.json", 0, "busy@yahoo.com", SourceSES, "soft", "mailbox_full",
			"0102018e0a1b2c3d-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000/busy@yahoo.com"},
		{"ses_raw.json", 0, "later@example.com", SourceSES, "soft", "timeout",
			"0102018e0a1b2c3d-11111111-2222-3333-4444-555555555555-000000/later@example.com"},
	}
	for _, tt := range tests {
		evs, err := ParseEvents(readWebhook(t, tt.file), "")
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		e := evs[tt.i]
		d := diagnose(e)
		if e.Email != tt.email || e.Source != tt.source || e.ID != tt.id || string(d.Class) != tt.class || string(d.Reason) != tt.reason {
			t.Errorf("%s[%d]: email %q source %s id %q class %s reason %s; want %q %s %q %s %s",
				tt.file, tt.i, e.Email, e.Source, e.ID, d.Class, d.Reason, tt.email, tt.source, tt.id, tt.class, tt.reason)
		}
	}
}

func TestParseEventsRejects(t *testing.T) {
	tests := []struct {
		file, contentType string
		want              error
		mentions          string // the message must name the problem
	}{
		{"sns_subscription.json", "text/plain", ErrSubscriptionConfirmation,
			"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"},
		{"ses_complaint.json", "", ErrNotBounce, `"Complaint"`},
		{"postmark_delivery.json", "", ErrNotBounce, `RecordType "Delivery"`},
		{"malformed_syntax.json", "", ErrMalformed, "invalid JSON"},
		{"malformed_unknown.json", "", ErrMalformed, "unrecognised object"},
		{"malformed_own_no_email.json", "", ErrMalformed, `"email" is required`},
		{"malformed_own_bad_at.json", "", ErrMalformed, `"at" "yesterday" is not an RFC 3339 time`},
		{"malformed_ses_no_recipients.json", "", ErrMalformed, "bouncedRecipients"},
		{"malformed_sns_message.json", "", ErrMalformed, "not an SES notification"},
		{"malformed_wrong_type.json", "", ErrMalformed, `field "email" has the wrong type`},
		{"own_single.json", "text/csv", ErrMalformed, "want application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.contentType, func(t *testing.T) {
			evs, err := ParseEvents(readWebhook(t, tt.file), tt.contentType)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v (%d events), want %v", err, len(evs), tt.want)
			}
			if !strings.Contains(err.Error(), tt.mentions) {
				t.Fatalf("error %q does not mention %q", err, tt.mentions)
			}
		})
	}
	for _, body := range []string{"", "   ", "null", "[]", "42", "<xml/>"} {
		if _, err := ParseEvents([]byte(body), ""); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEvents(%q) err = %v, want ErrMalformed", body, err)
		}
	}
}

func readWebhook(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

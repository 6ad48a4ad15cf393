package verify

import (
	"testing"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/syntax"
)

func newOffline(tb testing.TB) *Verifier {
	tb.Helper()
	lists, err := disposable.New()
	if err != nil {
		tb.Fatal(err)
	}
	return New(Config{}, Deps{Lists: lists, Suggester: syntax.DefaultSuggester()})
}

// offlineMix is a realistic spread of inputs for the offline path.
var offlineMix = []string{
	"jane.doe@example.com",
	"John.Smith@Example.COM",
	"info@acme-widgets.com",
	"someone@gmial.com",
	"throwaway@mailinator.com",
	"x@sub.guerrillamail.com",
	"not an address",
	"user+tag@gmail.com",
	"\"quoted local\"@example.org",
	"sales@yahoo.co.uk",
	"a@b",
	"bob@hotmail.con",
}

func TestOffline(t *testing.T) {
	v := newOffline(t)
	tests := []struct {
		email      string
		verdict    outcome.Verdict
		reason     outcome.Reason
		suggestion string
		role, free bool
	}{
		{"jane.doe@example.com", outcome.Unknown, outcome.Timeout, "", false, false},
		{"info@acme-widgets.com", outcome.Unknown, outcome.RoleAccount, "", true, false},
		{"someone@yaho.com", outcome.Unknown, outcome.Timeout, "yahoo.com", false, true},
		{"throwaway@mailinator.com", outcome.Risky, outcome.Disposable, "", false, false},
		{"not an address", outcome.Undeliverable, outcome.InvalidSyntax, "", false, false},
		{"jane+tag@gmail.com", outcome.Unknown, outcome.Timeout, "", false, true},
	}
	for _, tt := range tests {
		r := v.Offline(tt.email)
		if r.Verdict != tt.verdict || r.Reason != tt.reason || r.Suggestion != tt.suggestion ||
			r.Flags.Role != tt.role || r.Flags.Free != tt.free {
			t.Errorf("Offline(%q) = %s/%s suggestion %q role %v free %v; want %s/%s %q %v %v",
				tt.email, r.Verdict, r.Reason, r.Suggestion, r.Flags.Role, r.Flags.Free,
				tt.verdict, tt.reason, tt.suggestion, tt.role, tt.free)
		}
	}
}

// BenchmarkOffline measures syntax, lists and scoring for one address with
// no network: the path every address takes first.
func BenchmarkOffline(b *testing.B) {
	v := newOffline(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = v.Offline(offlineMix[i%len(offlineMix)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "addrs/s")
}

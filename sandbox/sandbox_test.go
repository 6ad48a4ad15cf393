package sandbox_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/sandbox"
)

func TestEveryAnswer(t *testing.T) {
	want := map[string][2]string{
		"deliverable":   {"deliverable", "accepted"},
		"undeliverable": {"undeliverable", "mailbox_not_found"},
		"catchall":      {"risky", "catch_all"},
		"disposable":    {"risky", "disposable"},
		"greylisted":    {"unknown", "greylisted"},
		"blocked":       {"unknown", "blocked"},
		"timeout":       {"unknown", "timeout"},
		"anyone":        {"deliverable", "accepted"},
	}
	for local, w := range want {
		r := sandbox.Verifier{}.Verify(context.Background(), local+"@Example.COM")
		if string(r.Verdict) != w[0] || string(r.Reason) != w[1] {
			t.Errorf("%s@: %s/%s, want %s/%s", local, r.Verdict, r.Reason, w[0], w[1])
		}
		if r.Normalized != local+"@example.com" {
			t.Errorf("%s@: normalized %q", local, r.Normalized)
		}
	}
	if r := (sandbox.Verifier{}).Verify(context.Background(), "not an address"); r.Reason != outcome.InvalidSyntax {
		t.Errorf("invalid address: %s", r.Reason)
	}
	if len(sandbox.LocalParts()) != 7 {
		t.Error("LocalParts")
	}
}

// The sandbox opens no socket: its Verifier holds no resolver and no
// prober, so it has nothing to dial with. This test cuts the default
// resolver off and checks real-looking domains still answer, without a
// single lookup. (The handler tests check that a test key never reaches
// the live verifier.)
func TestNoNetwork(t *testing.T) {
	orig := net.DefaultResolver
	t.Cleanup(func() { net.DefaultResolver = orig })
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		t.Errorf("sandbox dialled %s %s", network, address)
		return nil, fmt.Errorf("no network in tests")
	}}
	for _, lp := range sandbox.LocalParts() {
		sandbox.Verifier{}.Verify(context.Background(), lp+"@gmail.com")
	}
}

func ExampleVerifier() {
	r := sandbox.Verifier{}.Verify(context.Background(), "undeliverable@shop.example")
	fmt.Println(r.Verdict, r.Reason, r.SMTP.Code)
	// Output: undeliverable mailbox_not_found 550
}

package jobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/verify"
)

// domainVerifier is a stand-in for *verify.Verifier: every address at
// example.com exists, nothing else does.
type domainVerifier struct{}

func (domainVerifier) Verify(_ context.Context, email string) verify.Result {
	if strings.HasSuffix(email, "@example.com") {
		return verify.Result{Email: email, Verdict: outcome.Deliverable, Risk: 2, Reason: outcome.Accepted}
	}
	return verify.Result{Email: email, Verdict: outcome.Undeliverable, Risk: 99, Reason: outcome.DomainNotFound}
}

func (v domainVerifier) Recheck(ctx context.Context, email string) verify.Result {
	return v.Verify(ctx, email)
}

func ExampleManager() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "jobs-example")
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "preflight.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	m, err := jobs.New(ctx, jobs.Config{}, db, jobs.Deps{Verifier: domainVerifier{}})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	m.Start(ctx)

	list := "Email,Name\njane@example.com,Jane\nbob@exmaple.com,Bob\njane@example.com,Jane again\n"
	st, err := m.Create(ctx, strings.NewReader(list), jobs.CreateOptions{})
	if err != nil {
		panic(err)
	}
	for st.Status != jobs.Done {
		time.Sleep(10 * time.Millisecond)
		st, _ = m.Status(ctx, st.ID)
	}
	fmt.Println(st.Total, "rows,", st.Addresses, "distinct addresses:", st.Counts)
	m.Export(ctx, st.ID, os.Stdout, jobs.ExportOptions{Verdicts: []outcome.Verdict{outcome.Deliverable}})
	// Output:
	// 3 rows, 2 distinct addresses: map[deliverable:2 risky:0 undeliverable:1 unknown:0]
	// Email,Name,preflight_verdict,preflight_risk,preflight_reason,preflight_suggestion
	// jane@example.com,Jane,deliverable,2,accepted,
	// jane@example.com,Jane again,deliverable,2,accepted,
}

// v1 matches `printf %s 1767225600.BODY | openssl dgst -sha256 -hmac s3cret`.
func ExampleSign() {
	body := []byte(`{"id":"0f3c","status":"done"}`)
	sent := time.Unix(1767225600, 0)
	sig := jobs.Sign("s3cret", sent, body)
	fmt.Println(sig)
	// The receiver checks it, refusing timestamps more than 5 minutes off.
	fmt.Println(jobs.Verify("s3cret", sig, body, 5*time.Minute, sent.Add(time.Minute)))
	fmt.Println(jobs.Verify("s3cret", sig, body, 5*time.Minute, sent.Add(time.Hour)))
	// Output:
	// t=1767225600,v1=dd7d8a1ff59c428f5feb277d864c436579d95ee23a322dc31962848bcb00d5c2
	// <nil>
	// jobs: callback timestamp outside the tolerance (a replay?)
}

package verify_test

import (
	"fmt"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/syntax"
	"github.com/preflight-email/preflight/verify"
)

// The offline stages need no network: here a mistyped address and a
// disposable one.
func ExampleVerifier_Offline() {
	lists, err := disposable.New()
	if err != nil {
		panic(err)
	}
	v := verify.New(verify.Config{}, verify.Deps{Lists: lists, Suggester: syntax.DefaultSuggester()})
	defer v.Close()

	for _, email := range []string{"Jane.Doe@YAHO.com", "throwaway@mailinator.com", "jane@@example.com"} {
		r := v.Offline(email)
		fmt.Printf("%s: %s/%s risk %d suggestion %q\n", r.Normalized, r.Verdict, r.Reason, r.Risk, r.Suggestion)
	}
	// Output:
	// Jane.Doe@yaho.com: unknown/timeout risk 20 suggestion "yahoo.com"
	// throwaway@mailinator.com: risky/disposable risk 60 suggestion ""
	// : undeliverable/invalid_syntax risk 100 suggestion ""
}

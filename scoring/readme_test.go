package scoring

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/internal/readme"
)

var update = flag.Bool("update", false, "rewrite the scoring table in README.md")

// TestREADMETable keeps the README's scoring table identical to the rules.
func TestREADMETable(t *testing.T) {
	var b strings.Builder
	b.WriteString("| # | when | verdict | risk | reason |\n|---|---|---|---|---|\n")
	for i, r := range Rules() {
		fmt.Fprintf(&b, "| %d | %s | `%s` | %d | `%s` |\n", i+1, r.When, r.Verdict, r.Risk, r.Reason)
	}
	if err := readme.Section("../README.md", "scoring-table", b.String(), *update); err != nil {
		t.Fatal(err)
	}
}

package syntax_test

import (
	"errors"
	"fmt"

	"github.com/preflight-email/preflight/syntax"
)

func ExampleParse() {
	for _, s := range []string{
		"Jane.Doe@Example.COM",
		`"jane"@bücher.de`,
		"josé@example.com",
		"Jane Doe <jane@example.com>",
	} {
		a, err := syntax.Parse(s)
		if errors.Is(err, syntax.ErrDisplayName) {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(a.Normalized, a.SMTPUTF8)
	}
	// Output:
	// Jane.Doe@example.com false
	// jane@xn--bcher-kva.de false
	// josé@example.com true
	// error: the address has a display name or angle brackets; give only the bare address (name@example.com)
}

func ExampleSuggester_Suggest() {
	s := syntax.DefaultSuggester() // build once, share everywhere
	for _, d := range []string{"gmial.com", "hotmail.con", "acme-widgets.con", "example.org", "gmail.com"} {
		fmt.Printf("%s -> %q\n", d, s.Suggest(d))
	}
	// Output:
	// gmial.com -> "gmail.com"
	// hotmail.con -> "hotmail.com"
	// acme-widgets.con -> "acme-widgets.com"
	// example.org -> ""
	// gmail.com -> ""
}

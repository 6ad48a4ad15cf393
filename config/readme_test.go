package config

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/readme"
)

var update = flag.Bool("update", false, "rewrite the configuration table in README.md")

// TestREADMETable keeps the README's configuration table identical to the
// keys and their defaults.
func TestREADMETable(t *testing.T) {
	keys := Keys()
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("| key | default | environment |\n|---|---|---|\n")
	for _, k := range names {
		def := fmt.Sprint(keys[k])
		switch v := keys[k].(type) {
		case []string:
			def = strings.Join(v, ",")
			switch {
			case def != "":
			case k == "dns.resolvers":
				def = "(the system's, from /etc/resolv.conf)"
			default:
				def = "(none)"
			}
		case time.Duration:
			def = v.String()
		case string:
			if v == "" {
				def = `""`
			}
		}
		env := "PREFLIGHT_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` |\n", k, def, env)
	}
	if err := readme.Section("../README.md", "config-table", b.String(), *update); err != nil {
		t.Fatal(err)
	}
}

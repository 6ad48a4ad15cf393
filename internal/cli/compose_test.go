package cli

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/preflight-email/preflight/config"
)

// TestComposeKeys keeps compose.yaml in step with the code: every
// PREFLIGHT_* variable names a configuration key, the whole environment
// loads as a valid configuration, and each instance runs a command that
// exists.
func TestComposeKeys(t *testing.T) {
	b, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Build       string            `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	keys := config.Keys()
	instances := 0
	for name, s := range c.Services {
		if s.Build == "" {
			continue // postgres, redis
		}
		instances++
		env := map[string]string{}
		for k, v := range s.Environment {
			key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "PREFLIGHT_"), "_", "."))
			if _, ok := keys[key]; !ok {
				// Keys hold underscores too (probe.mail_from): try each
				// split of the name into section and key.
				sec, rest, _ := strings.Cut(strings.ToLower(strings.TrimPrefix(k, "PREFLIGHT_")), "_")
				key = sec + "." + rest
			}
			if _, ok := keys[key]; !ok || !strings.HasPrefix(k, "PREFLIGHT_") {
				t.Errorf("%s: %s is not a configuration key", name, k)
			}
			env[k] = v
		}
		if _, err := config.Load(nil, func(k string) string { return env[k] }); err != nil {
			t.Errorf("%s: its environment does not load: %v", name, err)
		}
		if len(s.Command) == 0 || !slices.Contains([]string{"serve", "worker"}, s.Command[0]) {
			t.Errorf("%s: command %q is neither serve nor worker", name, s.Command)
		}
		fs := config.Flags(s.Command[0])
		fs.Bool("no-worker", false, "")
		if err := fs.Parse(s.Command[1:]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if instances != 2 {
		t.Errorf("%d Preflight instances in compose.yaml, want 2", instances)
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/pflag"

	"github.com/preflight-email/preflight/config"
)

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `Preflight checks whether a message to an address would hard-bounce.

Usage:
  preflight serve [flags]                 start the HTTP API (default :8080) and work bulk jobs;
                                          --no-worker serves the API only
  preflight worker [flags]                work bulk jobs only (PostgreSQL store.url shared with the API
                                          instances); /healthz and /metrics on http.addr
  preflight health [--url URL]            exit 0 when the instance's /healthz answers ok (Docker HEALTHCHECK)
  preflight verify [--json] [EMAIL...]    verify addresses (one per line on stdin when none given)
  preflight verify --file IN.csv --out OUT.csv
                                          verify a CSV list locally, with a progress bar;
                                          re-run with the same --out to resume
  preflight bounce [--json] [TEXT...]     explain a bounce reply (one per line on stdin when none given; --file bounce.eml for a DSN)
  preflight doctor [--json]               check our sending identity per egress route: port 25,
                                          reverse DNS, SPF, blocklists; exits 1 when a check fails
  preflight keys create --name NAME [--publishable --origins URL,...] [--daily-quota N] [--rate R/s] [--test]
                                          make an API key; it is printed as the last line
  preflight keys list | keys revoke ID    list API keys, or revoke one
  preflight version                       print the version (also --version)
  preflight help                          show this help

Every configuration key is also a flag, for example --http.addr=:9090,
--dns.resolvers=127.0.0.1:5353 or --probe.allow_private. Keys are read from
preflight.yaml (or --config FILE), then PREFLIGHT_* environment variables,
then flags. See README.md for the list.
`

// Run is the whole program behind main, with its environment passed in so
// that tests can drive it.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := run(ctx, args, getenv, stdin, stdout, stderr)
	var h helpRequested
	if errors.As(err, &h) {
		fmt.Fprint(stdout, h.text)
		return nil
	}
	return err
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"missing command: serve, worker, verify, bounce, doctor, health or keys"}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve", "worker":
		return runServe(ctx, cmd, rest, getenv, stderr, serveOptions{})
	case "verify":
		return runVerify(ctx, rest, getenv, stdin, stdout, stderr)
	case "bounce":
		return runBounce(ctx, rest, getenv, stdin, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, rest, getenv, stdout)
	case "health":
		return runHealth(ctx, rest, getenv, stdout)
	case "keys":
		return runKeys(ctx, rest, getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, "preflight", version())
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q: want serve, worker, verify, bounce, doctor, health or keys", cmd)}
	}
}

// helpRequested is --help on a command: its usage goes to stdout and the
// command succeeds.
type helpRequested struct{ text string }

func (h helpRequested) Error() string { return "help requested" }

// version is the module version and VCS revision the binary was built
// from, as the Go toolchain records them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	return v + " " + bi.GoVersion
}

// ExitCode reports err on stderr and maps it to the process exit status: 0
// for success, 2 for bad usage, 130 when interrupted (Ctrl-C or SIGTERM, as
// a shell reports SIGINT), 1 for anything else.
func ExitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "preflight: interrupted; re-run to resume")
		return 130
	}
	fmt.Fprintln(stderr, "preflight:", err)
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr, "run 'preflight help' for usage")
		return 2
	}
	return 1
}

// parseFlags parses args into fs (which holds every config key) and loads
// the configuration. Any error here is a usage error.
func parseFlags(fs *pflag.FlagSet, args []string, getenv func(string) string) (config.Config, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return config.Config{}, helpRequested{usage + "\nFlags:\n" + fs.FlagUsages()}
		}
		return config.Config{}, usageError{err.Error()}
	}
	cfg, err := config.Load(fs, getenv)
	if err != nil {
		return config.Config{}, usageError{err.Error()}
	}
	return cfg, nil
}

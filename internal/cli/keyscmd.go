package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/keys"
	"github.com/preflight-email/preflight/store"
)

const keysUsage = `Usage:
  preflight keys create --name NAME [--publishable --origins URL,...] [--daily-quota N] [--rate R/s] [--test]
  preflight keys list [--json]
  preflight keys revoke ID

create prints the new key as the last line of stdout; it is shown once.
The commands work on store.url, also while serve runs on it.
`

// runKeys manages API keys in the store.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"missing keys command: create, list or revoke"}
	}
	sub, rest := args[0], args[1:]
	fs := config.Flags("keys " + sub)
	var (
		name        = fs.String("name", "", "a name for the key (shown in usage and metrics)")
		publishable = fs.Bool("publishable", false, "a publishable key (pk_...) for browsers: verify only, from --origins")
		origins     = fs.StringSlice("origins", nil, "the origins a publishable key may be used from, as https://shop.example.com")
		quota       = fs.Int64("daily-quota", 0, "the most calls a day (UTC); 0: no limit")
		rateFlag    = fs.String("rate", "", "the most calls a second, as 10/s or 10; empty: no limit")
		test        = fs.Bool("test", false, "a test key: fixed answers by local part, never the network")
		asJSON      = fs.Bool("json", false, "list as JSON, one key per line")
	)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return helpRequested{keysUsage + "\nFlags:\n" + fs.FlagUsages()}
		}
		return usageError{err.Error()}
	}
	cfg, err := config.Load(fs, getenv)
	if err != nil {
		return usageError{err.Error()}
	}
	var spec keys.Spec
	switch sub {
	case "create":
		if fs.NArg() > 0 {
			return usageError{"keys create takes flags only"}
		}
		spec = keys.Spec{Name: *name, Kind: keys.Secret, Test: *test, Origins: *origins, DailyQuota: *quota}
		if *publishable {
			spec.Kind = keys.Publishable
		}
		if spec.Rate, err = parseRate(*rateFlag); err != nil {
			return usageError{err.Error()}
		}
	case "list":
		if fs.NArg() > 0 {
			return usageError{"keys list takes no arguments"}
		}
	case "revoke":
		if fs.NArg() != 1 {
			return usageError{"keys revoke takes one key ID (see keys list)"}
		}
	default:
		return usageError{fmt.Sprintf("unknown keys command %q: want create, list or revoke", sub)}
	}
	db, err := store.Open(ctx, cfg.Store.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	ks, err := keys.New(ctx, db, nil)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		k, tok, err := ks.Create(ctx, spec)
		if errors.Is(err, keys.ErrSpec) {
			return usageError{err.Error()}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s created: %s, named %q\n", k.ID, describe(k), k.Name)
		fmt.Fprintln(stdout, "the key is shown once; keep it somewhere safe:")
		fmt.Fprintln(stdout, tok)
		return nil
	case "list":
		all, err := ks.List(ctx)
		if err != nil {
			return err
		}
		return printKeys(stdout, all, *asJSON)
	default:
		err := ks.Revoke(ctx, fs.Arg(0))
		if errors.Is(err, keys.ErrNotFound) {
			return usageError{fmt.Sprintf("no key with ID %q (see keys list)", fs.Arg(0))}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked key %s; a running server stops taking it within %s\n", fs.Arg(0), keys.CacheTTL)
		return nil
	}
}

func parseRate(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("--rate must be calls a second, as 10/s, got %q", s)
	}
	return v, nil
}

func describe(k keys.Key) string {
	d := string(k.Kind)
	if k.Test {
		d += " test"
	}
	return d
}

func printKeys(w io.Writer, all []keys.Key, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, k := range all {
			if err := enc.Encode(k); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tDAILY QUOTA\tRATE\tCREATED\tSTATUS\tORIGINS")
	for _, k := range all {
		status := "active"
		if !k.Active() {
			status = "revoked " + k.RevokedAt.Format(time.DateOnly)
		}
		q, r := "-", "-"
		if k.DailyQuota > 0 {
			q = strconv.FormatInt(k.DailyQuota, 10)
		}
		if k.Rate > 0 {
			r = strconv.FormatFloat(k.Rate, 'f', -1, 64) + "/s"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, describe(k), q, r,
			k.CreatedAt.Format(time.DateTime), status, strings.Join(k.Origins, ","))
	}
	return tw.Flush()
}

// keyFile is where serve writes the first key: preflight.key next to the
// SQLite file (in the working directory for other stores).
func keyFile(storeURL string) string {
	if p, ok := strings.CutPrefix(storeURL, "sqlite://"); ok && p != ":memory:" {
		return filepath.Join(filepath.Dir(p), "preflight.key")
	}
	return "preflight.key"
}

// firstKey makes one secret key when the store has none, and writes it to
// path, readable by the service's user only. It logs where the key is,
// never the key.
func firstKey(ctx context.Context, ks *keys.Store, path string, log *slog.Logger) error {
	n, err := ks.Active(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	k, tok, err := ks.Create(ctx, keys.Spec{Name: "default", Kind: keys.Secret})
	if err != nil {
		return err
	}
	if err := writeKey(path, tok); err != nil {
		// A key nobody can read must not stay valid.
		return errors.Join(fmt.Errorf("writing the first API key: %w", err), ks.Revoke(ctx, k.ID))
	}
	log.Info("created the first API key; send it as Authorization: Bearer $(cat FILE)", "file", path, "id", k.ID)
	return nil
}

func writeKey(path, tok string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // an older file may have been wider
		f.Close()
		return err
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/doctor"
	"github.com/preflight-email/preflight/internal/app"
)

// errDoctorFailed makes `preflight doctor` exit 1 after its report.
var errDoctorFailed = errors.New("doctor: some checks failed (see above)")

// runDoctor checks our sending identity per egress route and prints a
// report: readable, or JSON with --json. It exits non-zero when a check
// fails.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := config.Flags("doctor")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, err := parseFlags(fs, args, getenv)
	if err != nil {
		return err
	}
	dc, err := app.DoctorConfig(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	rep := doctor.Run(ctx, dc, app.DoctorResolver(cfg))
	if err := ctx.Err(); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ROUTE\tCHECK\tRESULT\tDETAIL")
		for _, c := range rep.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Route, c.Name, c.Status, c.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if !rep.OK {
		return errDoctorFailed
	}
	return nil
}

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/preflight-email/preflight/bounce"
	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/internal/app"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
)

// ingestMail feeds the bounce mail at path (one message, an mbox or a
// Maildir) into the suppression list of cfg's store, with a progress bar
// on a terminal, and prints a summary. Running it twice on the same mail
// suppresses once: each message is recorded by its Message-ID, else a
// hash of its content.
func ingestMail(ctx context.Context, cfg config.Config, path string, stdout, stderr io.Writer) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("--ingest: %w", err)
	}
	log := app.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr)
	db, err := store.Open(ctx, cfg.Store.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := suppression.New(ctx, db, suppression.Policy{SoftLimit: cfg.Suppression.SoftLimit, SoftWindow: cfg.Suppression.SoftWindow}, log)
	if err != nil {
		return fmt.Errorf("suppression list: %w", err)
	}
	defer list.Close()

	var bar *progressbar.ProgressBar
	last := time.Now()
	progress := func(s bounce.Summary, done, total int64) {
		if isTerminal(stderr) {
			if bar == nil {
				bar = progressbar.NewOptions64(max(total, 1),
					progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetDescription("reading bounces"),
					progressbar.OptionShowBytes(true),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionFullWidth(),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
				)
			}
			bar.Set64(done)
			return
		}
		if time.Since(last) >= progressEvery {
			last = time.Now()
			fmt.Fprintf(stderr, "reading bounces: %s read so far\n", plural(int64(s.Messages), "message"))
		}
	}
	s, err := bounce.IngestPath(ctx, list, os.DirFS(filepath.Dir(abs)), filepath.Base(abs), progress)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		fmt.Fprintf(stderr, "stopped after %s; the ones done are recorded, and a re-run skips them\n", plural(int64(s.Messages), "message"))
		return err
	}
	fmt.Fprintf(stdout, "%s in %s\n", plural(int64(s.Messages), "message"), path)
	fmt.Fprintf(stdout, "  bounces read     %d (%s)\n", s.Read, plural(int64(s.Recipients), "recipient"))
	fmt.Fprintf(stdout, "  suppressed       %d\n", s.Suppressed)
	fmt.Fprintf(stdout, "  complaints       %d\n", s.Complaints)
	fmt.Fprintf(stdout, "  already seen     %d\n", s.Duplicates)
	fmt.Fprintf(stdout, "  not bounces      %d (auto-replies and other mail: nothing suppressed)\n", s.NotBounces)
	fmt.Fprintf(stdout, "  unreadable       %d\n", s.Unreadable)
	return nil
}

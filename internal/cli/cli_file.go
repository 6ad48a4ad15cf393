package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/internal/app"
	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/store"
)

// stateSuffix names the file beside --out that holds a run's progress: a
// SQLite database with the job, its rows and the answers so far. It is
// what lets an interrupted run resume, and it is removed once OUT is
// written.
const stateSuffix = ".preflight-state"

// runFile verifies the CSV file in and writes the results to out, with the
// same engine as the jobs API: the rows are stored in a state file next
// to out, each distinct address is checked once, and the results keep
// every original row and column, with the preflight_* columns appended
// (JSON lines when out ends in .jsonl). A progress bar on stderr shows
// rows per second and the time left; a summary follows at the end.
//
// Interrupted (Ctrl-C) or killed, it leaves the state file behind, and the
// same command resumes where it stopped. out is written atomically: a
// temporary file in its directory, renamed over it at the end.
func runFile(ctx context.Context, cfg config.Config, a *app.App, in, out string, stderr io.Writer) error {
	if out == "" {
		return usageError{"--file needs --out, the file to write the results to"}
	}
	source, err := fingerprint(in)
	if err != nil {
		return err
	}
	statePath := out + stateSuffix
	db, err := store.Open(ctx, "sqlite://"+statePath)
	if err != nil {
		return fmt.Errorf("state file %s: %w", statePath, err)
	}
	defer db.Close()
	// Job logs would tear the progress bar; warnings and errors still show.
	log := a.Log.With("component", "jobs")
	m, err := jobs.New(ctx, app.JobsConfig(cfg), db, jobs.Deps{Verifier: a.Verifier, Logger: slog.New(quietHandler{log.Handler()}), Resolver: a.Resolver})
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Start(ctx); err != nil {
		return err
	}

	st, resumed, err := fileJob(ctx, m, in, source, stderr)
	if err != nil {
		return err
	}
	if resumed {
		fmt.Fprintf(stderr, "resuming %s: %d of %s already checked\n", in, st.Processed, plural(st.Total, "row"))
	}
	st, err = follow(ctx, m, st, stderr)
	if err != nil {
		if ctx.Err() != nil {
			m.Close() // commit the answers in hand before saying so
			s, _ := m.Status(context.WithoutCancel(ctx), st.ID)
			fmt.Fprintf(stderr, "\ninterrupted after %d of %s; run the same command again to resume (progress is kept in %s)\n",
				s.Processed, plural(s.Total, "row"), statePath)
		}
		return err
	}
	if err := writeResults(ctx, m, st.ID, out); err != nil {
		return err
	}
	printSummary(stderr, st, out)
	m.Close()
	db.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(statePath + suffix)
	}
	return nil
}

// fingerprint identifies the input file, so that a state file is only
// resumed for the file it was made from.
func fingerprint(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("--file: %w", err)
	}
	if fi.IsDir() {
		return "", usageError{"--file " + path + " is a directory"}
	}
	return fmt.Sprintf("file:%s size:%d mtime:%d", abs, fi.Size(), fi.ModTime().UnixNano()), nil
}

// fileJob finds the job of this input in the state file, or creates it.
// Jobs made from another input, or from a version of it that has since
// changed, are removed.
func fileJob(ctx context.Context, m *jobs.Manager, in, source string, stderr io.Writer) (jobs.Status, bool, error) {
	all, err := m.List(ctx)
	if err != nil {
		return jobs.Status{}, false, err
	}
	for _, st := range all {
		if st.Source == source && st.Status != jobs.Failed && st.Status != jobs.Canceled {
			return st, true, nil
		}
		fmt.Fprintf(stderr, "the state file holds a run for another or changed input; starting over\n")
		if err := m.Delete(ctx, st.ID); err != nil {
			return jobs.Status{}, false, err
		}
	}
	f, err := os.Open(in)
	if err != nil {
		return jobs.Status{}, false, fmt.Errorf("--file: %w", err)
	}
	defer f.Close()
	st, err := m.Create(ctx, f, jobs.CreateOptions{Source: source})
	var bad *jobs.UploadError
	if errors.As(err, &bad) {
		return jobs.Status{}, false, fmt.Errorf("%s: %s", in, bad.Error())
	}
	return st, false, err
}

// follow shows the job's progress until it is done: a progress bar when
// stderr is a terminal, else a plain line every progressEvery, so that a
// log file or CI output gets no bar frames.
func follow(ctx context.Context, m *jobs.Manager, st jobs.Status, stderr io.Writer) (jobs.Status, error) {
	// The bar counts this run's rows only, so that its rate and ETA are
	// not skewed by the rows a previous run already checked.
	base := st.Processed
	show := newProgress(stderr, max(st.Total-base, 1))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := m.Status(ctx, st.ID)
		if err != nil {
			return st, err
		}
		st = s
		show.set(st.Processed-base, st)
		switch st.Status {
		case jobs.Done:
			show.finish()
			return st, nil
		case jobs.Failed:
			return st, fmt.Errorf("verification failed: %s", st.Error)
		case jobs.Canceled:
			return st, errors.New("the run was canceled")
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// progressEvery is how often a run whose stderr is not a terminal says
// how far it got.
const progressEvery = 30 * time.Second

// progress is the bar on a terminal, or the occasional plain line.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	total int64
	last  time.Time
	desc  string // what the bar or the last line said
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, last: time.Now()}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("verifying"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

func (p *progress) set(n int64, st jobs.Status) {
	waiting := ""
	if st.Waiting != nil {
		noun := "addresses"
		if st.Waiting.Addresses == 1 {
			noun = "address"
		}
		waiting = fmt.Sprintf("%d %s greylisted, retried from %s", st.Waiting.Addresses, noun, st.Waiting.Until.Local().Format("15:04"))
	}
	if p.bar != nil {
		desc := "verifying"
		if st.Phase == "waiting" {
			desc = "waiting: " + waiting
		}
		if desc != p.desc {
			p.desc = desc
			p.bar.Describe(desc)
		}
		p.bar.Set64(n)
		return
	}
	if time.Since(p.last) >= progressEvery || (st.Phase == "waiting" && p.desc != "waiting") {
		p.last = time.Now()
		if st.Phase == "waiting" {
			p.desc = "waiting"
			fmt.Fprintf(p.w, "waiting: %s; Ctrl-C and re-run later to resume\n", waiting)
			return
		}
		p.desc = ""
		fmt.Fprintf(p.w, "verifying: %s of %d checked\n", plural(n, "row"), p.total)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// isTerminal reports whether w is a terminal, where a bar can redraw
// itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// plural says "1 row", "2 rows".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// writeResults exports the job to a temporary file beside out and renames
// it over out, so that out is never half written.
func writeResults(ctx context.Context, m *jobs.Manager, id, out string) error {
	opts := jobs.ExportOptions{Format: jobs.CSV}
	if strings.HasSuffix(strings.ToLower(out), ".jsonl") {
		opts.Format = jobs.JSONL
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := m.Export(ctx, id, tmp, opts); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

func printSummary(w io.Writer, st jobs.Status, out string) {
	addrs := "1 distinct address"
	if st.Addresses != 1 {
		addrs = fmt.Sprintf("%d distinct addresses", st.Addresses)
	}
	fmt.Fprintf(w, "%s (%s) written to %s\n", plural(st.Total, "row"), addrs, out)
	for _, v := range outcome.Verdicts() {
		fmt.Fprintf(w, "  %-14s %d\n", v, st.Counts[v])
	}
	if st.ProjectedBounceRate != nil {
		fmt.Fprintf(w, "projected hard-bounce rate of the deliverable and risky rows: %.2f%%\n", *st.ProjectedBounceRate*100)
	}
	fmt.Fprintln(w, st.Advice)
}

// quietHandler drops info and debug records: the progress bar says the
// same, and interleaved lines would tear it.
type quietHandler struct{ slog.Handler }

func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.Handler.Enabled(ctx, l)
}

func (q quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return quietHandler{q.Handler.WithAttrs(a)}
}

func (q quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{q.Handler.WithGroup(name)}
}

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/internal/app"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
	"github.com/preflight-email/preflight/verify"
)

// cliWorkers is how many addresses the CLI checks at once; the probe's own
// per-host caps keep this polite.
const cliWorkers = 32

func runVerify(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := config.Flags("verify")
	asJSON := fs.Bool("json", false, "print one JSON result per line")
	file := fs.String("file", "", "verify this CSV file (with --out); an interrupted run resumes")
	outPath := fs.String("out", "", "with --file: where to write the results (CSV, or JSON lines for .jsonl)")
	cfg, err := parseFlags(fs, args, getenv)
	if err != nil {
		return err
	}
	log := app.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr)
	if cfg.Log.Level == "debug" {
		log = app.NewLogger(cfg.Log, stderr)
	}
	sup, closeSup, err := localSuppressions(ctx, cfg.Store.URL, log)
	if err != nil {
		return err
	}
	defer closeSup()
	a, err := app.New(cfg, log, sup)
	if err != nil {
		return err
	}
	defer a.Close()
	if *file != "" {
		return runFile(ctx, cfg, a, *file, *outPath, stderr)
	}

	// Returning early (a failed write to stdout) cancels ctx, which stops
	// the reader and the producer; the deferred wait keeps any goroutine
	// from outliving the command.
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	emails := make(chan string)
	readErr := make(chan error, 1)
	wg.Go(func() {
		defer close(emails)
		readErr <- feed(ctx, fs.Args(), stdin, emails)
	})

	// Results print in input order: each address gets a one-slot future,
	// and the window of futures bounds memory on long inputs.
	futures := make(chan chan verify.Result, cliWorkers)
	wg.Go(func() {
		defer close(futures)
		sem := make(chan struct{}, cliWorkers)
		for e := range emails {
			f := make(chan verify.Result, 1)
			select {
			case futures <- f:
			case <-ctx.Done():
				continue // drain emails so that the reader can finish
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				cctx, cancel := context.WithTimeout(ctx, cfg.Verify.MaxTimeout)
				defer cancel()
				f <- a.Verifier.Verify(cctx, e)
			})
		}
	})

	out := newPrinter(stdout, *asJSON)
	n := 0
	for f := range futures {
		if err := out.print(<-f); err != nil {
			return err
		}
		n++
	}
	if err := <-readErr; err != nil {
		return err
	}
	if n == 0 {
		return usageError{"no addresses given: pass them as arguments or one per line on stdin"}
	}
	return out.flush()
}

// feed sends the arguments, or else the non-blank lines of stdin.
func feed(ctx context.Context, args []string, stdin io.Reader, out chan<- string) error {
	send := func(s string) bool {
		select {
		case out <- s:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if len(args) > 0 {
		for _, a := range args {
			if !send(a) {
				return ctx.Err()
			}
		}
		return nil
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !send(line) {
			return ctx.Err()
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	return nil
}

type printer struct {
	json bool
	enc  *json.Encoder
	tw   *tabwriter.Writer
	rows int
}

func newPrinter(w io.Writer, asJSON bool) *printer {
	p := &printer{json: asJSON}
	if asJSON {
		p.enc = json.NewEncoder(w)
		p.enc.SetEscapeHTML(false)
	} else {
		p.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	}
	return p
}

func (p *printer) print(r verify.Result) error {
	if p.json {
		return p.enc.Encode(r)
	}
	if p.rows == 0 {
		fmt.Fprintln(p.tw, "EMAIL\tVERDICT\tRISK\tREASON\tSUGGESTION\tDETAIL")
	}
	p.rows++
	detail := r.Detail
	if r.SMTP != nil {
		detail = strconv.Itoa(r.SMTP.Code) + " " + r.SMTP.Enhanced + " " + r.SMTP.Message
	}
	_, err := fmt.Fprintf(p.tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Email, r.Verdict, r.Risk, r.Reason, r.Suggestion, oneLine(detail, 80))
	// Flush row by row so that a long stdin stream shows progress.
	if err == nil && p.rows%32 == 0 {
		err = p.tw.Flush()
	}
	return err
}

func (p *printer) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return s
}

// localSuppressions opens the suppression list of the store named by
// store.url when that store already exists, so that the CLI answers
// "suppressed" for addresses the service has suppressed. The CLI never
// creates a store of its own: without one it runs without the list.
func localSuppressions(ctx context.Context, storeURL string, log *slog.Logger) (verify.Suppressions, func(), error) {
	none := func() {}
	path, ok := strings.CutPrefix(storeURL, "sqlite://")
	if !ok {
		return nil, none, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, none, nil
	}
	db, err := store.Open(ctx, storeURL)
	if err != nil {
		return nil, none, err
	}
	list, err := suppression.New(ctx, db, suppression.Policy{}, log)
	if err != nil {
		db.Close()
		return nil, none, fmt.Errorf("suppression list: %w", err)
	}
	return app.Suppressions(list), func() { list.Close(); db.Close() }, nil
}

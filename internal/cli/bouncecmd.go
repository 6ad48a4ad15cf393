package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/preflight-email/preflight/bounce"
	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/reply"
)

// maxDSNFile caps the bounce message read by --file; real bounces are a
// few kilobytes plus the returned message.
const maxDSNFile = 16 << 20

// runBounce explains bounces: `preflight bounce [--json] [TEXT...]` reads
// one reply from the arguments (their words joined, so quoting is
// optional), or one reply per line from stdin; `preflight bounce --file
// bounce.eml` reads a whole bounce message in any common layout (- for
// stdin) and prints one result per failed recipient, in the message's
// order. All of that is local and offline. `preflight bounce --ingest
// PATH` feeds a message, an mbox or a Maildir into the suppression list of
// store.url, and is idempotent.
func runBounce(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := config.Flags("bounce")
	asJSON := fs.Bool("json", false, "print one JSON object per reply or recipient")
	file := fs.String("file", "", "read a bounce message (.eml) from `FILE`, - for stdin")
	ingest := fs.String("ingest", "", "feed the bounce mail at `PATH` (a message, an mbox or a Maildir) into the suppression list")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return helpRequested{"Usage: preflight bounce [--json] [TEXT... | --file FILE | --ingest PATH]\n\nFlags:\n" + fs.FlagUsages()}
		}
		return usageError{err.Error()}
	}
	if *ingest != "" {
		if *file != "" || fs.NArg() > 0 {
			return usageError{"give --ingest alone, without --file or reply TEXT"}
		}
		cfg, err := config.Load(fs, getenv)
		if err != nil {
			return usageError{err.Error()}
		}
		return ingestMail(ctx, cfg, *ingest, stdout, stderr)
	}
	out := newBouncePrinter(stdout, *asJSON)
	if *file != "" {
		if fs.NArg() > 0 {
			return usageError{"give reply TEXT or --file, not both"}
		}
		if err := explainMessage(*file, stdin, out); err != nil {
			return err
		}
		return out.flush()
	}

	if fs.NArg() > 0 {
		text := strings.Join(fs.Args(), " ")
		if err := out.reply(text, reply.ClassifyText(text)); err != nil {
			return err
		}
		return out.flush()
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := out.reply(line, reply.ClassifyText(line)); err != nil {
			return err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	if n == 0 {
		return usageError{"no reply given: pass it as arguments, one per line on stdin, or a DSN with --file bounce.eml"}
	}
	return out.flush()
}

func explainMessage(name string, stdin io.Reader, out *bouncePrinter) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err // *PathError names the file
		}
		defer f.Close()
		r = f
	}
	msg, err := io.ReadAll(io.LimitReader(r, maxDSNFile+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(msg) > maxDSNFile {
		return fmt.Errorf("%s is larger than %d MiB; no bounce message is", name, maxDSNFile>>20)
	}
	rep, err := bounce.Read(msg)
	switch {
	case errors.Is(err, bounce.ErrNotBounce):
		return fmt.Errorf("%s is not a bounce message (no delivery failure, complaint or auto-reply found): %w", name, err)
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, d := range rep.Recipients {
		if err := out.recipient(d); err != nil {
			return err
		}
	}
	return nil
}

// bouncePrinter prints classifications: JSON lines in the shape of POST
// /v1/bounces/classify, or a labelled block per reply.
type bouncePrinter struct {
	enc    *json.Encoder
	tw     *tabwriter.Writer
	blocks int
}

func newBouncePrinter(w io.Writer, asJSON bool) *bouncePrinter {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &bouncePrinter{enc: enc}
	}
	return &bouncePrinter{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (p *bouncePrinter) reply(text string, d reply.Diagnosis) error {
	if p.enc != nil {
		return p.enc.Encode(bounce.Classify(d))
	}
	p.start()
	p.field("reply", oneLine(text, 100))
	p.diagnosis(d)
	return p.tw.Flush()
}

func (p *bouncePrinter) recipient(d bounce.Diagnosis) error {
	if p.enc != nil {
		return p.enc.Encode(bounce.View(d))
	}
	p.start()
	p.field("recipient", d.Recipient)
	p.field("format", string(d.Format))
	p.field("dsn action", d.DSNAction)
	p.field("status", d.Status)
	p.field("remote mta", d.RemoteMTA)
	p.field("feedback type", d.FeedbackType)
	p.field("diagnostic", oneLine(d.Diagnostic, 100))
	p.diagnosis(reply.Diagnosis{Class: d.Class, Reason: d.Reason, Code: d.Code, Enhanced: d.Enhanced, Action: d.Action,
		Explanation: d.Explanation, Provider: d.Provider, Blocklist: d.Blocklist})
	return p.tw.Flush()
}

func (p *bouncePrinter) start() {
	if p.blocks > 0 {
		fmt.Fprintln(p.tw)
	}
	p.blocks++
}

func (p *bouncePrinter) diagnosis(d reply.Diagnosis) {
	p.field("class", string(d.Class))
	p.field("reason", string(d.Reason))
	p.field("action", string(d.Action)+actionHint(d.Action))
	code := strings.TrimSpace(codeString(d.Code) + " " + d.Enhanced)
	if desc := reply.Describe(d.Enhanced); desc != "" {
		code += " (" + desc + ")"
	}
	p.field("code", code)
	p.field("provider", d.Provider)
	p.field("blocklist", d.Blocklist)
	p.field("explanation", d.Explanation)
}

// field prints one labelled line; empty values are left out.
func (p *bouncePrinter) field(label, value string) {
	if value != "" {
		fmt.Fprintf(p.tw, "%s:\t%s\n", label, value)
	}
}

func (p *bouncePrinter) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return nil
}

func codeString(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code)
}

func actionHint(a reply.Action) string {
	switch a {
	case reply.Suppress:
		return ": remove the address and never mail it again"
	case reply.Retry:
		return ": retry later"
	case reply.FixSender:
		return ": fix your sending setup; the address may be fine"
	case reply.Review:
		return ": a person should read the reply"
	}
	return ""
}

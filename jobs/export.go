package jobs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/preflight-email/preflight/csvio"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/verify"
)

// Format is an export format.
type Format string

// Formats of Export.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// ErrFormat means an export option is not understood.
var ErrFormat = errors.New("jobs: unknown export option")

// ExportOptions shape an export.
type ExportOptions struct {
	Format Format // CSV when empty
	// Verdicts keeps only the rows with these verdicts; empty keeps all.
	Verdicts []outcome.Verdict
	// Raw turns off formula neutralisation in CSV output.
	Raw bool
	// Partial exports a job that is not done yet: the rows whose address
	// has no final answer come with an empty verdict and risk and the
	// reason "pending" (JSONL: "result": null, "pending": true).
	Partial bool
}

// pendingReason marks an undecided row of a partial export.
const pendingReason = "pending"

// Appended columns of the CSV export.
var resultColumns = []string{"preflight_verdict", "preflight_risk", "preflight_reason", "preflight_suggestion"}

// Export writes the results of a done job to w: every original row in the
// original order (or those with the chosen verdicts), with every original
// column unchanged.
//
// CSV keeps the upload's delimiter, its BOM and its header row, and
// appends preflight_verdict, preflight_risk, preflight_reason and
// preflight_suggestion after the header's columns (a file without a
// header has its rows padded to the widest one first). A row with more
// cells than the header keeps them, after the four result columns. A file
// uploaded without a header comes back without one. Unless Raw is set, a cell a spreadsheet would run as a
// formula is neutralised (csvio.Neutralize).
//
// JSONL writes one object per row: {"line", "fields", "result"}, where
// fields maps each column name to its value (column_N without a header,
// Name_2 for a repeated name) and result is the full verify.Result of the
// row's address, with email as written on that row.
//
// Results are served only once the job is done: ErrNotDone before, so
// that a half-checked list is never imported by mistake. Nothing is
// written when Export returns ErrNotFound, ErrNotDone or ErrFormat.
func (m *Manager) Export(ctx context.Context, id string, w io.Writer, opts ExportOptions) error {
	if opts.Format == "" {
		opts.Format = CSV
	}
	if opts.Format != CSV && opts.Format != JSONL {
		return fmt.Errorf("%w: format %q", ErrFormat, opts.Format)
	}
	for _, v := range opts.Verdicts {
		if !validVerdict(v) {
			return fmt.Errorf("%w: verdict %q", ErrFormat, v)
		}
	}
	j, _, err := m.st.job(ctx, id)
	if err != nil {
		return err
	}
	if j.state != Done && !(opts.Partial && (j.state == Running || j.state == Queued)) {
		return ErrNotDone
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if opts.Format == JSONL {
		err = m.exportJSONL(ctx, j, bw, opts)
	} else {
		err = m.exportCSV(ctx, j, bw, opts)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func validVerdict(v outcome.Verdict) bool {
	for _, k := range outcome.Verdicts() {
		if v == k {
			return true
		}
	}
	return false
}

func (m *Manager) exportCSV(ctx context.Context, j jobRecord, w *bufio.Writer, opts ExportOptions) error {
	if j.bom {
		if _, err := w.WriteString("\ufeff"); err != nil {
			return err
		}
	}
	cw := csvio.NewWriter(w, j.delimiter, opts.Raw)
	// The result columns sit at the job's width on every row, so they
	// line up under their names whatever the row's length: a short row is
	// padded, and the cells of a row longer than the header (which have no
	// name) come after the result columns. Padding every row to the
	// widest one instead would let one long row widen the whole file.
	// Without a header the width is the widest row's (see Create), so no
	// cell moves; jobs stored by earlier versions recorded that width
	// too, and export as they did.
	width := max(j.width, len(j.header))
	build := func(dst, fields []string, results ...string) []string {
		head, extra := fields, []string(nil)
		if len(fields) > width {
			head, extra = fields[:width], fields[width:]
		}
		dst = append(dst[:0], head...)
		for len(dst) < width {
			dst = append(dst, "")
		}
		dst = append(dst, results...)
		return append(dst, extra...)
	}
	var rec []string
	if j.hasHeader {
		rec = build(rec, j.header, resultColumns...)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	err := m.st.export(ctx, j.pk, opts.Verdicts, func(r exportRow) error {
		if !r.settled {
			rec = build(rec, r.fields, "", "", pendingReason, "")
		} else {
			rec = build(rec, r.fields,
				string(r.verdict), strconv.Itoa(r.risk), string(r.reason), r.suggestion)
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	return cw.Flush()
}

// jsonNames are the keys of a row's fields in JSONL.
func jsonNames(j jobRecord, n int) []string {
	names := make([]string, 0, n)
	seen := map[string]int{}
	for i := range n {
		name := ""
		if j.hasHeader && i < len(j.header) {
			name = j.header[i]
		}
		if name == "" {
			name = "column_" + strconv.Itoa(i+1)
		}
		if k := seen[name]; k > 0 {
			seen[name] = k + 1
			name += "_" + strconv.Itoa(k+1)
		} else {
			seen[name] = 1
		}
		names = append(names, name)
	}
	return names
}

func (m *Manager) exportJSONL(ctx context.Context, j jobRecord, w *bufio.Writer, opts ExportOptions) error {
	var names []string
	var buf []byte
	return m.st.export(ctx, j.pk, opts.Verdicts, func(r exportRow) error {
		if len(r.fields) > len(names) {
			names = jsonNames(j, max(len(r.fields), len(j.header)))
		}
		buf = append(buf[:0], `{"line":`...)
		buf = strconv.AppendInt(buf, int64(r.line), 10)
		buf = append(buf, `,"fields":{`...)
		for i, f := range r.fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, names[i])
			buf = append(buf, ':')
			buf = appendJSONString(buf, f)
		}
		if !r.settled {
			buf = append(buf, `},"result":null,"pending":true}`+"\n"...)
			_, err := w.Write(buf)
			return err
		}
		buf = append(buf, `},"result":`...)
		res, err := rowResult(j, r)
		if err != nil {
			return err
		}
		buf = append(buf, res...)
		buf = append(buf, "}\n"...)
		_, err = w.Write(buf)
		return err
	})
}

// rowResult is the stored result with email set to the row's own cell, so
// each duplicate row reports the address as it wrote it.
func rowResult(j jobRecord, r exportRow) ([]byte, error) {
	var res verify.Result
	if len(r.result) > 0 {
		if err := json.Unmarshal(r.result, &res); err != nil {
			return nil, fmt.Errorf("jobs: stored result: %w", err)
		}
	} else {
		res = verify.Result{Verdict: r.verdict, Risk: r.risk, Reason: r.reason, Suggestion: r.suggestion}
	}
	if j.emailColumn >= 0 && j.emailColumn < len(r.fields) {
		res.Email = r.fields[j.emailColumn]
	}
	return json.Marshal(res)
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

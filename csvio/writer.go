package csvio

import (
	"encoding/csv"
	"io"
)

// Neutralize defends a cell against CSV injection (OWASP "CSV Injection"):
// a cell starting with = + - @ tab or CR may be run as a formula by the
// spreadsheet that opens the file, so it gets a leading apostrophe, which
// spreadsheets treat as "this is text". Other cells come back unchanged,
// without allocating. The price is that negative numbers such as "-5" also
// get the apostrophe.
func Neutralize(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}

// Writer writes result rows as CSV. Unless raw, every cell passes through
// Neutralize, header included.
type Writer struct {
	cw   *csv.Writer
	raw  bool
	cell []string // scratch row, reused so that Write does not allocate
}

// NewWriter returns a Writer on w that separates fields with delim (use the
// input's Dialect.Delimiter to give people back the format they uploaded).
// raw=true writes cells exactly as given, for machine consumers.
func NewWriter(w io.Writer, delim rune, raw bool) *Writer {
	cw := csv.NewWriter(w)
	cw.Comma = delim
	return &Writer{cw: cw, raw: raw}
}

// Write writes one row. Quoting follows encoding/csv (RFC 4180). Output is
// buffered: call Flush at the end.
func (w *Writer) Write(fields []string) error {
	if w.raw {
		return w.cw.Write(fields)
	}
	w.cell = w.cell[:0]
	for _, f := range fields {
		w.cell = append(w.cell, Neutralize(f))
	}
	return w.cw.Write(w.cell)
}

// Flush writes any buffered data and reports any error of an earlier Write
// or of the flush.
func (w *Writer) Flush() error {
	w.cw.Flush()
	return w.cw.Error()
}

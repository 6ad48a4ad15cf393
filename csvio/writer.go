package csvio

import (
	"encoding/csv"
	"io"
)

// Neutralize defends a cell against CSV injection (OWASP "CSV Injection"):
// a cell that a spreadsheet would run as a formula gets a leading
// apostrophe, which spreadsheets treat as "this is text". Those are the
// cells starting with = or @, a tab or a CR, and those starting with + or -
// unless the rest is a plain number or a phone number ("-87.63",
// "+1 555-0100", "+44 (20) 7946 0958"): digits with spaces, dots, commas,
// hyphens, slashes and parentheses, and nothing a formula needs to call a
// function or another program (letters, quotes, |, !, =, + and the other
// operators). Such a cell can at worst be read as arithmetic on numbers;
// changing it would damage data that users import into their CRM. Other
// cells come back unchanged, without allocating.
func Neutralize(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '@', '\t', '\r':
		return "'" + cell
	case '+', '-':
		if !numeric(cell[1:]) {
			return "'" + cell
		}
	}
	return cell
}

// numeric reports whether s, the rest of a cell after its sign, is a plain
// number or a phone number: at least one digit, and only digits, spaces,
// '.', ',', '-', '/', '(' and ')'.
func numeric(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits++
		case c == ' ' || c == '.' || c == ',' || c == '-' || c == '/' || c == '(' || c == ')':
		default:
			return false
		}
	}
	return digits > 0
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

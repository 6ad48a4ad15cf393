// Package csvio reads the contact lists that marketers upload for bulk
// verification (exports of Mailchimp, HubSpot, Klaviyo, Brevo,
// ActiveCampaign, Salesforce or a spreadsheet) and writes result files that
// are safe to open in a spreadsheet.
//
// Reading streams: NewReader decompresses gzip, samples the first 64 KiB to
// find the delimiter, the header and the email column (see Sniff), then
// hands out one record at a time through encoding/csv. It holds the sample
// plus one record, whatever the size of the file.
package csvio

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// maxRecordBytes bounds one record. A real row is a few hundred bytes; a
// longer one almost always means a quote that is never closed, which would
// otherwise pull the rest of the file into one field.
const maxRecordBytes = 1 << 20

// DefaultMaxFields is the number of fields a row may have when
// Limits.MaxFields is zero. The widest real exports (Mailchimp, HubSpot
// with custom properties) have a few hundred columns.
const DefaultMaxFields = 1024

// Limits bounds what a Reader accepts. Zero means unlimited, except for
// MaxFields.
type Limits struct {
	MaxRows  int   // data rows (header and blank rows not counted)
	MaxBytes int64 // bytes of the decompressed input, BOM included
	// MaxFields bounds the fields of one row, header included: 0 means
	// DefaultMaxFields and a negative value no limit. It is on by default
	// because a row of many tiny fields costs far more memory than its
	// bytes (a string header per field), and no contact list needs it.
	MaxFields int
}

// Record is one data row.
type Record struct {
	Line   int      // 1-based line of the input where the record starts
	Fields []string // cells as written; padded with "" to Dialect.Columns
	Email  string   // Fields[EmailColumn] trimmed (see emailCell); "" when the row is short
}

// Reader streams the data rows of a CSV upload. It is not safe for
// concurrent use. The records it returns belong to the caller.
type Reader struct {
	d   Dialect
	lim Limits
	cr  *csv.Reader
	t   *tee
	bom int64
	// rows counts data rows returned; err is sticky once set.
	rows int
	err  error
}

// NewReader decompresses r if it is gzip (see Decompress), sniffs it (see
// Sniff for the detection rules and the meaning of column) and returns a
// Reader positioned at the first data row. r may already be the result of
// Decompress.
//
// Errors: ErrEmpty, ErrNotCSV, ErrNoEmailColumn, ErrUnknownColumn, a
// *LimitError (ErrTooLarge) when the sample alone passes MaxBytes, or a
// *LineError when the header row cannot be read.
func NewReader(r io.Reader, column string, lim Limits) (*Reader, error) {
	dr, err := Decompress(r)
	if err != nil {
		return nil, err
	}
	if lim.MaxFields == 0 {
		lim.MaxFields = DefaultMaxFields
	}
	br := bufio.NewReaderSize(&limitReader{r: dr, limit: lim.MaxBytes}, SampleSize)
	d, err := Sniff(br, column)
	if err != nil {
		return nil, err
	}
	rd := &Reader{d: d, lim: lim}
	var src io.Reader = br
	if d.BOM {
		if _, err := br.Discard(len(utf8BOM)); err != nil {
			return nil, err
		}
		rd.bom = int64(len(utf8BOM))
	}
	if d.CR {
		src = crReader{src}
	}
	rd.t = &tee{r: src, buf: make([]byte, 0, SampleSize)}
	rd.cr = csv.NewReader(rd.t)
	rd.cr.Comma = d.Delimiter
	// Rows may have any number of fields: short ones are padded, long ones
	// kept whole (see Next).
	rd.cr.FieldsPerRecord = -1
	if d.SepLine {
		// Read as a record of its own, so that line numbers stay the
		// file's.
		if _, _, err := rd.read(); err != nil {
			return nil, err
		}
	}
	if d.HasHeader {
		for {
			rec, _, err := rd.read()
			if err != nil {
				if err == io.EOF {
					break // cannot happen after a successful sniff; no rows follow anyway
				}
				return nil, err
			}
			if !blank(rec) {
				break
			}
		}
	}
	return rd, nil
}

// Dialect returns what Sniff found.
func (r *Reader) Dialect() Dialect {
	d := r.d
	d.Header = slices.Clone(r.d.Header)
	return d
}

// BytesRead is how many bytes of the decompressed input the rows read so far
// span, BOM and header included. It does not count read-ahead, so after the
// last row it is the size of the input.
func (r *Reader) BytesRead() int64 {
	return r.bom + r.cr.InputOffset()
}

// Next returns the next data row, or io.EOF after the last one. Rows whose
// cells are all blank are skipped. A row with fewer fields than
// Dialect.Columns is padded with ""; a row with more keeps all of them (the
// extra cells have no header name, and a writer of results has to decide
// where to put them). Fields belongs to the caller.
//
// A quote inside an unquoted field (Jane "JJ" Doe) is kept as a literal
// character. Errors are sticky: after one, Next returns it again. They are
// a *LineError wrapping ErrRagged (unterminated quoted field, stray quote
// in a quoted field, row over 1 MiB or over Limits.MaxFields fields), a *LimitError (ErrTooManyRows,
// ErrTooLarge), a *LineError wrapping ErrNotCSV (damaged gzip data; the
// line is the first one not read), or an I/O error of the source.
func (r *Reader) Next() (Record, error) {
	for r.err == nil {
		fields, line, err := r.read()
		if err != nil {
			r.err = err
			break
		}
		if blank(fields) {
			continue
		}
		r.rows++
		if r.lim.MaxRows > 0 && r.rows > r.lim.MaxRows {
			r.err = &LimitError{Err: ErrTooManyRows, Limit: int64(r.lim.MaxRows)}
			break
		}
		if n := r.d.Columns - len(fields); n > 0 {
			fields = append(fields, make([]string, n)...)
		}
		rec := Record{Line: line, Fields: fields}
		if c := r.d.EmailColumn; c < len(fields) {
			rec.Email = emailCell(fields[c])
		}
		return rec, nil
	}
	return Record{}, r.err
}

// read returns the next record, blank or not, and the line it starts on.
func (r *Reader) read() ([]string, int, error) {
	fields, err := r.cr.Read()
	off := r.cr.InputOffset()
	if err == nil {
		line, _ := r.cr.FieldPos(0)
		r.t.release(off)
		return r.checkWidth(fields, line)
	}
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return r.recover(pe, off)
	}
	if errors.Is(err, errRecordTooLong) {
		return nil, 0, &LineError{Line: r.t.nextLine(), Err: ErrRagged,
			Msg: "the row is longer than 1 MiB; a quoted field is probably never closed (a \" without its closing \")"}
	}
	var le *LimitError
	if errors.As(err, &le) {
		return nil, 0, err
	}
	if errors.Is(err, ErrNotCSV) {
		// Damaged gzip data: say how far the rows were good.
		return nil, 0, &LineError{Line: r.t.nextLine(), Err: err}
	}
	return nil, 0, fmt.Errorf("csvio: read input: %w", err)
}

// checkWidth refuses a record with more than Limits.MaxFields fields.
func (r *Reader) checkWidth(fields []string, line int) ([]string, int, error) {
	if n := r.lim.MaxFields; n > 0 && len(fields) > n {
		return nil, 0, &LineError{Line: line, Err: ErrRagged,
			Msg: fmt.Sprintf("%d fields; at most %d per row", len(fields), n)}
	}
	return fields, line, nil
}

// recover handles a parse error of the strict reader. A bare quote in an
// unquoted field is harmless: the row is parsed again with LazyQuotes and
// kept if every quoted field in it is well formed. Quote errors inside
// quoted fields are not guessed at, since a lenient parse would silently
// merge rows.
func (r *Reader) recover(pe *csv.ParseError, off int64) ([]string, int, error) {
	raw := r.t.pending(off)
	if errors.Is(pe.Err, csv.ErrBareQuote) {
		if rec, ok := relaxed(raw, r.d.Delimiter); ok {
			r.t.release(off)
			return r.checkWidth(rec, pe.StartLine)
		}
		return nil, 0, &LineError{Line: pe.StartLine, Err: ErrRagged,
			Msg: "a quote (\") in the middle of a field breaks the row; put the field in quotes and double the quotes inside it (\"\")"}
	}
	if errors.Is(pe.Err, csv.ErrQuote) && r.t.atEnd(off) {
		return nil, 0, &LineError{Line: pe.StartLine, Err: ErrRagged,
			Msg: "unterminated quoted field: a field opens with a quote (\") that is never closed"}
	}
	msg := fmt.Sprintf("stray quote in a quoted field at line %d, column %d: a quote inside a quoted field must be doubled (\"\")", pe.Line, pe.Column)
	if !errors.Is(pe.Err, csv.ErrQuote) {
		msg = pe.Err.Error()
	}
	return nil, 0, &LineError{Line: pe.StartLine, Err: ErrRagged, Msg: msg}
}

// relaxed parses the raw bytes of one record with LazyQuotes and accepts the
// result only if it is one record whose quoted fields are each closed by a
// quote right before the delimiter or the line end, with inner quotes
// doubled: that is, only the unquoted fields needed leniency.
func relaxed(raw []byte, delim rune) ([]string, bool) {
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.Comma = delim
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err != nil || len(rec) == 0 {
		return nil, false
	}
	starts := []int{0}
	for i, c := range raw {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	offset := func(field int) int {
		line, col := cr.FieldPos(field)
		return starts[line-1] + col - 1
	}
	end := len(bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte{'\n'}), []byte{'\r'}))
	dl := utf8.RuneLen(delim)
	for i := range rec {
		s := offset(i)
		e := end
		if i+1 < len(rec) {
			e = offset(i+1) - dl
		}
		if s < e && raw[s] == '"' && !closedQuote(raw[s:e]) {
			return nil, false
		}
	}
	if _, err := cr.Read(); err != io.EOF {
		return nil, false
	}
	return rec, true
}

// closedQuote reports whether f, which starts with a quote, is a
// well-formed quoted field (RFC 4180 §2 rules 5-7).
func closedQuote(f []byte) bool {
	if len(f) < 2 || f[len(f)-1] != '"' {
		return false
	}
	in := f[1 : len(f)-1]
	for i := 0; i < len(in); i++ {
		if in[i] == '"' {
			if i+1 >= len(in) || in[i+1] != '"' {
				return false
			}
			i++
		}
	}
	return true
}

// tee sits between the sampled stream and encoding/csv. It keeps the bytes
// csv has been given but not yet used for a returned record, so that a row
// with a bare quote can be parsed again, and it stops a record that grows
// past maxRecordBytes. It also counts the lines of released records, for the
// line number of that error.
type tee struct {
	r     io.Reader
	buf   []byte // buf[start:] is held; buf[start] is at input offset base
	start int
	base  int64
	lines int  // '\n' in released bytes
	eof   bool // r returned io.EOF
	err   error
}

func (t *tee) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if len(t.buf)-t.start > maxRecordBytes {
		t.err = errRecordTooLong
		return 0, t.err
	}
	n, err := t.r.Read(p)
	if n > 0 {
		if t.start > 0 && len(t.buf)+n > cap(t.buf) {
			m := copy(t.buf, t.buf[t.start:])
			t.buf, t.start = t.buf[:m], 0
		}
		t.buf = append(t.buf, p[:n]...)
	}
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

// pending returns the held bytes up to input offset off.
func (t *tee) pending(off int64) []byte {
	return t.buf[t.start : t.start+int(off-t.base)]
}

// release drops the held bytes before input offset off.
func (t *tee) release(off int64) {
	k := int(off - t.base)
	t.lines += bytes.Count(t.buf[t.start:t.start+k], []byte{'\n'})
	t.start += k
	t.base = off
	if t.start == len(t.buf) {
		t.buf, t.start = t.buf[:0], 0
	}
}

// atEnd reports whether csv has used every byte of the input up to off.
func (t *tee) atEnd(off int64) bool {
	return t.eof && t.start+int(off-t.base) == len(t.buf)
}

// nextLine is the line where the record after the released ones starts:
// past the blank lines that csv skips.
func (t *tee) nextLine() int {
	line := t.lines + 1
	held := t.buf[t.start:]
	for {
		switch {
		case bytes.HasPrefix(held, []byte{'\n'}):
			held = held[1:]
		case bytes.HasPrefix(held, []byte("\r\n")):
			held = held[2:]
		default:
			return line
		}
		line++
	}
}

// crReader turns bare CR line ends into LF.
type crReader struct{ r io.Reader }

func (c crReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// emailCell trims the email cell: surrounding white space (see trimCell)
// and then one pair of double quotes around the whole value, which a file
// written as `Ann, "ann@example.com"` leaves behind. A quoted local part
// ("ann lee"@example.com) does not end in a quote and is kept.
func emailCell(s string) string {
	s = trimCell(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = trimCell(s[1 : len(s)-1])
	}
	return s
}

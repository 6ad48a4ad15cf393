package csvio

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SampleSize is how much of the stream Sniff looks at.
const SampleSize = 64 << 10

// sniffRecords caps the records Sniff parses per candidate delimiter.
const sniffRecords = 1000

const utf8BOM = "\xef\xbb\xbf"

// Dialect is what Sniff found out about a file.
type Dialect struct {
	Delimiter   rune     // ',' ';' '\t' '|'; ',' for a file of one column
	BOM         bool     // input started with a UTF-8 BOM (stripped)
	CR          bool     // lines end in a bare CR (old Mac Excel); read as LF
	HasHeader   bool     // the first non-blank row names the columns
	Header      []string // header names as written (nil without header)
	EmailColumn int      // 0-based index of the email column
	Columns     int      // fields in the first record (the header, if any)
	// SepLine: the input starts with Excel's "sep=X" line, which names
	// the delimiter; it is line 1, and not a record.
	SepLine bool
}

// Sniff looks at up to SampleSize bytes at the front of br without consuming
// them (it only peeks, so a reader built on br afterwards sees every byte;
// when Dialect.BOM is set the caller must skip those 3 bytes). br should have
// a buffer of at least SampleSize; a smaller one is sampled as far as it goes.
//
// column is the user's ?column= override; "" detects the column. A value that
// equals a header cell, ignoring case and surrounding spaces, or failing that
// ignoring all spaces and punctuation, selects that column and makes the
// first row the header. Otherwise a number selects a column counted from 1
// (1 = the first column). Anything else is ErrUnknownColumn.
//
// Detection, in order:
//   - UTF-8 BOM: stripped. UTF-16/32 BOMs, zip (xlsx), OLE (xls), PDF and
//     gzip magic, more than 1% control bytes or more than 10% bytes that
//     are not UTF-8: ErrNotCSV. Bytes that are not UTF-8 below that share
//     (a Windows-1252 export) pass through untouched.
//   - Excel's "sep=X" first line (X one of , ; tab |): skipped, and X is
//     the delimiter.
//   - Delimiter: the sample is parsed with encoding/csv once per candidate
//     (, ; tab |). The candidate whose modal field count (>1) covers the
//     largest share of the sampled rows wins (shares compared in steps of
//     5%); ties go to the larger field count, then to the order , ; tab |.
//     When no candidate covers half the rows with more than one field, the
//     file is one column if most rows have a single field, else ErrNotCSV.
//   - Header: the first row is a header when none of its cells looks like an
//     address and either one of its cells is a known header name (email,
//     first name, phone, …) or a later column holds addresses and the first
//     row's cell in that column is neither empty nor a malformed address
//     (one with an '@', "jane at example.com", "jane.example.com").
//   - Email column: see emailColumn.
func Sniff(br *bufio.Reader, column string) (Dialect, error) {
	n := min(br.Size(), SampleSize)
	sample, err := br.Peek(n)
	atEOF := false
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		atEOF = true
	case errors.Is(err, bufio.ErrBufferFull):
	default:
		var le *LimitError
		if errors.As(err, &le) || errors.Is(err, ErrNotCSV) {
			return Dialect{}, err
		}
		return Dialect{}, fmt.Errorf("csvio: read input: %w", err)
	}
	return sniff(sample, atEOF, column)
}

// sniff does Sniff's work on a sample; atEOF tells whether the sample is the
// whole input.
func sniff(sample []byte, atEOF bool, column string) (Dialect, error) {
	var d Dialect
	if len(sample) == 0 {
		return d, ErrEmpty
	}
	if bytes.HasPrefix(sample, []byte(utf8BOM)) {
		d.BOM = true
		sample = sample[len(utf8BOM):]
	}
	if err := checkText(sample); err != nil {
		return d, err
	}
	if len(bytes.TrimSpace(sample)) == 0 {
		return d, ErrEmpty
	}
	if bytes.IndexByte(sample, '\n') < 0 && bytes.IndexByte(sample, '\r') >= 0 {
		// Classic Mac line ends; encoding/csv only splits on LF.
		d.CR = true
		sample = bytes.ReplaceAll(sample, []byte{'\r'}, []byte{'\n'})
	}

	var recs [][]string
	var delim rune
	var err error
	if rest, sep, ok := sepLine(sample); ok {
		d.SepLine, sample, delim = true, rest, sep
		if recs = parseSample(sample, delim, atEOF); len(recs) == 0 {
			return d, ErrEmpty
		}
	} else if recs, delim, err = pickDelimiter(sample, atEOF); err != nil {
		return d, err
	}
	d.Delimiter = delim
	first, rest := recs[0], recs[1:]
	d.Columns = len(first)
	width := 0
	for _, r := range recs {
		width = max(width, len(r))
	}

	d.HasHeader = looksLikeHeader(first, rest)
	col := -1
	if column = strings.TrimSpace(column); column != "" {
		if i := headerIndex(first, column); i >= 0 {
			col, d.HasHeader = i, true
		} else if k, err := strconv.Atoi(column); err == nil {
			if k < 1 || k > width {
				return d, fmt.Errorf("%w: column %d does not exist; columns are numbered from 1 to %d", ErrUnknownColumn, k, width)
			}
			col = k - 1
		} else {
			return d, unknownColumn(column, d.HasHeader, first)
		}
	}
	if d.HasHeader {
		d.Header = first
	}
	if col < 0 {
		if d.HasHeader {
			col = emailColumn(first, rest)
		} else {
			col = valueColumn(recs)
		}
	}
	if col < 0 {
		if d.HasHeader {
			return d, fmt.Errorf("%w (the columns are %s)", ErrNoEmailColumn, listNames(first))
		}
		return d, ErrNoEmailColumn
	}
	d.EmailColumn = col
	return d, nil
}

// checkText rejects samples that are not text. The thresholds leave room for
// a stray control byte and for 8-bit (Windows-1252) exports.
func checkText(s []byte) error {
	type magic struct {
		prefix, what string
	}
	for _, m := range [...]magic{
		{"\xff\xfe", "it is UTF-16 text (Excel's \"Unicode Text\"); save it as \"CSV UTF-8\""},
		{"\xfe\xff", "it is UTF-16 text; save it as \"CSV UTF-8\""},
		{"PK\x03\x04", "it looks like an Excel workbook or a zip archive; save it as \"CSV UTF-8\" and upload that"},
		{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "it looks like an old Excel workbook (.xls); save it as \"CSV UTF-8\" and upload that"},
		{"%PDF-", "it is a PDF document"},
		{"\x1f\x8b", "it is compressed twice"},
	} {
		if bytes.HasPrefix(s, []byte(m.prefix)) {
			return fmt.Errorf("%w: %s", ErrNotCSV, m.what)
		}
	}
	ctrl, bad := 0, 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f {
				ctrl++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			bad++
		}
		i += size
	}
	if ctrl*100 > len(s) || bad*10 > len(s) {
		return fmt.Errorf("%w: it contains binary data, not text", ErrNotCSV)
	}
	return nil
}

// sepLine recognises the "sep=X" line Excel reads (and some exports
// write) to learn the delimiter, and returns the sample after it. Only the
// delimiters Sniff knows are taken; anything else is left to detection.
func sepLine(sample []byte) (rest []byte, delim rune, ok bool) {
	if len(sample) < 5 || !bytes.EqualFold(sample[:4], []byte("sep=")) {
		return nil, 0, false
	}
	switch c := rune(sample[4]); c {
	case ',', ';', '\t', '|':
		delim = c
	default:
		return nil, 0, false
	}
	rest = sample[5:]
	switch {
	case bytes.HasPrefix(rest, []byte("\r\n")):
		rest = rest[2:]
	case bytes.HasPrefix(rest, []byte("\n")):
		rest = rest[1:]
	case len(rest) > 0:
		return nil, 0, false
	}
	return rest, delim, true
}

// parseSample reads up to sniffRecords non-blank records with delim. Lazy
// quotes keep one odd row from hiding the structure; Next is strict. When
// the sample is a cut of a longer input, the last record may be cut too, so
// it is dropped (unless it is the only one).
func parseSample(sample []byte, delim rune, atEOF bool) [][]string {
	cr := csv.NewReader(bytes.NewReader(sample))
	cr.Comma = delim
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	var recs [][]string
	end := false
	for len(recs) < sniffRecords {
		rec, err := cr.Read()
		if err != nil {
			end = true
			break
		}
		if !blank(rec) {
			recs = append(recs, rec)
		}
	}
	if end && !atEOF && len(recs) > 1 {
		recs = recs[:len(recs)-1]
	}
	return recs
}

// pickDelimiter chooses the delimiter and returns the sample's records as
// parsed with it.
func pickDelimiter(sample []byte, atEOF bool) ([][]string, rune, error) {
	type cand struct {
		delim       rune
		recs        [][]string
		mode, share int // modal field count; share of rows with it, in 5% steps
	}
	var best, single cand
	// The candidates, in order of preference for ties.
	for i, delim := range [...]rune{',', ';', '\t', '|'} {
		recs := parseSample(sample, delim, atEOF)
		if len(recs) == 0 {
			return nil, 0, ErrEmpty
		}
		counts := map[int]int{}
		c := cand{delim: delim, recs: recs}
		for _, r := range recs {
			counts[len(r)]++
			if n := counts[len(r)]; n > counts[c.mode] || (n == counts[c.mode] && len(r) > c.mode) {
				c.mode = len(r)
			}
		}
		c.share = counts[c.mode] * 20 / len(recs)
		if i == 0 {
			single = c
		}
		if c.mode < 2 || c.share < 10 {
			continue
		}
		if best.recs == nil || c.share > best.share || (c.share == best.share && c.mode > best.mode) {
			best = c
		}
	}
	if best.recs != nil {
		return best.recs, best.delim, nil
	}
	if single.mode == 1 && single.share >= 10 {
		return single.recs, ',', nil
	}
	return nil, 0, fmt.Errorf("%w: its rows do not split into a consistent number of columns with , ; tab or |", ErrNotCSV)
}

// looksLikeHeader applies the header rule described at Sniff.
func looksLikeHeader(first []string, rest [][]string) bool {
	for _, c := range first {
		if looksLikeEmail(c) {
			return false
		}
	}
	for _, c := range first {
		n := normName(c)
		if emailNameTier(n) > 0 || knownHeader(n) {
			return true
		}
	}
	// The first row's cell above a column of addresses names it only if
	// it is not itself a (malformed) address: "jane@example" or "jane at
	// example.com" is a data row whose address is wrong, and it must be
	// verified, not dropped as a header.
	vc := valueColumn(rest)
	if vc < 0 || vc >= len(first) {
		return false
	}
	c := trimCell(first[vc])
	return c != "" && !addressLike(c)
}

// addressLike reports a cell that is meant as an address even though
// looksLikeEmail refuses it: it has an '@', spells it " at " or "(at)"
// before a dotted domain, or is one dotted word (jane.example.com). No
// header name written by an ESP, CRM or spreadsheet looks like that.
func addressLike(s string) bool {
	s = trimCell(s)
	if strings.IndexByte(s, '@') >= 0 {
		return true
	}
	lower := strings.ToLower(s)
	for _, at := range []string{" at ", "(at)", "[at]", "{at}"} {
		i := strings.Index(lower, at)
		if i <= 0 {
			continue
		}
		if dom := strings.TrimSpace(lower[i+len(at):]); strings.IndexFunc(dom, unicode.IsSpace) < 0 && dottedWord(dom) {
			return true
		}
	}
	return strings.IndexFunc(s, unicode.IsSpace) < 0 && dottedWord(s)
}

// dottedWord reports a dot with something on both sides.
func dottedWord(s string) bool {
	dot := strings.IndexByte(s, '.')
	return dot > 0 && dot < len(s)-1
}

// headerIndex finds the column the override names in the first row: first
// equal ignoring case and surrounding space, then equal after normName.
func headerIndex(first []string, name string) int {
	for i, c := range first {
		if strings.EqualFold(strings.TrimSpace(c), name) {
			return i
		}
	}
	if n := normName(name); n != "" {
		for i, c := range first {
			if normName(c) == n {
				return i
			}
		}
	}
	return -1
}

func unknownColumn(name string, hasHeader bool, first []string) error {
	if !hasHeader {
		return fmt.Errorf("%w: the file has no header row to find %q in; pass a column number instead (1 = first column)", ErrUnknownColumn, name)
	}
	return fmt.Errorf("%w: no column is named %q (the columns are %s)", ErrUnknownColumn, name, listNames(first))
}

// listNames quotes up to 12 header names for an error message.
func listNames(h []string) string {
	const most = 12
	var b strings.Builder
	for i, c := range h {
		if i == most {
			fmt.Fprintf(&b, ", and %d more", len(h)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(strings.TrimSpace(c)))
	}
	return b.String()
}

// colStats counts, per column, the non-empty cells and those that look like
// addresses.
type colStats struct{ filled, emails int }

func stats(rows [][]string) []colStats {
	var st []colStats
	for _, r := range rows {
		for len(st) < len(r) {
			st = append(st, colStats{})
		}
		for j, c := range r {
			if trimCell(c) == "" {
				continue
			}
			st[j].filled++
			if looksLikeEmail(c) {
				st[j].emails++
			}
		}
	}
	return st
}

// valueColumn is the column with the most address-like cells among those
// where at least half the non-empty cells look like addresses; -1 if none.
// Ties go to the leftmost column.
func valueColumn(rows [][]string) int {
	best, most := -1, 0
	for j, s := range stats(rows) {
		if s.emails > most && 2*s.emails >= s.filled {
			best, most = j, s.emails
		}
	}
	return best
}

// emailColumn picks the email column of a file with a header.
//
// Header names are compared after normName (lower case, letters and digits
// only), so "E-mail", "EMAIL" and "email" are one name. Tier 1 is the plain
// "email" / "email address"; tier 2 the other known names (Work Email,
// E-Mail-Adresse, Courriel, mail, …); tier 3 any other name containing
// "email" ("Owner Email", "Email 2"), which counts only when at least half
// its sampled values look like addresses, so "Email Domain" and "Email Opt
// Out" never win.
//
// A tier 1 or 2 column is taken when some sampled value looks like an
// address or the column is empty in the sample; the lowest tier wins, then
// the most address-like values, then the leftmost. Without such a column
// the values decide (valueColumn). When the values find nothing either, a
// tier 1 or 2 name is trusted anyway: its values may be addresses our simple
// check misses ("Name <a@b.example>"), and verification will say so row by
// row.
func emailColumn(header []string, rows [][]string) int {
	st := stats(rows)
	at := func(j int) colStats {
		if j < len(st) {
			return st[j]
		}
		return colStats{}
	}
	best, bestTier, fallback, fallbackTier := -1, 0, -1, 0
	for j, h := range header {
		n := normName(h)
		tier := emailNameTier(n)
		s := at(j)
		if tier == 0 {
			if !strings.Contains(n, "email") || s.emails == 0 || 2*s.emails < s.filled {
				continue
			}
			tier = 3
		} else if fallback < 0 || tier < fallbackTier {
			fallback, fallbackTier = j, tier
		}
		if tier < 3 && s.emails == 0 && s.filled > 0 {
			continue
		}
		if best < 0 || tier < bestTier || (tier == bestTier && s.emails > at(best).emails) {
			best, bestTier = j, tier
		}
	}
	if best >= 0 {
		return best
	}
	if vc := valueColumn(rows); vc >= 0 {
		return vc
	}
	return fallback
}

// emailNameTier ranks a normalized header name: 1 for the plain names, 2
// for other names known to hold the address, 0 for anything else.
func emailNameTier(n string) int {
	switch n {
	case "email", "emailaddress":
		return 1
	case "emails", "emailaddr", "emailid", "mail", "mailaddress",
		"workemail", "primaryemail", "contactemail", "businessemail",
		"personalemail", "useremail", "customeremail", "subscriberemail",
		"memberemail", "leademail", "emailadresse", "emailadres",
		"adresseemail", "adressemail", "courriel", "adressecourriel",
		"adressedecourriel", "correo", "correoelectronico",
		"correoelectrónico", "indirizzoemail", "enderecodeemail",
		"endereçodeemail", "epost", "epostadresse", "epostadress",
		"sähköposti", "sahkoposti":
		return 2
	}
	return 0
}

// knownHeader reports common non-email header names of CRM and ESP
// exports; they only help decide that the first row is a header.
func knownHeader(n string) bool {
	switch n {
	case "firstname", "lastname", "name", "fullname", "fname", "lname",
		"phone", "phonenumber", "mobile", "company", "organization",
		"title", "jobtitle", "address", "city", "state", "country", "zip",
		"zipcode", "postalcode", "birthday", "tags", "recordid", "id",
		"memberrating", "optintime", "lifecyclestage", "createdate",
		"source", "status", "vorname", "nachname", "prenom", "prénom", "nom":
		return true
	}
	return false
}

// normName lowercases a header name and keeps only letters and digits.
func normName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// looksLikeEmail is the sniffer's cheap test, not validation: one '@' with
// something before it, a dot with something on both sides after it, and no
// white space.
func looksLikeEmail(s string) bool {
	s = trimCell(s)
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return false
	}
	dom := s[at+1:]
	if strings.IndexByte(dom, '@') >= 0 {
		return false
	}
	dot := strings.IndexByte(dom, '.')
	return dot > 0 && dot < len(dom)-1
}

// trimCell drops white space, zero-width spaces and stray BOMs around a
// cell, which spreadsheets leave behind.
func trimCell(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff'
	})
}

// blank reports a record whose cells are all empty or white space, such as
// the ",,,," rows spreadsheets write after the data.
func blank(rec []string) bool {
	for _, c := range rec {
		if trimCell(c) != "" {
			return false
		}
	}
	return true
}

package csvio

import (
	"errors"
	"fmt"
)

// Sentinel errors. Check them with errors.Is: it sees through *LineError and
// *LimitError. The messages are written for the marketer who uploaded the
// file; they never quote cell contents, so they are safe to log and to return
// to API clients.
var (
	// ErrEmpty: the input has no bytes, or only blank lines.
	ErrEmpty = errors.New("the file is empty")
	// ErrNotCSV: binary data (an Excel workbook, an image, UTF-16 text),
	// damaged gzip data, or text without a consistent column structure.
	ErrNotCSV = errors.New("not a CSV file")
	// ErrNoEmailColumn: neither a header name nor the values point at a column
	// of email addresses.
	ErrNoEmailColumn = errors.New("no column looks like email addresses; pass ?column=NAME")
	// ErrUnknownColumn: the ?column= override names no header cell and is not
	// a column number within the file.
	ErrUnknownColumn = errors.New("no such column")
	// ErrTooManyRows: more data rows than Limits.MaxRows. Comes as *LimitError.
	ErrTooManyRows = errors.New("too many rows")
	// ErrTooLarge: more bytes than Limits.MaxBytes once decompressed. Comes
	// as *LimitError.
	ErrTooLarge = errors.New("the file is too large")
	// ErrRagged: a row that cannot be read: an unterminated quoted field, a
	// stray quote inside a quoted field, a row over 1 MiB, or a row with
	// more fields than Limits.MaxFields. Comes as *LineError.
	ErrRagged = errors.New("malformed row")
)

// errRecordTooLong is how the stream tells Next that a record passed
// maxRecordBytes; Next turns it into a *LineError wrapping ErrRagged.
var errRecordTooLong = errors.New("record too long")

// LineError ties an error to the input line where the faulty record starts.
type LineError struct {
	Line int    // 1-based line of the input where the record starts
	Err  error  // the sentinel, such as ErrRagged
	Msg  string // what is wrong, for people; Err's text when empty
}

func (e *LineError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// LimitError reports which limit of Limits the input went past.
type LimitError struct {
	Err   error // ErrTooManyRows or ErrTooLarge
	Limit int64 // the limit in force: rows or bytes
}

func (e *LimitError) Error() string {
	if errors.Is(e.Err, ErrTooLarge) {
		return fmt.Sprintf("%v: the limit is %s once uncompressed", e.Err, sizeText(e.Limit))
	}
	return fmt.Sprintf("%v: the limit is %d rows", e.Err, e.Limit)
}

func (e *LimitError) Unwrap() error { return e.Err }

// sizeText writes a byte count the way a person reads it.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

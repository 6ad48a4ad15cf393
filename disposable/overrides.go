package disposable

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/preflight-email/preflight/disposable/internal/entry"
)

// Errors in a list or overrides file. They reach the caller inside a
// [*LineError]; test for them with errors.Is.
var (
	ErrSyntax       = errors.New("malformed directive")
	ErrUnknownList  = errors.New("unknown list")
	ErrInvalidEntry = errors.New("invalid entry")
)

// LineError reports a bad line in an overrides file (or in an embedded
// list). Line counts from 1.
type LineError struct {
	Path string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err) }

// Unwrap returns the underlying error, one of the sentinels above or one
// wrapping them.
func (e *LineError) Unwrap() error { return e.Err }

type listName uint8

const (
	listDisposable listName = iota
	listFree
	listRole
)

// directive is one parsed line of an overrides file.
type directive struct {
	list  listName
	add   bool
	entry string
}

func readOverrides(path string) ([]directive, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("disposable: read overrides: %w", err)
	}
	return parseOverrides(path, string(data))
}

// parseOverrides parses the format described in the package documentation.
// It stops at the first bad line: applying half a file would leave lists
// that nobody wrote.
func parseOverrides(path, text string) ([]directive, error) {
	var dirs []directive
	n := 0
	for line := range strings.Lines(text) {
		n++
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF") // a byte order mark some editors add
		}
		d, ok, err := parseDirective(line)
		if err != nil {
			return nil, &LineError{Path: path, Line: n, Err: err}
		}
		if ok {
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}

// parseDirective parses one line; ok is false for blank and comment lines.
func parseDirective(line string) (d directive, ok bool, err error) {
	if !utf8.ValidString(line) {
		return d, false, fmt.Errorf("%w: not valid UTF-8", ErrSyntax)
	}
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return d, false, nil
	}
	if len(f) != 2 {
		return d, false, fmt.Errorf("%w: want \"<list> +<entry>\" or \"<list> -<entry>\", got %q",
			ErrSyntax, strings.TrimSpace(line))
	}
	norm := entry.Domain
	switch f[0] {
	case "disposable":
		d.list = listDisposable
	case "free":
		d.list = listFree
	case "role":
		d.list, norm = listRole, entry.Local
	default:
		return d, false, fmt.Errorf("%w %q (want disposable, free or role)", ErrUnknownList, f[0])
	}
	switch f[1][0] {
	case '+':
		d.add = true
	case '-':
	default:
		return d, false, fmt.Errorf("%w: entry %q must start with + (add) or - (remove)", ErrSyntax, f[1])
	}
	if d.entry, err = norm(f[1][1:]); err != nil {
		return d, false, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	return d, true, nil
}

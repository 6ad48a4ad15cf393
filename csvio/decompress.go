package csvio

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// Decompress wraps r in a gzip reader when the stream starts with the gzip
// magic bytes 1f 8b (RFC 1952 §2.3.1); otherwise it returns a reader that
// replays the peeked bytes and then the rest of r. It never loads the stream
// whole: only gzip's window and a small buffer are held. Concatenated gzip
// members are read as one stream.
//
// Damaged or truncated gzip data surfaces, when it is met, as an error
// wrapping ErrNotCSV. Its message is ours, for the uploader; the gzip or
// flate error it unwraps to is for logs. Decompress sets no size
// limit itself: NewReader counts the decompressed bytes against
// Limits.MaxBytes, which is what stops a gzip bomb.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("csvio: read input: %w", err)
	}
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, gzipError(err)
	}
	return gzipReader{zr}, nil
}

// gzipReader turns gzip's own failures into ErrNotCSV, so that callers see a
// damaged upload as such rather than as an I/O failure of ours.
type gzipReader struct{ zr *gzip.Reader }

func (g gzipReader) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = gzipError(err)
	}
	return n, err
}

func gzipError(err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.EOF) || errors.As(err, &corrupt) {
		return &gzipDamage{err: err}
	}
	// Anything else comes from the underlying reader (a dropped upload, say).
	return fmt.Errorf("csvio: read input: %w", err)
}

// gzipDamage is damaged or truncated gzip data. Its message leaves out
// the library's text ("flate: corrupt input before offset 5"), which means
// nothing to the uploader; errors.As still reaches it.
type gzipDamage struct{ err error }

func (e *gzipDamage) Error() string {
	return ErrNotCSV.Error() + ": the gzip data is damaged or cut short"
}

func (e *gzipDamage) Is(target error) bool { return target == ErrNotCSV }

func (e *gzipDamage) Unwrap() error { return e.err }

// limitReader counts the bytes read and fails with a *LimitError once more
// than limit bytes arrive (limit 0: count only). It asks the source for at
// most one byte past the limit, so a gzip bomb is inflated no further than
// that.
type limitReader struct {
	r     io.Reader
	limit int64
	n     int64
	err   error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.limit > 0 {
		if room := l.limit - l.n + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := l.r.Read(p)
	if l.limit > 0 && l.n+int64(n) > l.limit {
		n = int(l.limit - l.n)
		l.n = l.limit
		l.err = &LimitError{Err: ErrTooLarge, Limit: l.limit}
		return n, l.err
	}
	l.n += int64(n)
	return n, err
}

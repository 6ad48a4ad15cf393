package jobs

import (
	"context"
	"errors"
	"fmt"
	"github.com/preflight-email/preflight/syntax"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/preflight-email/preflight/csvio"
)

// CreateOptions tune a new job.
type CreateOptions struct {
	// Column chooses the email column (a header name or a 1-based
	// number) instead of detecting it.
	Column string
	// CallbackURL, when set, is POSTed the job's summary when it finishes.
	CallbackURL string
	// Source is recorded with the job; the CLI stores a fingerprint of its
	// input file here to tell whether a state file belongs to it.
	Source string
	// Owner is the id of the API key that makes the job; only that key
	// may see it. "" when the API runs without keys.
	Owner string
	// Sample, when above 0, makes a list preview: only that many distinct
	// addresses, drawn at random, are stored and checked, and the job's
	// status projects the whole list's health from them (at most
	// MaxSample).
	Sample int
}

// ErrEmpty means the upload has a header but no data row.
var ErrEmpty = errors.New("the file has a header but no data rows")

// Errors of an upload that the server, not the file, is the cause of.
var (
	// ErrBusy means Config.MaxConcurrentUploads uploads are being stored
	// already: try again shortly.
	ErrBusy = errors.New("jobs: too many uploads at once")
	// ErrFull means the upload would pass Config.MaxStoredRows: delete
	// finished jobs, or wait for their retention to run out.
	ErrFull = errors.New("jobs: the job store is full")
)

// ErrCallback means the callback URL is unusable or not allowed.
var ErrCallback = errors.New("jobs: bad callback_url")

// UploadError is an upload rejected for its content. Its message is meant
// for the uploader: it says what is wrong and, when known, on which line.
type UploadError struct {
	Line int // 1-based line of the file where the fault is; 0 when not about one line
	Err  error
}

// Error is safe to show to the uploader: csvio's messages never quote cell
// contents, and any other failure (a dropped connection, say) gets a fixed
// text.
func (e *UploadError) Error() string {
	for _, s := range []error{
		csvio.ErrEmpty, csvio.ErrNotCSV, csvio.ErrNoEmailColumn, csvio.ErrUnknownColumn,
		csvio.ErrTooManyRows, csvio.ErrTooLarge, csvio.ErrRagged, ErrEmpty,
	} {
		if errors.Is(e.Err, s) {
			return e.Err.Error()
		}
	}
	if e.Line > 0 {
		return fmt.Sprintf("line %d: the upload could not be read", e.Line)
	}
	return "the upload could not be read"
}

func (e *UploadError) Unwrap() error { return e.Err }

// TooLarge reports whether the upload broke the size or row limit.
func (e *UploadError) TooLarge() bool {
	return errors.Is(e.Err, csvio.ErrTooLarge) || errors.Is(e.Err, csvio.ErrTooManyRows)
}

// uploadChunk is how many rows one upload transaction stores: large enough
// to amortise the commit, small enough to keep the write lock brief for
// the runners writing results beside it.
const uploadChunk = 2000

// uploadChunkBytes also ends a chunk: rows may be up to 1 MiB each
// (csvio's record limit), and 2,000 of them would hold gigabytes.
const uploadChunkBytes = 4 << 20

// rowBytes estimates the memory a row's fields hold: their bytes and a
// string header each.
func rowBytes(fields []string) int {
	n := 16 * len(fields)
	for _, f := range fields {
		n += len(f)
	}
	return n
}

// Create stores an uploaded CSV as a new job and queues it. The body is
// read as a stream, decompressed when gzipped, and never held whole. A
// rejected upload (an *UploadError, or ErrCallback) leaves no job behind:
// its rows are stored under a state no reader sees, then either published
// in one step or deleted.
func (m *Manager) Create(ctx context.Context, body io.Reader, opts CreateOptions) (Status, error) {
	if err := m.checkCallback(opts.CallbackURL); err != nil {
		return Status{}, err
	}
	select {
	case m.uploads <- struct{}{}:
		defer func() { <-m.uploads }()
	default:
		return Status{}, ErrBusy
	}
	stored, err := m.st.storedRows(ctx)
	if err != nil {
		return Status{}, err
	}
	if stored >= m.cfg.MaxStoredRows {
		return Status{}, ErrFull
	}
	// NewReader decompresses gzip itself and counts the decompressed bytes
	// against the limit, which also stops a gzip bomb.
	cr, err := csvio.NewReader(body, opts.Column, csvio.Limits{MaxRows: m.cfg.MaxRows, MaxBytes: m.cfg.MaxUploadBytes})
	if err != nil {
		return Status{}, uploadError(err)
	}
	d := cr.Dialect()
	j := jobRecord{
		id:          newID(),
		created:     time.Now(),
		delimiter:   d.Delimiter,
		bom:         d.BOM,
		hasHeader:   d.HasHeader,
		header:      d.Header,
		emailColumn: d.EmailColumn,
		callbackURL: opts.CallbackURL,
		source:      opts.Source,
		owner:       opts.Owner,
	}
	var picked []row
	if opts.Sample > 0 {
		if opts.Sample > MaxSample {
			return Status{}, &UploadError{Err: fmt.Errorf("a sample is at most %d addresses", MaxSample)}
		}
		picked, j.width, j.populationRows, j.populationAddrs, err = sampleRows(ctx, cr, opts.Sample)
		if err != nil {
			return Status{}, err
		}
		j.sample = int64(len(picked))
	}
	if err := m.st.createJob(ctx, &j); err != nil {
		return Status{}, err
	}
	var total int64
	var widest int
	if opts.Sample > 0 {
		total, widest = int64(len(picked)), j.width
		for c := range slices.Chunk(picked, uploadChunk) {
			if err = m.st.appendRows(ctx, j.pk, c); err != nil {
				break
			}
		}
	} else {
		total, widest, err = m.storeRows(ctx, j.pk, cr, m.cfg.MaxStoredRows-stored)
	}
	if err == nil && total == 0 {
		err = &UploadError{Err: ErrEmpty}
	}
	if err == nil {
		// The export puts its result columns after this many (see
		// exportCSV): the header's, which name them; without a header
		// the widest row's, for no row is more telling than another.
		width := d.Columns
		if !d.HasHeader {
			width = max(widest, d.Columns)
		}
		err = m.st.commitJob(ctx, j.pk, total, width)
	}
	if err != nil {
		// The caller may have gone; the cleanup must finish regardless.
		if derr := m.st.deleteJob(context.WithoutCancel(ctx), j.pk); derr != nil {
			m.log.Error("removing rejected upload", "job", j.id, "err", derr)
		}
		return Status{}, err
	}
	j.state, j.total = Queued, total
	m.log.Info("job created", "job", j.id, "rows", total)
	m.enqueue(ctx, j)
	return m.Status(ctx, j.id)
}

// storeRows stores the rows in chunks of up to uploadChunk rows or
// uploadChunkBytes, and returns their number and the largest number of
// fields in a row.
// room is how many rows the store may still take (Config.MaxStoredRows).
func (m *Manager) storeRows(ctx context.Context, pk int64, cr *csvio.Reader, room int64) (total int64, width int, err error) {
	chunk := make([]row, 0, uploadChunk)
	lanes := newLaneCounter()
	size := 0
	for {
		rec, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, uploadError(err)
		}
		if total >= room {
			return 0, 0, ErrFull
		}
		key, domain := addressKey(rec.Email)
		chunk = append(chunk, row{line: rec.Line, key: key, domain: domain, lane: lanes.next(domain), fields: rec.Fields})
		total++
		width = max(width, len(rec.Fields))
		size += rowBytes(rec.Fields)
		if len(chunk) == uploadChunk || size >= uploadChunkBytes {
			if err := m.st.appendRows(ctx, pk, chunk); err != nil {
				return 0, 0, err
			}
			// Drop the stored rows' fields for the collector.
			clear(chunk)
			chunk, size = chunk[:0], 0
		}
	}
	if len(chunk) > 0 {
		if err := m.st.appendRows(ctx, pk, chunk); err != nil {
			return 0, 0, err
		}
	}
	return total, width, nil
}

// laneSize is how many addresses of one domain a lane holds. The runner
// hands addresses out lane by lane: the first laneSize addresses of every
// domain, then the next laneSize of every domain, and so on, so that a
// list dominated by a few big providers keeps all of its receiving hosts
// busy at once, each at its own limit, instead of working one provider
// after the other.
const laneSize = 32

// maxLaneDomains bounds the domains whose counts an upload keeps; an
// address of a domain past it goes in lane 0, which only costs that
// domain's order, never an address.
const maxLaneDomains = 200_000

// laneCounter numbers the rows of each domain during an upload.
type laneCounter map[string]int

func newLaneCounter() laneCounter { return make(laneCounter) }

// next returns the lane of the next row at domain. Duplicate rows count
// too; they keep their first row's lane in the store.
func (c laneCounter) next(domain string) int {
	n, ok := c[domain]
	if !ok && len(c) >= maxLaneDomains {
		return 0
	}
	c[domain] = n + 1
	return n / laneSize
}

// uploadError wraps a csvio or decompression error, keeping its line.
func uploadError(err error) error {
	var le *csvio.LineError
	if errors.As(err, &le) {
		return &UploadError{Line: le.Line, Err: err}
	}
	return &UploadError{Err: err}
}

// addressKey is the identity of an address within a job: its
// syntax.Address.Key, so that rows spelling one mailbox differently are
// verified once (it is also what is verified). A value that is not an
// address keeps its trimmed text, and its domain is what follows its last
// "@" ("" without one), so that it still sorts with its neighbours.
func addressKey(email string) (key, domain string) {
	e := strings.TrimSpace(email)
	if a, err := syntax.Parse(e); err == nil {
		return a.Key(), a.Domain
	}
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e, ""
	}
	domain = strings.ToLower(e[at+1:])
	return e[:at+1] + domain, domain
}

// checkCallback accepts an absolute http(s) URL. A literal address is
// checked against the SSRF guard now; a host name is checked, on every
// delivery, against each address it resolves to.
func (m *Manager) checkCallback(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%w: must be an absolute http or https URL", ErrCallback)
	}
	if err := m.hook.allowedHost(u.Hostname()); err != nil {
		return fmt.Errorf("%w: %v", ErrCallback, err)
	}
	return nil
}

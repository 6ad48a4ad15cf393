package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/outcome"
)

// Jobs runs bulk list verification (*jobs.Manager).
type Jobs interface {
	Create(ctx context.Context, body io.Reader, opts jobs.CreateOptions) (jobs.Status, error)
	Status(ctx context.Context, id string) (jobs.Status, error)
	Export(ctx context.Context, id string, w io.Writer, opts jobs.ExportOptions) error
	Delete(ctx context.Context, id string) error
	Finish(ctx context.Context, id string) (jobs.Status, error)
	// UploadLimit is the largest CSV accepted, in bytes once decompressed.
	UploadLimit() int64
}

// uploadSlack is what a multipart envelope may add to the CSV itself.
const uploadSlack = 1 << 20

// transferIdle and transferProgress bound a slow upload or export. Big
// lists take longer to send than the server's read and write timeouts
// allow, which are sized for real-time checks; these routes instead give
// the peer transferIdle for every transferProgress bytes, so a peer that
// stops, or trickles a byte now and then to hold the connection, is cut
// off while a slow but real transfer (over 546 bytes/s) goes on.
const (
	transferIdle     = 2 * time.Minute
	transferProgress = 64 << 10
)

// sliding moves a connection deadline forward as a transfer progresses:
// idle from the start, and idle again each time min more bytes have moved.
type sliding struct {
	set     func(time.Time) error
	idle    time.Duration
	min     int64
	started bool
	moved   int64 // bytes since the deadline was last pushed
}

func newSliding(set func(time.Time) error) sliding {
	return sliding{set: set, idle: transferIdle, min: transferProgress}
}

// begin sets the first deadline, before the first read or write.
func (s *sliding) begin() {
	if !s.started {
		s.started = true
		_ = s.set(time.Now().Add(s.idle)) // unsupported by recorders in tests
	}
}

// progress counts n bytes moved and pushes the deadline once there are
// enough. Calls alone earn nothing: only bytes do.
func (s *sliding) progress(n int) {
	s.moved += int64(n)
	if s.moved >= s.min {
		s.moved = 0
		_ = s.set(time.Now().Add(s.idle))
	}
}

type slidingReader struct {
	io.ReadCloser
	s sliding
}

func (r *slidingReader) Read(p []byte) (int, error) {
	r.s.begin()
	n, err := r.ReadCloser.Read(p)
	r.s.progress(n)
	return n, err
}

type slidingWriter struct {
	w io.Writer
	s sliding
}

func (w *slidingWriter) Write(p []byte) (int, error) {
	w.s.begin()
	n, err := w.w.Write(p)
	w.s.progress(n)
	return n, err
}

func (a *API) registerJobs(g *gin.RouterGroup) {
	g.POST("/jobs", a.jobCreate)
	g.GET("/jobs/:id", a.jobStatus)
	g.GET("/jobs/:id/results", a.jobResults)
	g.DELETE("/jobs/:id", a.jobDelete)
	g.POST("/jobs/:id/finish", a.jobFinish)
}

// ownsBodyLimit tells limitBody to leave a route's body alone: uploads are
// bounded by jobs.max_upload_bytes, not by http.max_body_bytes.
func ownsBodyLimit(c *gin.Context) bool {
	return c.Request.Method == http.MethodPost && c.FullPath() == "/v1/jobs"
}

type jobCreated struct {
	ID     string     `json:"id"`
	Status jobs.State `json:"status"`
}

// jobCreate takes the CSV as the raw body (text/csv, optionally gzipped)
// or as the multipart field "file", and streams it into a new job.
func (a *API) jobCreate(c *gin.Context) {
	limit := a.jobs.UploadLimit()
	rc := http.NewResponseController(c.Writer)
	c.Request.Body = &slidingReader{
		ReadCloser: http.MaxBytesReader(c.Writer, c.Request.Body, limit+uploadSlack),
		s:          newSliding(rc.SetReadDeadline),
	}
	var body io.Reader = c.Request.Body
	mediaType, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mediaType {
	case "multipart/form-data":
		mr, err := c.Request.MultipartReader()
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_multipart", "the multipart body cannot be read")
			return
		}
		body = nil
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			if part.FormName() == "file" {
				body = part
				break
			}
		}
		if body == nil {
			abort(c, http.StatusBadRequest, "missing_file", "a multipart upload needs the CSV in a field named file")
			return
		}
	case "application/json", "application/x-www-form-urlencoded":
		abort(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"upload the CSV as the raw body (text/csv, optionally gzipped) or as the multipart field file")
		return
	}
	sample, ok := sampleSize(c)
	if !ok {
		return
	}
	st, err := a.jobs.Create(c.Request.Context(), body, jobs.CreateOptions{
		Column:      c.Query("column"),
		CallbackURL: c.Query("callback_url"),
		Owner:       owner(c),
		Sample:      sample,
	})
	// The upload may have outlasted the server's write timeout.
	_ = rc.SetWriteDeadline(time.Now().Add(transferIdle))
	var tooBig *http.MaxBytesError
	var bad *jobs.UploadError
	switch {
	case err == nil:
		c.Header("Location", "/v1/jobs/"+st.ID)
		c.JSON(http.StatusAccepted, jobCreated{ID: st.ID, Status: st.Status})
	case errors.As(err, &tooBig):
		abort(c, http.StatusRequestEntityTooLarge, "upload_too_large",
			"the upload is larger than "+strconv.FormatInt(limit, 10)+" bytes")
	case errors.As(err, &bad) && bad.TooLarge():
		abort(c, http.StatusRequestEntityTooLarge, "upload_too_large", bad.Error())
	case errors.As(err, &bad):
		abort(c, http.StatusBadRequest, "invalid_csv", bad.Error())
	case errors.Is(err, jobs.ErrBusy):
		c.Header("Retry-After", "30")
		abort(c, http.StatusTooManyRequests, "too_many_uploads",
			"other uploads are being stored; try again in 30 seconds")
	case errors.Is(err, jobs.ErrFull):
		abort(c, http.StatusInsufficientStorage, "store_full",
			"the job store is full; delete finished jobs or wait for their retention to run out")
	case errors.Is(err, jobs.ErrCallback):
		abort(c, http.StatusBadRequest, "invalid_callback_url",
			"callback_url must be an absolute http or https URL of a public host")
	case c.Request.Context().Err() != nil:
		// The client went away mid-upload; nobody reads this reply.
		abort(c, http.StatusBadRequest, "upload_interrupted", "the upload was interrupted")
	default:
		a.log.Error("creating job", "err", err)
		abort(c, http.StatusInternalServerError, "internal", "internal error")
	}
}

func (a *API) jobStatus(c *gin.Context) {
	st, err := a.jobs.Status(c.Request.Context(), c.Param("id"))
	if err != nil {
		a.jobError(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// jobResults serves the results of a done job. A job that is not done
// gets 409: a half-checked list must not be imported by mistake.
func (a *API) jobResults(c *gin.Context) {
	opts := jobs.ExportOptions{Format: jobs.CSV}
	switch f := c.DefaultQuery("format", "csv"); f {
	case "csv":
	case "jsonl":
		opts.Format = jobs.JSONL
	default:
		abort(c, http.StatusBadRequest, "invalid_format", "format must be csv or jsonl")
		return
	}
	if s := c.Query("verdict"); s != "" {
		for _, v := range strings.Split(s, ",") {
			v = strings.TrimSpace(v)
			if !knownVerdict(v) {
				abort(c, http.StatusBadRequest, "invalid_verdict", "verdict must be a comma-separated list of deliverable, undeliverable, risky and unknown")
				return
			}
			opts.Verdicts = append(opts.Verdicts, outcome.Verdict(v))
		}
	}
	if s := c.Query("raw"); s != "" {
		raw, err := strconv.ParseBool(s)
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_raw", "raw must be true or false")
			return
		}
		opts.Raw = raw
	}
	// ?neutralize=false is the documented name; ?raw=true its older alias.
	if s := c.Query("neutralize"); s != "" {
		n, err := strconv.ParseBool(s)
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_neutralize", "neutralize must be true or false")
			return
		}
		opts.Raw = !n
	}
	if s := c.Query("partial"); s != "" {
		p, err := strconv.ParseBool(s)
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_partial", "partial must be true or false")
			return
		}
		opts.Partial = p
	}
	id := c.Param("id")
	st, err := a.jobs.Status(c.Request.Context(), id)
	if err != nil {
		a.jobError(c, err)
		return
	}
	if st.Status != jobs.Done && !(opts.Partial && (st.Status == jobs.Running || st.Status == jobs.Queued)) {
		abort(c, http.StatusConflict, "job_not_done",
			fmt.Sprintf("the job is %s (%d of %d rows checked); results are served once it is done, or now with ?partial=true", st.Status, st.Processed, st.Total))
		return
	}
	if opts.Format == jobs.JSONL {
		c.Header("Content-Type", "application/x-ndjson")
		c.Header("Content-Disposition", `attachment; filename="preflight-`+id+`.jsonl"`)
	} else {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="preflight-`+id+`.csv"`)
	}
	c.Status(http.StatusOK)
	out := &slidingWriter{w: c.Writer, s: newSliding(http.NewResponseController(c.Writer).SetWriteDeadline)}
	err = a.jobs.Export(c.Request.Context(), id, out, opts)
	if err == nil {
		return
	}
	if !c.Writer.Written() {
		// Nothing is sent yet: the error goes out as JSON, without the
		// file's headers (gin keeps a Content-Type already set).
		c.Writer.Header().Del("Content-Type")
		c.Writer.Header().Del("Content-Disposition")
		a.jobError(c, err)
		return
	}
	if c.Request.Context().Err() == nil {
		a.log.Error("exporting job", "job", id, "err", err)
	}
	cutDownload(c)
}

// cutDownload ends a download that failed after its first bytes: the
// connection is closed without the closing chunk, so the client sees a
// broken download, not a short file that looks complete. gin refuses to
// hijack once body bytes are written, so the server's own writer, under
// gin's, is asked.
func cutDownload(c *gin.Context) {
	var w http.ResponseWriter = c.Writer
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
	c.Abort()
}

func knownVerdict(v string) bool {
	for _, k := range outcome.Verdicts() {
		if string(k) == v {
			return true
		}
	}
	return false
}

// jobDelete cancels the job if it runs and removes all its data.
func (a *API) jobDelete(c *gin.Context) {
	if err := a.jobs.Delete(c.Request.Context(), c.Param("id")); err != nil {
		a.jobError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// jobFinish ends a job's wait for greylisted and rate-limited addresses:
// they keep their last answer.
func (a *API) jobFinish(c *gin.Context) {
	st, err := a.jobs.Finish(c.Request.Context(), c.Param("id"))
	switch {
	case errors.Is(err, jobs.ErrNothingWaiting):
		abort(c, http.StatusConflict, "nothing_waiting", "no address of this job is waiting for a retry")
	case errors.Is(err, jobs.ErrNotDone):
		abort(c, http.StatusConflict, "job_not_running", "only a queued or running job can be finished early")
	case err != nil:
		a.jobError(c, err)
	default:
		c.JSON(http.StatusOK, st)
	}
}

func (a *API) jobError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		abort(c, http.StatusNotFound, "job_not_found", "no such job")
	case errors.Is(err, jobs.ErrNotDone):
		abort(c, http.StatusConflict, "job_not_done", "results are served once the job is done")
	case errors.Is(err, jobs.ErrFormat):
		abort(c, http.StatusBadRequest, "invalid_option", "unknown format or verdict")
	default:
		a.log.Error("jobs", "path", c.FullPath(), "err", err)
		abort(c, http.StatusInternalServerError, "internal", "internal error")
	}
}

package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/bounce"
	"github.com/preflight-email/preflight/doctor"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/reply"
	"github.com/preflight-email/preflight/suppression"
)

// Bounces is the suppression list behind /v1/suppressions and
// /v1/sender-health (*suppression.List).
type Bounces interface {
	Ingest(ctx context.Context, events []suppression.Event) ([]suppression.Applied, error)
	Lookup(ctx context.Context, email string) (suppression.Entry, bool, error)
	Remove(ctx context.Context, email, reason string) (bool, error)
	Export(ctx context.Context, w io.Writer) error
	Health(ctx context.Context, now time.Time) (suppression.Health, error)
}

// classifyMax bounds the messages of one classify request.
const classifyMax = 1000

// registerClassify adds POST /v1/bounces/classify, which needs no store.
func (a *API) registerClassify(g *gin.RouterGroup) {
	g.POST("/bounces/classify", a.classify)
}

// registerBounces adds the suppression list and sender-health routes.
func (a *API) registerBounces(g *gin.RouterGroup, b Bounces) {
	r := &bounceRoutes{api: a, b: b}
	g.POST("/suppressions/events", r.ingest)
	g.GET("/suppressions", r.export)
	g.GET("/suppressions/:email", r.lookup)
	g.DELETE("/suppressions/:email", r.remove)
	g.GET("/sender-health", r.health)
}

type classifyRequest struct {
	Message  *string  `json:"message"`
	Messages []string `json:"messages"`
}

type classifyBatch struct {
	Results []bounce.Classification `json:"results"`
}

type dsnResponse struct {
	Recipients []bounce.RecipientView `json:"recipients"`
}

// classify reads {"message"}, {"messages"} or a whole bounce message
// (message/rfc822, or a multipart/report body with the boundary in
// Content-Type) in any layout package bounce reads, one result per
// recipient in the order the message lists them.
func (a *API) classify(c *gin.Context) {
	switch ct := c.ContentType(); ct {
	case "message/rfc822", "multipart/report":
		body, ok := a.readBody(c)
		if !ok {
			return
		}
		if ct == "multipart/report" {
			// The body is the report itself: give it the header that
			// names its boundary, as in the message it came from.
			body = append([]byte("Content-Type: "+c.GetHeader("Content-Type")+"\r\n\r\n"), body...)
		}
		rep, err := bounce.Read(body)
		if err != nil {
			abort(c, http.StatusBadRequest, "not_dsn",
				"body is not a bounce, complaint or auto-reply: no failed recipient could be read from it")
			return
		}
		out := dsnResponse{Recipients: make([]bounce.RecipientView, len(rep.Recipients))}
		for i, d := range rep.Recipients {
			out.Recipients[i] = bounce.View(d)
		}
		c.JSON(http.StatusOK, out)
		return
	}
	var req classifyRequest
	if !a.bindJSON(c, &req) {
		return
	}
	switch {
	case req.Message != nil && req.Messages != nil:
		abort(c, http.StatusBadRequest, "ambiguous_body", `send either "message" or "messages", not both`)
	case req.Message != nil:
		if strings.TrimSpace(*req.Message) == "" {
			abort(c, http.StatusBadRequest, "missing_message", `"message" is blank`)
			return
		}
		c.JSON(http.StatusOK, bounce.Classify(reply.ClassifyText(*req.Message)))
	case len(req.Messages) > classifyMax:
		abort(c, http.StatusRequestEntityTooLarge, "batch_too_large", "at most "+strconv.Itoa(classifyMax)+" messages per request")
	case len(req.Messages) > 0:
		out := classifyBatch{Results: make([]bounce.Classification, len(req.Messages))}
		for i, m := range req.Messages {
			out.Results[i] = bounce.Classify(reply.ClassifyText(m))
		}
		c.JSON(http.StatusOK, out)
	default:
		abort(c, http.StatusBadRequest, "missing_message",
			`body must be {"message": "..."} or {"messages": ["...", ...]}, or a DSN sent as message/rfc822`)
	}
}

// readBody reads the whole (size-limited) body, answering 413 itself.
func (a *API) readBody(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			abort(c, http.StatusRequestEntityTooLarge, "body_too_large", "request body larger than "+strconv.FormatInt(a.cfg.MaxBodyBytes, 10)+" bytes")
		} else {
			abort(c, http.StatusBadRequest, "unreadable_body", "could not read the request body")
		}
		return nil, false
	}
	return body, true
}

type bounceRoutes struct {
	api *API
	b   Bounces
}

type ingestResponse struct {
	Ingested   int                   `json:"ingested"`   // new events recorded
	Duplicates int                   `json:"duplicates"` // events already recorded, not counted again
	Results    []suppression.Applied `json:"results"`
	Ignored    string                `json:"ignored,omitempty"` // why a well-formed non-bounce notification was skipped
}

// ingest takes bounce events: our own JSON, an ESP's webhook body, or a
// whole bounce message (Content-Type message/rfc822).
func (r *bounceRoutes) ingest(c *gin.Context) {
	body, ok := r.api.readBody(c)
	if !ok {
		return
	}
	if c.ContentType() == "message/rfc822" {
		r.ingestMessage(c, body)
		return
	}
	evs, err := suppression.ParseEvents(body, c.GetHeader("Content-Type"))
	switch {
	case errors.Is(err, suppression.ErrSubscriptionConfirmation):
		abort(c, http.StatusBadRequest, "sns_subscription_confirmation", err.Error())
		return
	case errors.Is(err, suppression.ErrNotBounce):
		// Answer 200 so the ESP does not retry a notification we will
		// never use, and say why it was skipped.
		c.JSON(http.StatusOK, ingestResponse{Results: []suppression.Applied{}, Ignored: err.Error()})
		return
	case err != nil:
		// ParseEvents words its errors for the client: they name the
		// field or shape at fault and hold nothing internal.
		abort(c, http.StatusBadRequest, "invalid_events", err.Error())
		return
	}
	applied, err := r.b.Ingest(c.Request.Context(), evs)
	if err != nil {
		if errors.Is(err, suppression.ErrInvalidAddress) {
			abort(c, http.StatusBadRequest, "invalid_email", err.Error())
			return
		}
		r.api.log.Error("ingest bounce events", "events", len(evs), "err", err)
		abort(c, http.StatusInternalServerError, "internal", "could not record the events")
		return
	}
	out := ingestResponse{Results: applied}
	for _, a := range applied {
		if a.Duplicate {
			out.Duplicates++
		} else {
			out.Ingested++
		}
	}
	c.JSON(http.StatusOK, out)
}

// ingestMessage applies a raw bounce message: every recipient's
// diagnosis, idempotent by the message's Message-ID (else its content
// hash). A message that is not a bounce, or an auto-reply, is answered
// 200 with the reason it was ignored, so a forwarding mailbox does not
// retry it.
func (r *bounceRoutes) ingestMessage(c *gin.Context, body []byte) {
	o, err := bounce.Apply(c.Request.Context(), r.b, body)
	switch {
	case errors.Is(err, bounce.ErrNotBounce), errors.Is(err, bounce.ErrEmpty):
		c.JSON(http.StatusOK, ingestResponse{Results: []suppression.Applied{}, Ignored: "not a bounce, complaint or auto-reply"})
		return
	case errors.Is(err, suppression.ErrInvalidAddress):
		abort(c, http.StatusBadRequest, "invalid_email", "the bounce names a recipient that is not a valid email address")
		return
	case err != nil:
		r.api.log.Error("ingest bounce message", "err", err)
		abort(c, http.StatusInternalServerError, "internal", "could not record the events")
		return
	}
	out := ingestResponse{Results: o.Applied}
	if out.Results == nil {
		out.Results = []suppression.Applied{}
	}
	for _, a := range o.Applied {
		if a.Duplicate {
			out.Duplicates++
		} else {
			out.Ingested++
		}
	}
	if len(o.Applied) == 0 {
		out.Ignored = "an auto-reply or delivery report: nothing to suppress"
	}
	c.JSON(http.StatusOK, out)
}

func (r *bounceRoutes) lookup(c *gin.Context) {
	e, ok, err := r.b.Lookup(c.Request.Context(), c.Param("email"))
	switch {
	case errors.Is(err, suppression.ErrInvalidAddress):
		abort(c, http.StatusBadRequest, "invalid_email", "not a valid email address")
	case err != nil:
		r.api.log.Error("suppression lookup", "err", err)
		abort(c, http.StatusInternalServerError, "internal", "could not read the suppression list")
	case !ok:
		abort(c, http.StatusNotFound, "not_suppressed", "the address is not on the suppression list")
	default:
		c.JSON(http.StatusOK, e)
	}
}

type removeResponse struct {
	Email   string `json:"email"`
	Removed bool   `json:"removed"`
	Reason  string `json:"reason"`
}

func (r *bounceRoutes) remove(c *gin.Context) {
	email, reason := c.Param("email"), strings.TrimSpace(c.Query("reason"))
	if reason == "" {
		abort(c, http.StatusBadRequest, "missing_reason", "query parameter reason is required: say why the address may be mailed again")
		return
	}
	ok, err := r.b.Remove(c.Request.Context(), email, reason)
	switch {
	case errors.Is(err, suppression.ErrInvalidAddress):
		abort(c, http.StatusBadRequest, "invalid_email", "not a valid email address")
	case err != nil:
		r.api.log.Error("suppression remove", "err", err)
		abort(c, http.StatusInternalServerError, "internal", "could not update the suppression list")
	case !ok:
		abort(c, http.StatusNotFound, "not_suppressed", "the address is not on the suppression list")
	default:
		c.JSON(http.StatusOK, removeResponse{Email: email, Removed: true, Reason: reason})
	}
}

// export streams the list as CSV. Export buffers its first rows, so a
// failure to read the list still gets a JSON error; one after the first
// bytes breaks the download (cutDownload), so that a truncated list is
// never taken for the whole one.
func (r *bounceRoutes) export(c *gin.Context) {
	w := &lazyCSV{c: c}
	if err := r.b.Export(c.Request.Context(), w); err != nil {
		if c.Request.Context().Err() == nil {
			r.api.log.Error("suppression export", "err", err)
		}
		if !w.started {
			abort(c, http.StatusInternalServerError, "internal", "could not export the suppression list")
			return
		}
		cutDownload(c)
		return
	}
	if !w.started { // an empty export still has its header row; be safe anyway
		w.Write(nil)
	}
}

// lazyCSV sends the CSV headers with the first write.
type lazyCSV struct {
	c       *gin.Context
	started bool
}

func (w *lazyCSV) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		w.c.Header("Content-Type", "text/csv; charset=utf-8")
		w.c.Header("Content-Disposition", `attachment; filename="suppressions.csv"`)
		w.c.Status(http.StatusOK)
	}
	return w.c.Writer.Write(p)
}

func (r *bounceRoutes) health(c *gin.Context) {
	h, err := r.b.Health(c.Request.Context(), time.Now())
	if err != nil {
		r.api.log.Error("sender health", "err", err)
		abort(c, http.StatusInternalServerError, "internal", "could not summarise the bounce events")
		return
	}
	if r.api.doctor == nil && r.api.routes == nil {
		c.JSON(http.StatusOK, h)
		return
	}
	// Our own identity's failures (a route on a blocklist, no PTR) and the
	// refusals each route got are block signals too, and the likeliest
	// cause of the blocks above.
	out := healthWithRoutes{Health: h, Routes: []doctor.Check{}, Refusals: []probe.RouteSignal{}}
	if r.api.doctor != nil {
		if rep, ok := r.api.doctor.Last(); ok {
			out.Routes = rep.Failures()
			out.RoutesCheckedAt = &rep.At
		}
	}
	if r.api.routes != nil {
		out.Refusals = r.api.routes.RouteSignals(time.Now())
	}
	c.JSON(http.StatusOK, out)
}

// healthWithRoutes is sender health with the failed checks of our own
// egress routes (doctor): "route 203.0.113.7 is listed on
// zen.spamhaus.org", with what to do.
type healthWithRoutes struct {
	suppression.Health
	Routes          []doctor.Check `json:"route_signals"`
	RoutesCheckedAt *time.Time     `json:"route_signals_at,omitempty"`
	// Refusals are the sender-side refusals per route and receiving
	// provider over the last hour and day.
	Refusals []probe.RouteSignal `json:"route_refusals"`
}

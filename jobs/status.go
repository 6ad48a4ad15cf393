package jobs

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/preflight-email/preflight/outcome"
)

// State is where a job is in its life.
type State string

// States a client sees (docs/design.md "HTTP"). A job being uploaded has no
// visible state: until its last row is stored it does not exist.
const (
	Queued   State = "queued"
	Running  State = "running"
	Done     State = "done"
	Failed   State = "failed"
	Canceled State = "canceled" // being deleted: its data is being removed
)

// uploading is the state of a job whose rows are still being stored. It is
// never shown; a restart deletes such leftovers.
const uploading State = "uploading"

// Bounce-rate thresholds that senders watch (DOMAIN.md "Rates senders
// watch").
const (
	// ThrottleRate is where Gmail and Outlook start throttling, and ESPs
	// warn and then suspend: a rate above it is not safe.
	ThrottleRate = 0.02
	// HealthyRate is what healthy senders aim to stay under.
	HealthyRate = 0.005
)

// Status is a job's progress and, once done, its list-health summary.
type Status struct {
	ID         string     `json:"id"`
	Status     State      `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Column names the email column: its header, or "column N" (1-based)
	// when the file has no header row.
	Column string `json:"column"`
	// Total is the number of data rows; Addresses the number of distinct
	// addresses among them, each checked once.
	Total     int64 `json:"total"`
	Addresses int64 `json:"addresses"`
	// Processed is the number of rows whose address has its final answer.
	Processed int64 `json:"processed"`
	// Counts and Reasons count processed rows by verdict and by reason.
	Counts  map[outcome.Verdict]int64 `json:"counts"`
	Reasons map[outcome.Reason]int64  `json:"reasons"`
	// Phase says what a job is doing: "queued", "working" (addresses are
	// being asked), "waiting" (only greylisted or rate-limited addresses
	// are left, to be asked again at Waiting.Until), "done", "failed" or
	// "canceled".
	Phase string `json:"phase"`
	// Waiting describes the addresses waiting for a retry, when any.
	Waiting *Waiting `json:"waiting,omitempty"`
	// ETASeconds estimates the time left, the retry waits included; null
	// when there is no rate yet.
	ETASeconds *int64 `json:"eta_seconds"`
	// Kept is the number of processed rows a sender would keep: those
	// deliverable or risky.
	Kept int64 `json:"kept"`
	// ProjectedBounceRate is the expected hard-bounce rate (0 to 1) if the
	// sender mails the kept rows: the mean of their risk/100. Null while no
	// row is kept.
	ProjectedBounceRate *float64 `json:"projected_bounce_rate"`
	// UnfilteredBounceRate is the same over every processed row: what
	// sending the list as is would cost.
	UnfilteredBounceRate *float64 `json:"unfiltered_bounce_rate"`
	// SafeToSend answers the user's question once the job is done (null
	// before): whether the kept rows stay under the 2% where mailbox
	// providers throttle. Advice says it in words, with what to do.
	SafeToSend *bool  `json:"safe_to_send"`
	Advice     string `json:"advice"`
	// Callback is the delivery of the completion callback, for a job that
	// has a callback_url.
	Callback *Callback `json:"callback,omitempty"`
	// Error says why a job failed.
	Error string `json:"error,omitempty"`
	// Source is CreateOptions.Source; it is not shown to API clients.
	Source string `json:"-"`
	// Owner is CreateOptions.Owner; it is not shown to API clients.
	Owner string `json:"-"`
	// Sample is set for a list preview (CreateOptions.Sample): the whole
	// list's projected health, from the addresses checked so far.
	Sample *Sample `json:"sample,omitempty"`
}

// Callback is the state of a job's completion callback: "waiting" until
// the job ends, then "pending" while deliveries are tried, "sent" or
// "failed"; with the last attempt's HTTP status (0: no reply), time and
// error (its URL redacted).
type Callback struct {
	State      string     `json:"state"`
	Attempts   int        `json:"attempts"`
	LastStatus int        `json:"last_status,omitempty"`
	LastAt     *time.Time `json:"last_at,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
}

// Waiting is the part of a job that waits to be asked again: addresses a
// server greylisted or rate-limited. POST /v1/jobs/{id}/finish settles them
// with the answer they have.
type Waiting struct {
	Addresses int64     `json:"addresses"`
	Until     time.Time `json:"until"` // the next retry
	Message   string    `json:"message"`
}

// progress fills Phase, Waiting and a retry-aware ETA for a job still at
// work: pending addresses were never asked, deferred ones wait until next
// at the earliest.
func (s *Status) progress(pending, deferred int64, next, now time.Time) {
	switch {
	case s.Status == Queued:
		s.Phase = "queued"
	case pending > 0:
		s.Phase = "working"
	case deferred > 0:
		s.Phase = "waiting"
	default:
		s.Phase = "working" // the last answers are being saved
	}
	if deferred == 0 {
		return
	}
	s.Waiting = &Waiting{
		Addresses: deferred,
		Until:     next.UTC(),
		Message: fmt.Sprintf("%d %s greylisted or rate-limited, asked again from %s UTC; POST /v1/jobs/%s/finish keeps their last answer",
			deferred, plural(deferred, "address is", "addresses are"), next.UTC().Format("15:04"), s.ID),
	}
	// A retry cannot end before its time: the job ends no earlier than
	// the next retry plus the time the rest takes at the rate so far.
	wait := int64(math.Ceil(max(next.Sub(now), 0).Seconds()))
	if s.ETASeconds == nil || *s.ETASeconds < wait {
		s.ETASeconds = &wait
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// tally is one (verdict, reason) bucket of processed rows.
type tally struct {
	Verdict outcome.Verdict
	Reason  outcome.Reason
	Rows    int64
	Risk    int64 // sum of risk over the rows
}

// summarize fills the counts, rates and advice of s from the tallies.
func (s *Status) summarize(tallies []tally) {
	s.Counts = make(map[outcome.Verdict]int64, 4)
	for _, v := range outcome.Verdicts() {
		s.Counts[v] = 0
	}
	s.Reasons = make(map[outcome.Reason]int64)
	var keptRisk, allRisk, delivRows, delivRisk int64
	s.Processed, s.Kept = 0, 0
	for _, t := range tallies {
		s.Counts[t.Verdict] += t.Rows
		s.Reasons[t.Reason] += t.Rows
		s.Processed += t.Rows
		allRisk += t.Risk
		if keep(t.Verdict) {
			s.Kept += t.Rows
			keptRisk += t.Risk
		}
		if t.Verdict == outcome.Deliverable {
			delivRows += t.Rows
			delivRisk += t.Risk
		}
	}
	s.ProjectedBounceRate = rate(keptRisk, s.Kept)
	s.UnfilteredBounceRate = rate(allRisk, s.Processed)
	s.advise(rate(delivRisk, delivRows))
}

// keep reports whether a sender keeps rows of verdict v in a cleaned list.
func keep(v outcome.Verdict) bool { return v == outcome.Deliverable || v == outcome.Risky }

// rate is the mean of risk/100 over rows, rounded to 4 decimals; nil for no
// rows.
func rate(riskSum, rows int64) *float64 {
	if rows == 0 {
		return nil
	}
	r := math.Round(float64(riskSum)/float64(rows)*100) / 10000
	return &r
}

func pct(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", *r*100)
}

// advise writes SafeToSend and Advice. deliverableOnly is the projected
// rate when only deliverable rows are mailed.
func (s *Status) advise(deliverableOnly *float64) {
	s.SafeToSend = nil
	var b strings.Builder
	switch s.Status {
	case Queued:
		s.Advice = "Queued: verification has not started yet."
		return
	case Failed:
		s.Advice = "The job failed before it finished; upload the list again."
		return
	case Canceled:
		s.Advice = "The job was canceled and its data is being removed."
		return
	case Running:
		fmt.Fprintf(&b, "In progress: %d of %d rows checked. ", s.Processed, s.Total)
		if s.ProjectedBounceRate != nil {
			fmt.Fprintf(&b, "So far the rows worth keeping project a %s hard-bounce rate; the verdict on the whole list comes when the job is done.", pct(s.ProjectedBounceRate))
		}
		s.Advice = strings.TrimSpace(b.String())
		return
	}
	bad := s.Counts[outcome.Undeliverable]
	unknown := s.Counts[outcome.Unknown]
	safe := false
	switch r := s.ProjectedBounceRate; {
	case r == nil:
		fmt.Fprintf(&b, "Not safe to send: no row is deliverable or risky (%d undeliverable, %d unknown).", bad, unknown)
	case *r < HealthyRate:
		safe = true
		fmt.Fprintf(&b, "Safe to send. Keep the %d deliverable and risky rows (?verdict=deliverable,risky): their projected hard-bounce rate is %s, under the 0.5%% that healthy senders aim for.", s.Kept, pct(r))
	case *r <= ThrottleRate:
		safe = true
		fmt.Fprintf(&b, "Safe to send with care. The %d deliverable and risky rows project a %s hard-bounce rate: within the 2%% above which Gmail and Outlook start throttling, but above the 0.5%% that healthy senders aim for.", s.Kept, pct(r))
		if deliverableOnly != nil && *deliverableOnly < *r {
			fmt.Fprintf(&b, " Mailing only the deliverable rows (?verdict=deliverable) brings it to %s.", pct(deliverableOnly))
		}
	default:
		fmt.Fprintf(&b, "Not safe to send: the %d deliverable and risky rows project a %s hard-bounce rate, above the 2%% beyond which Gmail and Outlook throttle and ESPs warn or suspend accounts.", s.Kept, pct(r))
		switch {
		case deliverableOnly != nil && *deliverableOnly <= ThrottleRate:
			fmt.Fprintf(&b, " Mail only the deliverable rows (?verdict=deliverable): they project %s.", pct(deliverableOnly))
		default:
			b.WriteString(" Even the deliverable rows alone are too risky; find out where this list came from before mailing it.")
		}
	}
	if bad > 0 {
		fmt.Fprintf(&b, " Remove the %d undeliverable rows for good", bad)
		if s.UnfilteredBounceRate != nil {
			fmt.Fprintf(&b, " (sent as is, the whole list projects %s)", pct(s.UnfilteredBounceRate))
		}
		b.WriteString(".")
	}
	if unknown > 0 {
		fmt.Fprintf(&b, " %d rows got no definite answer (unknown); leave them out or verify them again later.", unknown)
	}
	s.SafeToSend = &safe
	s.Advice = b.String()
}

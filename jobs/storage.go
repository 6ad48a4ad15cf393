package jobs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/preflight-email/preflight/outcome"
)

// storage is everything the jobs need from a database. sqlStorage
// implements it on SQLite and PostgreSQL, and TestStorage is the table
// every implementation must pass, with two instances on one database.
//
// A job's rows and distinct addresses are stored apart: every row names
// its address by key, and each address carries its state and, once
// settled, its result. So a duplicate is checked once and reported on
// every row, and a restart redoes exactly the addresses that were not
// settled in a committed transaction.
type storage interface {
	// createJob stores j in the uploading state and sets j.pk.
	createJob(ctx context.Context, j *jobRecord) error
	// appendRows stores rows of an uploading job and counts their
	// addresses, in one transaction.
	appendRows(ctx context.Context, pk int64, rows []row) error
	// commitJob turns an uploading job into a queued one, with its row
	// count and its width: the fields of the header, or of the widest row
	// in a file without one.
	commitJob(ctx context.Context, pk, total int64, width int) error
	// job reads a visible job (not uploading) and its tallies.
	job(ctx context.Context, id string) (jobRecord, []tally, error)
	// jobsIn lists the jobs in any of the states.
	jobsIn(ctx context.Context, states ...State) ([]jobRecord, error)
	// setState moves a job from any of the states in from to to; it
	// reports whether the job was in one of them.
	setState(ctx context.Context, pk int64, to State, errMsg string, from ...State) (bool, error)
	// pending lists up to limit unsettled, never-deferred addresses after
	// the cursor, in (lane, domain, key) order.
	pending(ctx context.Context, pk int64, after cursor, limit int) ([]address, error)
	// due lists up to limit deferred (greylisted) addresses whose retry
	// time has come.
	due(ctx context.Context, pk int64, now time.Time, limit int) ([]address, error)
	// remaining counts the pending and the deferred addresses, with the
	// earliest retry time of the deferred ones.
	remaining(ctx context.Context, pk int64) (pending, deferred int64, next time.Time, err error)
	// save records a batch of answers in one transaction: settled results,
	// the job's tallies, and deferrals. An address already settled is left
	// alone, so a batch saved twice counts once.
	save(ctx context.Context, pk int64, batch []answer) error
	// finish ends a queued or running job as done or failed; a pending
	// webhook is recorded in the same transaction when the job has a
	// callback. It reports false when the job was in neither state (it
	// was canceled or deleted meanwhile) and so was left alone.
	finish(ctx context.Context, pk int64, to State, errMsg string) (bool, error)
	// setWebhook records the delivery state of the job's callback and its
	// latest attempt, made at t.
	setWebhook(ctx context.Context, pk int64, state webhookState, a callbackAttempt, t time.Time) error
	// export calls fn for every row of the job in the original order, with
	// its address's result; verdicts, when not empty, filters the rows.
	export(ctx context.Context, pk int64, verdicts []outcome.Verdict, fn func(exportRow) error) error
	// settleWaiting settles the deferred (greylisted, rate-limited)
	// addresses of a job with the last answer each got, and returns how
	// many it settled.
	settleWaiting(ctx context.Context, pk int64) (int64, error)
	// storedRows counts the rows of all jobs.
	storedRows(ctx context.Context) (int64, error)
	// finishedBefore lists the done and failed jobs that finished before t.
	finishedBefore(ctx context.Context, t time.Time) ([]jobRecord, error)
	// reclaim gives the space freed by deletions back to the file system.
	reclaim(ctx context.Context) error
	// deleteJob removes the job and all its data, in batches, so that the
	// writer lock is never held for long.
	deleteJob(ctx context.Context, pk int64) error
}

// ErrNotFound means there is no such job.
var ErrNotFound = errors.New("jobs: no such job")

// webhookState is the delivery state of a job's completion callback.
type webhookState string

const (
	webhookNone    webhookState = ""
	webhookPending webhookState = "pending"
	webhookSent    webhookState = "sent"
	webhookFailed  webhookState = "failed"
)

// jobRecord is a job's row.
type jobRecord struct {
	pk                         int64
	id                         string
	state                      State
	created, started, finished time.Time // zero when not yet
	delimiter                  rune
	bom, hasHeader             bool
	header                     []string
	emailColumn                int
	width                      int // fields of the header, or of the widest row without one (and in jobs stored by earlier versions)
	total, addresses, settled  int64
	callbackURL                string
	webhook                    webhookState
	hookAttempts, hookStatus   int
	hookAt                     time.Time
	hookErr                    string
	errMsg                     string
	source                     string // what the job was made from (the CLI's resume check)
	owner                      string // the API key that made the job; "" for none
	// sample is the size of a list preview (0: the whole list was
	// stored), populationRows and populationAddrs the previewed list's.
	sample, populationRows, populationAddrs int64
}

// row is one data row of an upload.
type row struct {
	line   int // line number in the file where the row starts
	key    string
	domain string
	lane   int // the address's lane (see laneSize), kept from its first row
	fields []string
}

// address is one distinct address to check.
type address struct {
	key    string
	domain string
	tries  int // checks already recorded (greylisted ones)
	lane   int
}

// cursor is a position in (lane, domain, key) order; the zero cursor is
// the start. set tells a position from the start: (0, "", "") is a real
// key, the one of an empty email cell, and it sorts first.
type cursor struct {
	set         bool
	lane        int
	domain, key string
}

// answer is the outcome of one check.
type answer struct {
	key   string
	tries int // checks made, this one included
	// settled answers carry the result; deferred ones a retry time.
	settled bool
	retryAt time.Time
	verdict outcome.Verdict
	risk    int
	reason  outcome.Reason
	suggest string
	result  []byte // the verify.Result as JSON
	// saved, when set, is called once the answer is committed (or its
	// commit failed).
	saved func()
}

// exportRow is one row of results.
type exportRow struct {
	settled    bool // false: no final answer yet (a partial export)
	line       int
	fields     []string
	verdict    outcome.Verdict
	risk       int
	reason     outcome.Reason
	suggestion string
	result     []byte
}

// encodeFields packs a row's fields as a count and length-prefixed
// strings: smaller and faster than CSV or JSON, and exact.
func encodeFields(dst []byte, fields []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(fields)))
	for _, f := range fields {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

var errCorrupt = errors.New("jobs: corrupt stored row")

func decodeFields(b []byte) ([]string, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[k:]
	out := make([]string, 0, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errCorrupt
		}
		out = append(out, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(b))
	}
	return out, nil
}

package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/preflight-email/preflight/store"
)

// The work of a job is a set of River jobs (riverqueue.com), so that any
// process sharing the store can take it, a process that dies loses
// nothing (River rescues its running jobs), and waits are scheduled jobs
// rather than sleeping goroutines:
//
//   - planArgs, once per job, cuts the job's addresses into chunks;
//   - chunkArgs checks the unsettled addresses of one chunk: a range of
//     the (lane, domain, key) order, so recipients of one domain, and so of
//     one MX host, travel together;
//   - retryArgs rechecks, when their time comes, the addresses a server
//     greylisted or rate-limited;
//   - hookArgs delivers the completion callback.
//
// Every one of them is idempotent: a chunk run twice skips what is
// settled, and a second plan or callback of a job is refused by River's
// unique-job check. River's tables live in the same database as the jobs.

// cursorArg is a cursor as it travels in a River job's arguments.
type cursorArg struct {
	Set    bool   `json:"set,omitempty"`
	Lane   int    `json:"lane,omitempty"`
	Domain string `json:"domain,omitempty"`
	Key    string `json:"key,omitempty"`
}

func argOf(c cursor) cursorArg { return cursorArg{c.set, c.lane, c.domain, c.key} }
func (c cursorArg) cursor() cursor {
	return cursor{set: c.Set, lane: c.Lane, domain: c.Domain, key: c.Key}
}

// after reports whether a is past c in (lane, domain, key) order, the
// order of storage.pending; an unset c is the start. Keys and domains
// compare bytewise, as both stores order them.
func (c cursor) after(a address) bool {
	if !c.set {
		return true
	}
	if a.lane != c.lane {
		return a.lane > c.lane
	}
	if a.domain != c.domain {
		return a.domain > c.domain
	}
	return a.key > c.key
}

// Every job's arguments carry the job's id beside its row number: stores
// may reuse a deleted job's number, and River's uniqueness is by
// arguments.
type planArgs struct {
	Job int64  `json:"job"`
	ID  string `json:"id"`
}

type chunkArgs struct {
	Job int64  `json:"job"`
	ID  string `json:"id"`
	// The chunk is the addresses after From, up to and including Until.
	From  cursorArg `json:"from"`
	Until cursorArg `json:"until"`
}

type retryArgs struct {
	Job int64  `json:"job"`
	ID  string `json:"id"`
}

type hookArgs struct {
	Job int64  `json:"job"`
	ID  string `json:"id"`
}

func (planArgs) Kind() string  { return "preflight_plan" }
func (chunkArgs) Kind() string { return "preflight_chunk" }
func (retryArgs) Kind() string { return "preflight_retry" }
func (hookArgs) Kind() string  { return "preflight_callback" }

// Uniqueness: a plan, a chunk or a callback is done once per job, so a
// finished one still blocks its twin; a job's retry is one scheduled River
// job at a time, which snoozes until its next address is due.
var (
	once = river.UniqueOpts{ByArgs: true}
	live = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}
)

func (planArgs) InsertOpts() river.InsertOpts  { return river.InsertOpts{UniqueOpts: once} }
func (chunkArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: once} }
func (retryArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: live} }
func (hookArgs) InsertOpts() river.InsertOpts  { return river.InsertOpts{UniqueOpts: once} }

// queue is River as the Manager sees it; riverQueue implements it for each
// driver, so that nothing else knows which engine is behind.
type queue interface {
	insert(ctx context.Context, params []river.InsertManyParams) error
	start(ctx context.Context) error
	// stop cancels the work in progress, which commits what it has and
	// snoozes its River job, and waits for it.
	stop(ctx context.Context) error
	// counts reports River's jobs by state.
	counts(ctx context.Context) (map[rivertype.JobState]int, error)
	// adopt makes the River jobs left running by a process that died
	// available again at once, where the engine allows it (the embedded
	// store, which one process owns); elsewhere River rescues them after
	// Config.RescueAfter.
	adopt(ctx context.Context) error
}

type riverQueue[TTx any] struct {
	c      *river.Client[TTx]
	orphan func(context.Context) error
}

func (q riverQueue[TTx]) adopt(ctx context.Context) error {
	if q.orphan == nil {
		return nil
	}
	return q.orphan(ctx)
}

func (q riverQueue[TTx]) insert(ctx context.Context, params []river.InsertManyParams) error {
	// River inserts a batch in one transaction; keep each one short.
	for len(params) > 0 {
		n := min(len(params), 500)
		if _, err := q.c.InsertMany(ctx, params[:n]); err != nil {
			return err
		}
		params = params[n:]
	}
	return nil
}

func (q riverQueue[TTx]) start(ctx context.Context) error { return q.c.Start(ctx) }

func (q riverQueue[TTx]) stop(ctx context.Context) error {
	err := q.c.StopAndCancel(ctx)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

func (q riverQueue[TTx]) counts(ctx context.Context) (map[rivertype.JobState]int, error) {
	return q.c.Driver().GetExecutor().JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
}

// newQueue migrates River's tables and builds its client on db, with the
// Manager's workers when it works jobs (Config.NoWorker unset).
func (m *Manager) newQueue(ctx context.Context, db *store.DB) (queue, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(m.workPlan))
	river.AddWorker(workers, river.WorkFunc(m.workChunk))
	river.AddWorker(workers, river.WorkFunc(m.workRetry))
	river.AddWorker(workers, river.WorkFunc(m.workHook))
	cfg := &river.Config{
		// River's own chatter stays out of the log; its warnings do not.
		Logger:  slog.New(levelFloor{m.log.Handler(), slog.LevelWarn}),
		Workers: workers,
		// A chunk runs at most ChunkTime and then snoozes, so a River
		// job that has been running longer than RescueAfter belongs to a
		// process that died: River gives it to another.
		// JobTimeout bounds a chunk's run (it stops handing out addresses
		// after ChunkTime; the checks in flight end within CheckTimeout);
		// River rescues no job before its timeout has passed.
		RescueStuckJobsAfter: m.cfg.RescueAfter,
		JobTimeout:           m.cfg.ChunkTime + m.cfg.CheckTimeout,
		FetchPollInterval:    m.cfg.PollInterval,
		FetchCooldown:        min(m.cfg.PollInterval, 100*time.Millisecond),
		MaxAttempts:          20,
		RetryPolicy:          retryPolicy{},
		ErrorHandler:         errorHandler{m.log},
	}
	if !m.cfg.NoWorker {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: m.cfg.Chunks}}
	}
	switch db.Dialect {
	case store.SQLite:
		q, err := buildQueue(ctx, riversqlite.New(db.DB), cfg)
		// One process owns an embedded store: at its start, a River job
		// still marked running was cut short by a crash.
		q.orphan = func(ctx context.Context) error {
			_, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = CURRENT_TIMESTAMP WHERE state = 'running'`)
			return err
		}
		return q, err
	case store.Postgres:
		// Instances share the database: a River job another instance is
		// running is not an orphan; one whose instance died is rescued
		// after RescueStuckJobsAfter.
		return buildQueue(ctx, riverpgxv5.New(db.Pool), cfg)
	}
	return nil, fmt.Errorf("jobs: %w: %s", store.ErrUnsupported, db.Dialect)
}

func buildQueue[TTx any](ctx context.Context, d riverdriver.Driver[TTx], cfg *river.Config) (riverQueue[TTx], error) {
	mig, err := rivermigrate.New(d, &rivermigrate.Config{Logger: cfg.Logger})
	if err != nil {
		return riverQueue[TTx]{}, fmt.Errorf("jobs: river migrator: %w", err)
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return riverQueue[TTx]{}, fmt.Errorf("jobs: migrating river's tables: %w", err)
	}
	c, err := river.NewClient(d, cfg)
	if err != nil {
		return riverQueue[TTx]{}, fmt.Errorf("jobs: river client: %w", err)
	}
	return riverQueue[TTx]{c: c}, nil
}

// retryPolicy retries a River job that failed (a storage error, say)
// after 1, 4, 9… seconds, at most a minute: the work is idempotent and
// there is no point waiting River's default hours.
type retryPolicy struct{}

func (retryPolicy) NextRetry(j *rivertype.JobRow) time.Time {
	n := time.Duration(j.Attempt)
	return time.Now().Add(min(n*n*time.Second, time.Minute))
}

// errorHandler logs River jobs that failed or panicked.
type errorHandler struct{ log *slog.Logger }

func (h errorHandler) HandleError(ctx context.Context, j *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Error("queue job failed", "kind", j.Kind, "attempt", j.Attempt, "err", err)
	return nil
}

func (h errorHandler) HandlePanic(ctx context.Context, j *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.log.Error("queue job panicked", "kind", j.Kind, "attempt", j.Attempt, "panic", v, "trace", trace)
	return nil
}

// levelFloor drops records below a level.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}
func (h levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(n), h.min}
}

package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// errStorage is the cause given to a run whose results could not be
// saved; the job fails with a message that names no internals.
var errStorage = errors.New("results could not be stored")

// enqueue hands a newly queued job to the queue. Should that fail, the
// job stays queued and the next sweep plans it.
func (m *Manager) enqueue(ctx context.Context, j jobRecord) {
	if err := m.q.insert(context.WithoutCancel(ctx), []river.InsertManyParams{{Args: planArgs{j.pk, j.id}}}); err != nil {
		m.log.Warn("queueing job; the next sweep retries", "job", j.id, "err", err)
	}
}

// active reads the job a River job is for, and whether it is still to be
// worked on.
func (m *Manager) active(ctx context.Context, id string, pk int64) (jobRecord, bool, error) {
	j, _, err := m.st.job(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return j, false, nil
	}
	if err != nil {
		return j, false, err
	}
	return j, j.pk == pk && (j.state == Queued || j.state == Running), nil
}

// workPlan cuts a queued job into chunks of Config.ChunkSize unsettled
// addresses in (lane, domain, key) order and queues them. A job's first
// chunks go before the later chunks of older jobs (River's priority), so
// a small list started behind a huge one is not kept waiting for it.
func (m *Manager) workPlan(ctx context.Context, rj *river.Job[planArgs]) error {
	j, ok, err := m.active(ctx, rj.Args.ID, rj.Args.Job)
	if err != nil || !ok {
		return err
	}
	var params []river.InsertManyParams
	var after cursor
	for {
		page, err := m.st.pending(ctx, j.pk, after, m.cfg.ChunkSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		last := page[len(page)-1]
		until := cursor{set: true, lane: last.lane, domain: last.domain, key: last.key}
		params = append(params, river.InsertManyParams{
			Args:       chunkArgs{Job: j.pk, ID: j.id, From: argOf(after), Until: argOf(until)},
			InsertOpts: &river.InsertOpts{Priority: min(len(params)+1, 4), UniqueOpts: once},
		})
		after = until
		if len(page) < m.cfg.ChunkSize {
			break
		}
	}
	if err := m.q.insert(ctx, params); err != nil {
		return err
	}
	if _, err := m.st.setState(ctx, j.pk, Running, "", Queued); err != nil {
		return err
	}
	m.log.Info("job running", "job", j.id, "rows", j.total, "chunks", len(params))
	if len(params) == 0 {
		_, err = m.settle(ctx, j)
	}
	return err
}

// workChunk checks the unsettled addresses of one chunk. It stops handing
// out addresses after Config.ChunkTime and snoozes, to be taken up again
// at once by whichever process has room: a River job that runs longer
// than RescueAfter is taken for one whose process died.
func (m *Manager) workChunk(ctx context.Context, rj *river.Job[chunkArgs]) error {
	a := rj.Args
	j, ok, err := m.active(ctx, a.ID, a.Job)
	if err != nil || !ok {
		return err
	}
	began := time.Now()
	defer func() { m.chunkSeconds.Observe(time.Since(began).Seconds()) }()
	ctx, r, done := m.track(ctx, j)
	defer done()
	stop := time.Now().Add(m.cfg.ChunkTime)
	until := a.Until.cursor()
	pageSize := max(2*m.cfg.Concurrency, 512)
	more := false
	err = m.batch(ctx, j, r, func(ctx context.Context, b *batch) error {
		after := a.From.cursor()
		for {
			page, err := m.st.pending(ctx, j.pk, after, pageSize)
			if err != nil {
				return err
			}
			in := page
			for i, ad := range page {
				if until.after(ad) {
					in = page[:i]
					break
				}
			}
			for _, ad := range interleave(in, m.cfg.Concurrency/8) {
				if time.Now().After(stop) {
					more = true
					return nil
				}
				if !m.dispatch(ctx, b, ad) {
					return nil
				}
			}
			if len(in) < len(page) || len(page) < pageSize {
				return nil
			}
			last := page[len(page)-1]
			after = cursor{set: true, lane: last.lane, domain: last.domain, key: last.key}
		}
	})
	return m.ended(ctx, j, err, more)
}

// schedulerLag is how late River may make a scheduled job available (its
// scheduler runs every few seconds). A retry due sooner than that is
// waited for in the worker instead.
const schedulerLag = 5 * time.Second

// workRetry asks again about the job's greylisted and rate-limited
// addresses whose time has come, then snoozes until the next one is due.
func (m *Manager) workRetry(ctx context.Context, rj *river.Job[retryArgs]) error {
	j, ok, err := m.active(ctx, rj.Args.ID, rj.Args.Job)
	if err != nil || !ok {
		return err
	}
	ctx, r, done := m.track(ctx, j)
	defer done()
	pageSize := max(2*m.cfg.Concurrency, 512)
	for {
		err = m.batch(ctx, j, r, func(ctx context.Context, b *batch) error {
			for {
				due, err := m.st.due(ctx, j.pk, time.Now(), pageSize)
				if err != nil {
					return err
				}
				for _, ad := range due {
					if !m.dispatch(ctx, b, ad) {
						return nil
					}
				}
				if len(due) < pageSize {
					return nil
				}
				// The answers must be saved before the next page is read,
				// or it would list these addresses again.
				b.wg.Wait()
			}
		})
		if err != nil {
			return m.ended(ctx, j, err, false)
		}
		next, err := m.settle(ctx, j)
		if err != nil || next.IsZero() {
			return err
		}
		wait := time.Until(next)
		if wait > schedulerLag {
			return river.JobSnooze(wait)
		}
		select {
		case <-ctx.Done():
			return river.JobSnooze(0)
		case <-time.After(wait):
		}
	}
}

// workHook delivers a finished job's callback.
func (m *Manager) workHook(ctx context.Context, rj *river.Job[hookArgs]) error {
	j, _, err := m.st.job(ctx, rj.Args.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && (j.pk != rj.Args.Job || j.webhook != webhookPending)) {
		return nil
	}
	if err != nil {
		return err
	}
	m.deliver(ctx, j)
	if ctx.Err() != nil {
		return river.JobSnooze(0) // shutting down: delivered after the restart
	}
	return nil
}

// batch runs feed, which hands addresses to dispatch, and waits until its
// answers are committed. A storage failure stops the job's work here with
// errStorage.
func (m *Manager) batch(ctx context.Context, j jobRecord, r *run, feed func(context.Context, *batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.failed, cancel)()
	b := &batch{w: r.w}
	err := feed(ctx, b)
	b.wg.Wait()
	if cause := context.Cause(r.failed); errors.Is(cause, errStorage) {
		return errStorage
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", errStorage, err)
	}
	return ctx.Err()
}

// ended turns the end of a batch into the River job's outcome: a storage
// failure fails the job; a stop (shutdown, deletion) or a spent time
// budget snoozes the River job, to be taken up again; a finished chunk
// ends the job if it was the last work left.
func (m *Manager) ended(ctx context.Context, j jobRecord, err error, more bool) error {
	switch {
	case errors.Is(err, errStorage):
		m.log.Error("job failed", "job", j.id, "err", err)
		m.end(ctx, j, Failed, errStorage.Error())
		return nil
	case err != nil || more:
		return river.JobSnooze(0)
	}
	if _, err := m.settle(ctx, j); err != nil {
		return err
	}
	return nil
}

// settle ends the job when no address is left to check, and otherwise,
// when only waiting addresses are left, makes sure a retry is scheduled
// for the earliest, whose time it returns. While pending addresses remain
// it does nothing: their chunks are still to run.
func (m *Manager) settle(ctx context.Context, j jobRecord) (time.Time, error) {
	// Most chunks end while others still have work: one index seek tells,
	// where counting what is left would scan the job's addresses.
	if first, err := m.st.pending(ctx, j.pk, cursor{}, 1); err != nil || len(first) > 0 {
		return time.Time{}, err
	}
	pending, deferred, next, err := m.st.remaining(ctx, j.pk)
	switch {
	case err != nil:
		return time.Time{}, err
	case pending > 0:
		return time.Time{}, nil
	case deferred > 0:
		at := next
		if time.Until(at) <= schedulerLag {
			at = time.Time{} // now: the worker waits the rest
		}
		retry := river.InsertManyParams{Args: retryArgs{j.pk, j.id}, InsertOpts: &river.InsertOpts{ScheduledAt: at, UniqueOpts: live}}
		return next, m.q.insert(ctx, []river.InsertManyParams{retry})
	}
	m.end(ctx, j, Done, "")
	return time.Time{}, nil
}

// end finishes a queued or running job as done or failed and queues its
// callback. Several processes may try at once; one of them finishes it.
func (m *Manager) end(ctx context.Context, j jobRecord, to State, errMsg string) {
	fin := context.WithoutCancel(ctx)
	finished, err := m.st.finish(fin, j.pk, to, errMsg)
	if err != nil {
		m.log.Error("finishing job", "job", j.id, "state", to, "err", err)
		return // the next sweep tries again
	}
	if !finished {
		return // finished by another, canceled or deleted meanwhile
	}
	m.log.Info("job "+string(to), "job", j.id)
	if j.callbackURL != "" {
		m.notify(fin, j)
	}
}

// notify queues the job's completion callback.
func (m *Manager) notify(ctx context.Context, j jobRecord) {
	if err := m.q.insert(ctx, []river.InsertManyParams{{Args: hookArgs{j.pk, j.id}}}); err != nil {
		m.log.Warn("queueing callback; the next sweep retries", "job", j.id, "err", err)
	}
}

// sweep repairs what a crash between two steps can leave behind: a
// queued job with no plan, a job whose last chunk ended without finishing
// it or scheduling its retries, a callback owed but not queued. Every
// step is idempotent, so all processes may sweep.
func (m *Manager) sweep(ctx context.Context) error {
	todo, err := m.st.jobsIn(ctx, Queued, Running)
	if err != nil {
		return err
	}
	for _, j := range todo {
		if j.state == Queued {
			m.enqueue(ctx, j)
			continue
		}
		if _, err := m.settle(ctx, j); err != nil {
			return err
		}
	}
	owed, err := m.st.jobsIn(ctx, Done, Failed)
	if err != nil {
		return err
	}
	for _, j := range owed {
		if j.webhook == webhookPending {
			m.notify(ctx, j)
		}
	}
	return nil
}

// track registers a River job working on j in this process, for the fair
// share, the ETA and deletion. The context it returns ends when the job
// is deleted or canceled, here or, seen within a few seconds, elsewhere.
func (m *Manager) track(ctx context.Context, j jobRecord) (context.Context, *run, func()) {
	ctx, cancel := context.WithCancel(ctx)
	m.mu.Lock()
	r := m.runs[j.pk]
	if r == nil {
		r = &run{began: time.Now(), base: j.settled, works: map[*int]context.CancelFunc{}, freed: make(chan struct{}, 1)}
		r.failed, r.fail = context.WithCancelCause(context.Background())
		r.w = newWriter(m, r, j.pk, r.fail)
		m.runs[j.pk] = r
	}
	token := new(int)
	r.works[token] = cancel
	r.wg.Add(1)
	m.mu.Unlock()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		every(ctx, m.cfg.WatchInterval, func() bool {
			if _, ok, err := m.active(ctx, j.id, j.pk); err == nil && !ok {
				cancel()
				return false
			}
			return true
		})
	}()
	return ctx, r, func() {
		cancel()
		<-watched
		m.mu.Lock()
		delete(r.works, token)
		last := len(r.works) == 0 && m.runs[j.pk] == r
		if last {
			delete(m.runs, j.pk)
		}
		m.mu.Unlock()
		if last {
			// Every chunk waited for its own answers: nothing is left.
			r.w.close()
			r.fail(nil)
		}
		r.wg.Done()
	}
}

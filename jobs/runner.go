package jobs

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/preflight-email/preflight/store"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/verify"
)

// share is how many checks one job may have running: an equal part of
// Config.Concurrency for each job being worked on, so that a small list
// started behind a huge one is not starved by it.
func (m *Manager) share() int64 {
	m.mu.Lock()
	n := len(m.runs)
	m.mu.Unlock()
	return int64(max(m.cfg.Concurrency/max(n, 1), 1))
}

// batch is one River job's part of a job's work in this process. Its
// answers go through the run's writer, shared by every chunk of the job
// here so that commits stay few and large; wg counts its own answers not
// yet committed, which the River job waits for before it ends.
type batch struct {
	w  *writer
	wg sync.WaitGroup
}

// dispatch starts the check of a once the job is under its share and a
// slot is free; false means ctx ended first.
func (m *Manager) dispatch(ctx context.Context, b *batch, a address) bool {
	w := b.w
	for w.r.checking.Load() >= m.share() {
		select {
		case <-w.r.freed:
		case <-time.After(100 * time.Millisecond): // another job ended: the share grew
		case <-ctx.Done():
			return false
		}
	}
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	w.begin(a.key)
	b.wg.Add(1)
	w.r.checking.Add(1)
	go func() {
		defer func() {
			<-m.sem
			w.r.checking.Add(-1)
			select {
			case w.r.freed <- struct{}{}:
			default:
			}
		}()
		cctx, cancel := context.WithTimeout(ctx, m.cfg.CheckTimeout)
		var r verify.Result
		if a.tries > 0 {
			r = m.v.Recheck(cctx, a.key)
		} else {
			r = m.v.Verify(cctx, a.key)
		}
		cancel()
		if ctx.Err() != nil {
			// Cut short by our own shutdown: not an answer. The address
			// stays pending and is checked after the restart.
			w.abandon(a.key)
			b.wg.Done()
			return
		}
		ans := m.answer(a, r)
		ans.saved = b.wg.Done
		w.put(ans)
	}()
	return true
}

// answer turns a check's result into what is stored: a final result, or a
// deferral when the server greylisted or rate-limited us and retries are
// left.
func (m *Manager) answer(a address, r verify.Result) answer {
	tries := a.tries + 1
	res, err := json.Marshal(r)
	if err != nil { // a Result always marshals; keep the answer anyway
		res = nil
	}
	ans := answer{
		key: a.key, tries: tries, settled: true,
		verdict: r.Verdict, risk: r.Risk, reason: r.Reason, suggest: r.Suggestion, result: res,
	}
	if retryable(r.Reason) && tries <= m.cfg.GreylistAttempts {
		// Deferred, with this answer kept should the job be finished early.
		ans.settled, ans.retryAt = false, time.Now().Add(m.cfg.GreylistDelay)
	}
	return ans
}

// retryable reports whether an answer is worth asking for again later: a
// greylisting server accepts a retry after a delay, and a server that
// rate-limited us (421) even after the probe backed off may have calmed
// down by then. Both share GreylistDelay and GreylistAttempts.
func retryable(r outcome.Reason) bool {
	return r == outcome.Greylisted || r == outcome.RateLimited
}

// interleave reorders a page sorted by domain so that domains take turns
// in runs of up to chunk addresses. A run keeps a domain's recipients
// together for the dispatcher to pack into one session; the turns keep
// many MX hosts busy at once instead of queueing the whole window on one.
func interleave(page []address, chunk int) []address {
	chunk = max(chunk, 1)
	var groups [][]address
	for i := 0; i < len(page); {
		k := i + 1
		for k < len(page) && page[k].domain == page[i].domain {
			k++
		}
		groups = append(groups, page[i:k])
		i = k
	}
	if len(groups) <= 1 {
		return page
	}
	out := make([]address, 0, len(page))
	for len(out) < len(page) {
		for gi, g := range groups {
			n := min(chunk, len(g))
			out = append(out, g[:n]...)
			groups[gi] = g[n:]
		}
	}
	return out
}

// writer collects the answers of a job's chunks in this process and
// commits them in batches: after Config.FlushRows answers or
// Config.FlushInterval, whichever comes first, or at once when the batch
// holds every answer still to come.
type writer struct {
	m      *Manager
	pk     int64
	fail   context.CancelCauseFunc
	in     chan answer
	done   chan struct{}
	flight sync.WaitGroup

	// r is the job's run in this process: its checks in flight, over all
	// its chunks, are what Manager.share bounds.
	r *run

	mu       sync.Mutex
	inflight map[string]struct{}
}

// outstanding is how many addresses are handed out and not yet saved or
// abandoned.
func (w *writer) outstanding() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inflight)
}

func newWriter(m *Manager, r *run, pk int64, fail context.CancelCauseFunc) *writer {
	w := &writer{
		m:    m,
		r:    r,
		pk:   pk,
		fail: fail,
		// Room for every answer that can be outstanding, so that checks
		// never wait on a commit.
		in:       make(chan answer, max(m.cfg.FlushRows, m.cfg.Concurrency)),
		done:     make(chan struct{}),
		inflight: make(map[string]struct{}),
	}
	go w.loop()
	return w
}

func (w *writer) begin(key string) {
	w.mu.Lock()
	w.inflight[key] = struct{}{}
	w.mu.Unlock()
	w.flight.Add(1)
}

func (w *writer) abandon(key string) {
	w.mu.Lock()
	delete(w.inflight, key)
	w.mu.Unlock()
	w.flight.Done()
}

func (w *writer) put(a answer) { w.in <- a }

// close waits for the checks in flight, commits what they answered and
// stops the writer.
func (w *writer) close() {
	w.flight.Wait()
	close(w.in)
	<-w.done
}

func (w *writer) loop() {
	defer close(w.done)
	batch := make([]answer, 0, w.m.cfg.FlushRows)
	tick := time.NewTicker(w.m.cfg.FlushInterval)
	defer tick.Stop()
	failed := false
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if !failed {
			if err := w.save(batch); err != nil {
				failed = true
				w.m.log.Error("saving results", "err", err)
				w.fail(errStorage)
			}
		}
		w.mu.Lock()
		for _, a := range batch {
			delete(w.inflight, a.key)
		}
		w.mu.Unlock()
		for _, a := range batch {
			w.flight.Done()
			if a.saved != nil {
				a.saved()
			}
		}
		batch = batch[:0]
	}
	for {
		select {
		case a, ok := <-w.in:
			if !ok {
				flush()
				return
			}
			batch = append(batch, a)
			// Take what else has arrived, so that under load one commit
			// carries everything that queued up during the last one.
		more:
			for {
				select {
				case a, ok := <-w.in:
					if !ok {
						flush()
						return
					}
					batch = append(batch, a)
				default:
					break more
				}
			}
			// Commit when the batch is full, or when it holds every
			// answer still to come: nothing is gained by waiting then.
			if len(batch) >= w.m.cfg.FlushRows || len(batch) >= w.outstanding() {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// save commits a batch, retrying a while: SQLite answers "busy" when a
// long upload holds the write lock, and that passes. The answers are
// worth keeping even when the run is being stopped, so the retries do
// not follow the run's context.
func (w *writer) save(batch []answer) error {
	ctx := context.Background()
	return store.Retry(ctx, w.m.saveTries, w.m.saveWait, func() error { return w.m.st.save(ctx, w.pk, batch) })
}

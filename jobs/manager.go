// Package jobs verifies whole lists: a CSV upload becomes a job whose rows
// and distinct addresses are stored, a runner checks each distinct address
// once through the verifier, and the results come back as the original CSV
// with four columns appended, or as JSON lines (docs/design.md "HTTP").
//
// Everything a job needs to resume is in the database: a process killed at
// any moment (kill -9 included) picks its running jobs up on Start, redoing
// only the addresses whose answers had not been committed.
//
// The runner never speaks SMTP. It hands many distinct addresses at once to
// the verifier, sorted by domain, and the probe's per-MX-host dispatchers
// pack them into shared sessions under their own limiters and caps.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/internal/netguard"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/verify"
)

// Verifier checks addresses. Recheck skips the verifier's result cache; the
// runner uses it to ask again about a greylisted address.
type Verifier interface {
	Verify(ctx context.Context, email string) verify.Result
	Recheck(ctx context.Context, email string) verify.Result
}

// Resolver finds the addresses of a callback host for the SSRF guard.
// (*mx.Resolver) is one, so callbacks resolve through dns.resolvers.
type Resolver = netguard.Resolver

// Deps are the Manager's collaborators. Verifier is required.
type Deps struct {
	Verifier Verifier
	Logger   *slog.Logger
	// Resolver resolves callback hosts for the SSRF guard; nil means the
	// system's resolver (net.DefaultResolver).
	Resolver Resolver
}

// Errors a caller can act on.
var (
	// ErrNotDone means the job's results are not ready: it is queued,
	// running, failed or canceled.
	ErrNotDone = errors.New("jobs: job is not done")
	// ErrClosed means the Manager was closed.
	ErrClosed = errors.New("jobs: manager closed")
)

// Manager creates, runs, reports on and deletes jobs. Build one per
// process with New, call Start once to resume unfinished jobs, and Close
// at shutdown.
type Manager struct {
	cfg  Config
	st   storage
	v    Verifier
	log  *slog.Logger
	hook *webhook
	boot time.Time
	// sem bounds the checks in flight over all jobs; uploads the uploads
	// being stored.
	sem     chan struct{}
	uploads chan struct{}
	// saveTries and saveWait govern retries of a failed result commit.
	saveTries int
	saveWait  time.Duration

	// q is the River queue the work of jobs goes through (queue.go).
	q            queue
	chunkSeconds prometheus.Histogram

	mu      sync.Mutex
	base    context.Context // housekeeping's parent, set by Start
	stop    context.CancelFunc
	closed  bool
	runs    map[int64]*run
	started bool
	// housekeeping holds the retention sweeper and the repair sweep.
	housekeeping sync.WaitGroup
}

// run is a job being worked on in this process, by one or more River
// jobs (its chunks, its retries).
type run struct {
	began time.Time
	base  int64 // addresses settled when the run began, for the ETA
	works map[*int]context.CancelFunc
	wg    sync.WaitGroup
	// checking counts the job's checks running here (Manager.share bounds
	// it); freed wakes a dispatch waiting for one to end.
	checking atomic.Int64
	freed    chan struct{}
	// w commits the answers of all the job's chunks here; a failed commit
	// ends failed (errStorage as its cause) and, with it, every chunk.
	w      *writer
	failed context.Context
	fail   context.CancelCauseFunc
}

// New returns a Manager of the jobs in db, whose schema store.Open made.
// Nothing runs until Start.
func New(ctx context.Context, cfg Config, db *store.DB, deps Deps) (*Manager, error) {
	cfg = cfg.withDefaults()
	if db.Dialect != store.SQLite && cfg.UploadGrace == 0 {
		// A shared store: an upload begun before this process started may
		// be another instance's, still arriving.
		cfg.UploadGrace = DefaultSharedUploadGrace
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Verifier == nil {
		return nil, fmt.Errorf("%w: a Verifier is required", ErrConfig)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Resolver == nil {
		deps.Resolver = netguard.ResolverFunc(func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		})
	}
	st, err := newSQL(db)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:  cfg,
		st:   st,
		v:    deps.Verifier,
		log:  deps.Logger,
		hook: newWebhook(cfg, deps.Resolver),
		boot: time.Now(),
		sem:  make(chan struct{}, cfg.Concurrency),
		runs: make(map[int64]*run),
		// About half a minute in all: long enough for a lock to pass.
		saveTries: 8,
		saveWait:  50 * time.Millisecond,
		chunkSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "preflight_jobs_chunk_seconds",
			Help:    "Time one chunk of a bulk job took in this process, until it was done or snoozed (jobs.chunk_time).",
			Buckets: []float64{.1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
	}
	m.uploads = make(chan struct{}, cfg.MaxConcurrentUploads)
	q, err := m.newQueue(ctx, db)
	if err != nil {
		return nil, err
	}
	m.q = q
	return m, nil
}

// UploadLimit is the largest upload accepted, in bytes of CSV.
func (m *Manager) UploadLimit() int64 { return m.cfg.MaxUploadBytes }

// Start resumes the work of the jobs that were queued or running when the
// process last stopped, finishes deletions and removes half-stored uploads
// that it cut short, and queues callbacks still owed. Unless
// Config.NoWorker is set, it starts River's workers, which take chunks
// of any job in the store, and the housekeeping: retention and a repair
// sweep every Config.SweepInterval. Work goes on until ctx ends or Close
// is called.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.started {
		m.mu.Unlock()
		return nil
	}
	m.base, m.stop = context.WithCancel(ctx)
	m.started = true
	m.mu.Unlock()
	if m.cfg.NoWorker {
		return nil
	}

	// An upload older than this Manager was cut short by a crash: nobody
	// will finish it. (Uploads begun since belong to live requests.)
	left, err := m.st.jobsIn(ctx, uploading, Canceled)
	if err != nil {
		return err
	}
	for _, j := range left {
		if j.state == uploading && !j.created.Before(m.boot.Add(-m.cfg.UploadGrace)) {
			continue
		}
		if err := m.st.deleteJob(ctx, j.pk); err != nil {
			return err
		}
		m.log.Info("removed unfinished job", "job", j.id, "state", j.state)
	}
	if err := m.q.adopt(ctx); err != nil {
		return fmt.Errorf("jobs: taking over the queue: %w", err)
	}
	if err := m.sweep(ctx); err != nil {
		return err
	}
	if err := m.q.start(m.base); err != nil {
		return fmt.Errorf("jobs: starting the queue: %w", err)
	}
	m.housekeeping.Add(2)
	go m.expire(m.base)
	go m.sweeps(m.base)
	return nil
}

// Close stops the work in progress, which commits the answers it already
// has, and waits for it and for callbacks in progress. The work resumes
// at the next Start here, or at once in another process.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	started := m.started
	if m.stop != nil {
		m.stop()
	}
	m.mu.Unlock()
	var err error
	if started && !m.cfg.NoWorker {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.CheckTimeout+10*time.Second)
		err = m.q.stop(ctx)
		cancel()
	}
	m.housekeeping.Wait()
	return err
}

// sweeps runs the repair sweep every Config.SweepInterval.
func (m *Manager) sweeps(ctx context.Context) {
	defer m.housekeeping.Done()
	every(ctx, m.cfg.SweepInterval, func() bool {
		if err := m.sweep(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("repair sweep failed", "err", err)
		}
		return true
	})
}

// every calls fn every d until ctx ends or fn returns false.
func every(ctx context.Context, d time.Duration, fn func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !fn() {
			return
		}
	}
}

// Status reports a job's progress and, once done, its summary.
func (m *Manager) Status(ctx context.Context, id string) (Status, error) {
	// A status read may meet a busy store while a big job commits: it is
	// tried again briefly rather than answered with an error.
	var (
		j                 jobRecord
		ts                []tally
		pending, deferred int64
		next              time.Time
		notFound          error
	)
	err := store.Retry(ctx, 4, 20*time.Millisecond, func() (err error) {
		j, ts, err = m.st.job(ctx, id)
		if errors.Is(err, ErrNotFound) {
			notFound = err // an answer, not a failure to retry
			return nil
		}
		if err != nil {
			return err
		}
		if j.state == Running || j.state == Queued {
			pending, deferred, next, err = m.st.remaining(ctx, j.pk)
		}
		return err
	})
	if err == nil {
		err = notFound
	}
	if err != nil {
		return Status{}, err
	}
	s := m.status(j, ts)
	if j.state == Running || j.state == Queued {
		s.progress(pending, deferred, next, time.Now())
	}
	return s, nil
}

// List returns the status of every job, oldest first.
func (m *Manager) List(ctx context.Context) ([]Status, error) {
	all, err := m.st.jobsIn(ctx, Queued, Running, Done, Failed, Canceled)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(all))
	for _, j := range all {
		s, err := m.Status(ctx, j.id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (m *Manager) status(j jobRecord, ts []tally) Status {
	s := Status{
		Source:    j.source,
		Owner:     j.owner,
		ID:        j.id,
		Status:    j.state,
		CreatedAt: j.created,
		Column:    columnName(j),
		Total:     j.total,
		Addresses: j.addresses,
		Error:     j.errMsg,
		Phase:     string(j.state),
	}
	if !j.started.IsZero() {
		t := j.started
		s.StartedAt = &t
	}
	if !j.finished.IsZero() {
		t := j.finished
		s.FinishedAt = &t
	}
	if j.callbackURL != "" {
		cb := &Callback{State: string(j.webhook), Attempts: j.hookAttempts, LastStatus: j.hookStatus, LastError: j.hookErr}
		if cb.State == "" {
			cb.State = "waiting"
		}
		if !j.hookAt.IsZero() {
			t := j.hookAt
			cb.LastAt = &t
		}
		s.Callback = cb
	}
	s.summarize(ts)
	if j.sample > 0 {
		s.Sample = &Sample{Size: j.sample, PopulationRows: j.populationRows, PopulationAddresses: j.populationAddrs,
			Exact: j.sample >= j.populationAddrs}
		s.Sample.project(ts)
	}
	switch j.state {
	case Done:
		var zero int64
		s.ETASeconds = &zero
	case Running:
		m.mu.Lock()
		r := m.runs[j.pk]
		m.mu.Unlock()
		if r == nil {
			break
		}
		done := j.settled - r.base
		if elapsed := time.Since(r.began); done > 0 && elapsed > 0 {
			eta := etaSeconds(j.addresses-j.settled, done, elapsed)
			s.ETASeconds = &eta
		}
	}
	return s
}

// etaSeconds projects the time left at the rate so far: done addresses
// in elapsed, left to go. It works in float64 seconds, since left times
// elapsed in nanoseconds passes int64 (a million addresses left after
// three hours is 1.08e19).
func etaSeconds(left, done int64, elapsed time.Duration) int64 {
	return int64(math.Round(float64(left) * elapsed.Seconds() / float64(done)))
}

func columnName(j jobRecord) string {
	if j.hasHeader && j.emailColumn >= 0 && j.emailColumn < len(j.header) {
		return j.header[j.emailColumn]
	}
	return fmt.Sprintf("column %d", j.emailColumn+1)
}

// Delete cancels a job and removes all of its data. It returns once the
// data is gone; a crash half way is finished by the next Start.
func (m *Manager) Delete(ctx context.Context, id string) error {
	j, _, err := m.st.job(ctx, id)
	if err != nil {
		return err
	}
	// Mark it first, so that neither a runner nor a restart takes it up
	// again, then stop the runner and remove the data.
	if _, err := m.st.setState(ctx, j.pk, Canceled, "", Queued, Running, Done, Failed, Canceled); err != nil {
		return err
	}
	m.mu.Lock()
	r := m.runs[j.pk]
	if r != nil {
		for _, cancel := range r.works {
			cancel()
		}
	}
	m.mu.Unlock()
	if r != nil {
		r.wg.Wait()
	}
	// The client may hang up; the deletion goes on regardless.
	if err := m.st.deleteJob(context.WithoutCancel(ctx), j.pk); err != nil {
		return err
	}
	m.log.Info("deleted job", "job", j.id)
	if err := m.st.reclaim(context.WithoutCancel(ctx)); err != nil {
		m.log.Warn("reclaiming space after a delete failed", "job", j.id, "err", err)
	}
	return nil
}

// ErrNothingWaiting means Finish found no address waiting for a retry.
var ErrNothingWaiting = errors.New("jobs: no address is waiting for a retry")

// Finish ends the wait of a running job's greylisted and rate-limited
// addresses: each keeps the last answer it got (unknown/greylisted,
// unknown/rate_limited), and the job is done as soon as it has no address
// left that was never asked. It returns ErrNotDone for a job that is not
// queued or running, and ErrNothingWaiting when no address waits.
func (m *Manager) Finish(ctx context.Context, id string) (Status, error) {
	j, _, err := m.st.job(ctx, id)
	if err != nil {
		return Status{}, err
	}
	if j.state != Running && j.state != Queued {
		return Status{}, ErrNotDone
	}
	n, err := m.st.settleWaiting(ctx, j.pk)
	if err != nil {
		return Status{}, err
	}
	if n == 0 {
		return Status{}, ErrNothingWaiting
	}
	m.log.Info("job finished early", "job", j.id, "settled", n)
	if _, err := m.settle(ctx, j); err != nil {
		return Status{}, err
	}
	return m.Status(ctx, id)
}

// expire deletes the jobs that finished more than Config.Retention ago,
// with their rows, and reclaims the space: at start and then every tenth of
// the retention (at most hourly).
func (m *Manager) expire(ctx context.Context) {
	defer m.housekeeping.Done()
	every := min(m.cfg.Retention/10, time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.expireOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Manager) expireOnce(ctx context.Context) {
	old, err := m.st.finishedBefore(ctx, time.Now().Add(-m.cfg.Retention))
	if err != nil {
		m.log.Error("listing expired jobs failed", "err", err)
		return
	}
	for _, j := range old {
		if err := m.Delete(ctx, j.id); err != nil && !errors.Is(err, ErrNotFound) {
			m.log.Error("deleting an expired job failed", "job", j.id, "err", err)
			return
		}
		m.log.Info("deleted an expired job", "job", j.id, "finished", j.finished)
	}
	if len(old) > 0 {
		if err := m.st.reclaim(ctx); err != nil {
			m.log.Error("reclaiming space failed", "err", err)
		}
	}
}

// newID returns a random job id: 128 bits, hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

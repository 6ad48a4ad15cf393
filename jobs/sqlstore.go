package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/store"
)

// sqlStorage keeps jobs in the store's tables (store/migrations), with
// one SQL text for SQLite and PostgreSQL, rebound for the dialect; only
// export's join and reclaim differ by engine. Times are Unix
// milliseconds.
//
// job_rows keeps the upload in order: its ID grows with every insert, so
// (job, id) order is the file's order. job_addresses holds one row per
// distinct address of a job, with the state the runner works from:
// 0 pending, 1 deferred (greylisted, retry at retry_at), 2 settled.
// job_counts tallies settled rows by verdict and reason, updated in the
// same transaction as the results, so progress reads are cheap.
//
// Several instances may share one PostgreSQL database, which runs at READ
// COMMITTED: every count is kept by the database, and an address is
// counted by the statement that settles it (UPDATE … WHERE state < 2
// RETURNING), so that when two transactions save the same address, the
// one that waited for the other's row lock finds it settled and counts
// nothing.
type sqlStorage struct {
	db      *sql.DB
	dialect store.Dialect
}

const (
	statePending  = 0
	stateDeferred = 1
	stateSettled  = 2
)

func newSQL(db *store.DB) (*sqlStorage, error) {
	switch db.Dialect {
	case store.SQLite, store.Postgres:
		return &sqlStorage{db: db.DB, dialect: db.Dialect}, nil
	}
	return nil, fmt.Errorf("jobs: %w: %s", store.ErrUnsupported, db.Dialect)
}

// q rebinds query for the dialect.
func (s *sqlStorage) q(query string) string { return store.Rebind(s.dialect, query) }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inTx runs fn in a write transaction (on SQLite BEGIN IMMEDIATE through
// the store's DSN, so it never has to upgrade a read lock).
func (s *sqlStorage) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *sqlStorage) createJob(ctx context.Context, j *jobRecord) error {
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO jobs
		(id, state, created_at, delimiter, bom, has_header, header, email_column, callback_url, source, owner, sample, population_rows, population_addresses)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`),
		j.id, string(uploading), ms(j.created), int64(j.delimiter), b2i(j.bom), b2i(j.hasHeader),
		encodeFields(nil, j.header), j.emailColumn, j.callbackURL, j.source, j.owner, j.sample, j.populationRows, j.populationAddrs).Scan(&j.pk)
	if err != nil {
		return fmt.Errorf("jobs: create job: %w", err)
	}
	return nil
}

// rowsPerInsert is how many rows one multi-row INSERT carries: far below
// SQLite's limit of 32766 bound parameters and PostgreSQL's of 65535.
const rowsPerInsert = 100

// The multi-row inserts of an upload. A repeated address only bumps its
// row count (an UPSERT); it keeps the domain and lane of its first row.
var (
	rowInsert  = multiInsert{"INSERT INTO job_rows (job, line, akey, fields) VALUES ", "(?,?,?,?)", ""}
	addrInsert = multiInsert{"INSERT INTO job_addresses (job, akey, domain, lane, rows) VALUES ", "(?,?,?,?,?)",
		" ON CONFLICT (job, akey) DO UPDATE SET rows = job_addresses.rows + excluded.rows"}
)

// multiInsert is an INSERT of many rows: its head, one row's placeholders
// and its tail.
type multiInsert struct{ head, row, tail string }

func (m multiInsert) sql(n int) string {
	return m.head + strings.TrimSuffix(strings.Repeat(m.row+",", n), ",") + m.tail
}

// uploadAddr is one distinct address of a batch of rows.
type uploadAddr struct {
	key, domain string
	lane        int
	rows        int64
}

func (s *sqlStorage) appendRows(ctx context.Context, pk int64, rows []row) error {
	// PostgreSQL refuses to upsert one row twice in a statement, so the
	// batch's duplicates are counted here first.
	seen := make(map[string]int, len(rows))
	var addrs []uploadAddr
	for _, r := range rows {
		if i, ok := seen[r.key]; ok {
			addrs[i].rows++
			continue
		}
		seen[r.key] = len(addrs)
		addrs = append(addrs, uploadAddr{r.key, r.domain, r.lane, 1})
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st := stmts{tx: tx, q: s.q}
		defer st.close()
		var buf []byte
		for chunk := range slices.Chunk(rows, rowsPerInsert) {
			args := make([]any, 0, 4*len(chunk))
			for _, r := range chunk {
				buf = encodeFields(buf[:0], r.fields)
				args = append(args, pk, r.line, r.key, append([]byte(nil), buf...))
			}
			if err := st.exec(ctx, rowInsert.sql(len(chunk)), args...); err != nil {
				return fmt.Errorf("jobs: store rows: %w", err)
			}
		}
		for chunk := range slices.Chunk(addrs, rowsPerInsert) {
			args := make([]any, 0, 5*len(chunk))
			for _, a := range chunk {
				args = append(args, pk, a.key, a.domain, a.lane, a.rows)
			}
			if err := st.exec(ctx, addrInsert.sql(len(chunk)), args...); err != nil {
				return fmt.Errorf("jobs: store addresses: %w", err)
			}
		}
		return nil
	})
}

// stmts prepares each statement once per transaction: an upload's full
// chunks all share one text.
type stmts struct {
	tx *sql.Tx
	q  func(string) string
	m  map[string]*sql.Stmt
}

func (p *stmts) exec(ctx context.Context, query string, args ...any) error {
	st := p.m[query]
	if st == nil {
		var err error
		if st, err = p.tx.PrepareContext(ctx, p.q(query)); err != nil {
			return err
		}
		if p.m == nil {
			p.m = map[string]*sql.Stmt{}
		}
		p.m[query] = st
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

func (p *stmts) close() {
	for _, st := range p.m {
		st.Close()
	}
}

func (s *sqlStorage) commitJob(ctx context.Context, pk, total int64, width int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM job_addresses WHERE job = ?`), pk).Scan(&n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, total = ?, addresses = ?, width = ? WHERE pk = ? AND state = ?`),
			string(Queued), total, n, width, pk, string(uploading))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return ErrNotFound
		}
		return nil
	})
}

const jobColumns = `pk, id, state, created_at, started_at, finished_at, delimiter, bom, has_header, header,
	email_column, width, total, addresses, settled, callback_url, webhook, error, source,
	hook_attempts, hook_status, hook_at, hook_error, owner, sample, population_rows, population_addresses`

func scanJob(sc store.Scanner) (jobRecord, error) {
	var (
		j                                jobRecord
		state, webhook                   string
		created, started, finish, hookAt int64
		delim                            int64
		bom, hasHeader                   int
		header                           []byte
	)
	err := sc.Scan(&j.pk, &j.id, &state, &created, &started, &finish, &delim, &bom, &hasHeader, &header,
		&j.emailColumn, &j.width, &j.total, &j.addresses, &j.settled, &j.callbackURL, &webhook, &j.errMsg, &j.source,
		&j.hookAttempts, &j.hookStatus, &hookAt, &j.hookErr, &j.owner, &j.sample, &j.populationRows, &j.populationAddrs)
	if err != nil {
		return j, err
	}
	j.state, j.webhook = State(state), webhookState(webhook)
	j.hookAt = fromMS(hookAt)
	j.created, j.started, j.finished = fromMS(created), fromMS(started), fromMS(finish)
	j.delimiter, j.bom, j.hasHeader = rune(delim), bom != 0, hasHeader != 0
	if j.header, err = decodeFields(header); err != nil {
		return j, err
	}
	return j, nil
}

func (s *sqlStorage) job(ctx context.Context, id string) (jobRecord, []tally, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, s.q(`SELECT `+jobColumns+` FROM jobs WHERE id = ? AND state != ?`), id, string(uploading)))
	if errors.Is(err, sql.ErrNoRows) {
		return j, nil, ErrNotFound
	}
	if err != nil {
		return j, nil, fmt.Errorf("jobs: read job: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT verdict, reason, rows, risk FROM job_counts WHERE job = ? ORDER BY verdict, reason`), j.pk)
	ts, err := store.Collect(rows, err, func(sc store.Scanner) (t tally, err error) {
		var v, r string
		err = sc.Scan(&v, &r, &t.Rows, &t.Risk)
		t.Verdict, t.Reason = outcome.Verdict(v), outcome.Reason(r)
		return t, err
	})
	if err != nil {
		return j, nil, fmt.Errorf("jobs: read counts: %w", err)
	}
	return j, ts, nil
}

func (s *sqlStorage) jobsIn(ctx context.Context, states ...State) ([]jobRecord, error) {
	q := `SELECT ` + jobColumns + ` FROM jobs WHERE state IN (` + placeholders(len(states)) + `) ORDER BY pk`
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = string(st)
	}
	return s.jobList(ctx, q, args...)
}

// jobList runs q, a SELECT of jobColumns, and scans its jobs.
func (s *sqlStorage) jobList(ctx context.Context, q string, args ...any) ([]jobRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	js, err := store.Collect(rows, err, scanJob)
	if err != nil {
		return nil, fmt.Errorf("jobs: list jobs: %w", err)
	}
	return js, nil
}

func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func (s *sqlStorage) setState(ctx context.Context, pk int64, to State, errMsg string, from ...State) (bool, error) {
	// started_at is set the first time a job runs.
	var started int64
	if to == Running {
		started = ms(time.Now())
	}
	args := []any{string(to), errMsg, started, pk}
	for _, st := range from {
		args = append(args, string(st))
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, error = ?,
		started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END
		WHERE pk = ? AND state IN (`+placeholders(len(from))+`)`), args...)
	if err != nil {
		return false, fmt.Errorf("jobs: set state: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s *sqlStorage) pending(ctx context.Context, pk int64, after cursor, limit int) ([]address, error) {
	if !after.set {
		// No "> (0, '', '')" here: it would skip the empty key.
		return s.addresses(ctx, `SELECT akey, domain, tries, lane FROM job_addresses
			WHERE job = ? AND state = 0
			ORDER BY lane, domain, akey LIMIT ?`, pk, limit)
	}
	return s.addresses(ctx, `SELECT akey, domain, tries, lane FROM job_addresses
		WHERE job = ? AND state = 0 AND (lane, domain, akey) > (?, ?, ?)
		ORDER BY lane, domain, akey LIMIT ?`, pk, after.lane, after.domain, after.key, limit)
}

func (s *sqlStorage) due(ctx context.Context, pk int64, now time.Time, limit int) ([]address, error) {
	return s.addresses(ctx, `SELECT akey, domain, tries, lane FROM job_addresses
		WHERE job = ? AND state = 1 AND retry_at <= ?
		ORDER BY domain, akey LIMIT ?`, pk, ms(now), limit)
}

func (s *sqlStorage) addresses(ctx context.Context, q string, args ...any) ([]address, error) {
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	as, err := store.Collect(rows, err, func(sc store.Scanner) (a address, err error) {
		err = sc.Scan(&a.key, &a.domain, &a.tries, &a.lane)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: list addresses: %w", err)
	}
	return as, nil
}

func (s *sqlStorage) remaining(ctx context.Context, pk int64) (pending, deferred int64, next time.Time, err error) {
	var nextMS sql.NullInt64
	err = s.db.QueryRowContext(ctx, s.q(`SELECT
		(SELECT count(*) FROM job_addresses WHERE job = ?1 AND state = 0),
		(SELECT count(*) FROM job_addresses WHERE job = ?1 AND state = 1),
		(SELECT min(retry_at) FROM job_addresses WHERE job = ?1 AND state = 1)`), pk).Scan(&pending, &deferred, &nextMS)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("jobs: count remaining: %w", err)
	}
	if nextMS.Valid {
		next = fromMS(nextMS.Int64)
	}
	return pending, deferred, next, nil
}

func (s *sqlStorage) save(ctx context.Context, pk int64, batch []answer) error {
	// In key order, so that two instances saving overlapping batches take
	// their row locks in one order and wait rather than deadlock.
	batch = slices.Clone(batch)
	slices.SortStableFunc(batch, func(a, b answer) int { return strings.Compare(a.key, b.key) })
	return s.inTx(ctx, func(tx *sql.Tx) error {
		settle, err := tx.PrepareContext(ctx, s.q(`UPDATE job_addresses
			SET state = 2, tries = ?, verdict = ?, risk = ?, reason = ?, suggestion = ?, result = ?
			WHERE job = ? AND akey = ? AND state < 2 RETURNING rows`))
		if err != nil {
			return err
		}
		defer settle.Close()
		// A deferred address keeps its last answer, which a job finished
		// early (settleWaiting) reports.
		deferStmt, err := tx.PrepareContext(ctx, s.q(`UPDATE job_addresses
			SET state = 1, tries = ?, retry_at = ?, verdict = ?, risk = ?, reason = ?, suggestion = ?, result = ?
			WHERE job = ? AND akey = ? AND state < 2`))
		if err != nil {
			return err
		}
		defer deferStmt.Close()
		var ts tallies
		for _, a := range batch {
			if !a.settled {
				if _, err := deferStmt.ExecContext(ctx, a.tries, ms(a.retryAt), string(a.verdict), a.risk, string(a.reason), a.suggest, a.result, pk, a.key); err != nil {
					return fmt.Errorf("jobs: defer address: %w", err)
				}
				continue
			}
			var n int64
			err := settle.QueryRowContext(ctx, a.tries, string(a.verdict), a.risk, string(a.reason), a.suggest, a.result, pk, a.key).Scan(&n)
			if errors.Is(err, sql.ErrNoRows) {
				continue // settled already: count it once
			}
			if err != nil {
				return fmt.Errorf("jobs: save result: %w", err)
			}
			ts.add(a.verdict, a.reason, n, int64(a.risk))
		}
		return s.count(ctx, tx, pk, ts)
	})
}

// tallies collects the addresses a transaction settled, by verdict and
// reason.
type tallies struct {
	m       map[[2]string]*tally
	settled int64 // addresses
}

// add counts one address of rows rows.
func (ts *tallies) add(v outcome.Verdict, r outcome.Reason, rows, risk int64) {
	if ts.m == nil {
		ts.m = map[[2]string]*tally{}
	}
	b := [2]string{string(v), string(r)}
	t := ts.m[b]
	if t == nil {
		t = &tally{Verdict: v, Reason: r}
		ts.m[b] = t
	}
	t.Rows += rows
	t.Risk += rows * risk
	ts.settled++
}

// count adds ts to the job's tallies and progress, in tx: the counts live
// in the database, so every instance's answers add up.
func (s *sqlStorage) count(ctx context.Context, tx *sql.Tx, pk int64, ts tallies) error {
	if ts.settled == 0 {
		return nil
	}
	// In one order, as in save.
	for _, b := range slices.SortedFunc(maps.Keys(ts.m), func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	}) {
		t := ts.m[b]
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO job_counts (job, verdict, reason, rows, risk) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (job, verdict, reason) DO UPDATE SET rows = job_counts.rows + excluded.rows, risk = job_counts.risk + excluded.risk`),
			pk, string(t.Verdict), string(t.Reason), t.Rows, t.Risk); err != nil {
			return fmt.Errorf("jobs: save counts: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET settled = settled + ? WHERE pk = ?`), ts.settled, pk); err != nil {
		return fmt.Errorf("jobs: save progress: %w", err)
	}
	return nil
}

func (s *sqlStorage) finish(ctx context.Context, pk int64, to State, errMsg string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, error = ?, finished_at = ?,
		webhook = CASE WHEN callback_url != '' THEN ? ELSE webhook END
		WHERE pk = ? AND state IN (?, ?)`),
		string(to), errMsg, ms(time.Now()), string(webhookPending), pk, string(Queued), string(Running))
	if err != nil {
		return false, fmt.Errorf("jobs: finish job: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("jobs: finish job: %w", err)
	}
	return n == 1, nil
}

func (s *sqlStorage) setWebhook(ctx context.Context, pk int64, state webhookState, a callbackAttempt, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE jobs SET webhook = ?, hook_attempts = hook_attempts + 1, hook_status = ?, hook_at = ?, hook_error = ?
		WHERE pk = ?`), string(state), a.code, ms(t), a.err, pk); err != nil {
		return fmt.Errorf("jobs: record webhook: %w", err)
	}
	return nil
}

func (s *sqlStorage) export(ctx context.Context, pk int64, verdicts []outcome.Verdict, fn func(exportRow) error) error {
	// CROSS JOIN makes SQLite walk job_rows in (job, id) order, the file's
	// order, and look each address up by its unique key. PostgreSQL has no
	// such hint (nor CROSS JOIN … ON) and plans the join itself.
	join := "JOIN"
	if s.dialect == store.SQLite {
		join = "CROSS JOIN"
	}
	q := `SELECT r.line, r.fields, a.state = 2, a.verdict, a.risk, a.reason, a.suggestion, a.result
		FROM job_rows r ` + join + ` job_addresses a ON a.job = r.job AND a.akey = r.akey
		WHERE r.job = ?`
	args := []any{pk}
	if len(verdicts) > 0 {
		q += ` AND a.state = 2 AND a.verdict IN (` + placeholders(len(verdicts)) + `)`
		for _, v := range verdicts {
			args = append(args, string(v))
		}
	}
	q += ` ORDER BY r.id`
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return fmt.Errorf("jobs: read results: %w", err)
	}
	defer rows.Close()
	var fields []byte
	for rows.Next() {
		var e exportRow
		var v, r string
		if err := rows.Scan(&e.line, &fields, &e.settled, &v, &e.risk, &r, &e.suggestion, &e.result); err != nil {
			return fmt.Errorf("jobs: read results: %w", err)
		}
		e.verdict, e.reason = outcome.Verdict(v), outcome.Reason(r)
		if e.fields, err = decodeFields(fields); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("jobs: read results: %w", err)
	}
	return nil
}

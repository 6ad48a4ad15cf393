package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/preflight-email/preflight/outcome"
)

// sqliteSchema creates the jobs tables. Times are Unix milliseconds.
//
// job_rows keeps the upload in order: its rowid grows with every insert,
// so (job, id) order is the file's order. job_addresses holds one row per
// distinct address of a job, with the state the runner works from:
// 0 pending, 1 deferred (greylisted, retry at retry_at), 2 settled.
// job_counts tallies settled rows by verdict and reason, updated in the
// same transaction as the results, so progress reads are cheap.
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS jobs (
	pk           INTEGER PRIMARY KEY,
	id           TEXT    NOT NULL UNIQUE,
	state        TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	started_at   INTEGER NOT NULL DEFAULT 0,
	finished_at  INTEGER NOT NULL DEFAULT 0,
	delimiter    INTEGER NOT NULL,
	bom          INTEGER NOT NULL,
	has_header   INTEGER NOT NULL,
	header       BLOB,
	email_column INTEGER NOT NULL,
	width        INTEGER NOT NULL DEFAULT 0,
	total        INTEGER NOT NULL DEFAULT 0,
	addresses    INTEGER NOT NULL DEFAULT 0,
	settled      INTEGER NOT NULL DEFAULT 0,
	callback_url TEXT    NOT NULL DEFAULT '',
	webhook      TEXT    NOT NULL DEFAULT '',
	error        TEXT    NOT NULL DEFAULT '',
	source       TEXT    NOT NULL DEFAULT '',
	hook_attempts INTEGER NOT NULL DEFAULT 0,
	hook_status   INTEGER NOT NULL DEFAULT 0,
	hook_at       INTEGER NOT NULL DEFAULT 0,
	hook_error    TEXT    NOT NULL DEFAULT '',
	owner        TEXT    NOT NULL DEFAULT '',
	sample       INTEGER NOT NULL DEFAULT 0,
	population_rows      INTEGER NOT NULL DEFAULT 0,
	population_addresses INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS job_rows (
	id     INTEGER PRIMARY KEY,
	job    INTEGER NOT NULL,
	line   INTEGER NOT NULL,
	akey   TEXT    NOT NULL,
	fields BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS job_rows_order ON job_rows(job, id);
CREATE TABLE IF NOT EXISTS job_addresses (
	id         INTEGER PRIMARY KEY,
	job        INTEGER NOT NULL,
	akey       TEXT    NOT NULL,
	domain     TEXT    NOT NULL,
	rows       INTEGER NOT NULL,
	state      INTEGER NOT NULL DEFAULT 0,
	tries      INTEGER NOT NULL DEFAULT 0,
	retry_at   INTEGER NOT NULL DEFAULT 0,
	verdict    TEXT    NOT NULL DEFAULT '',
	risk       INTEGER NOT NULL DEFAULT 0,
	reason     TEXT    NOT NULL DEFAULT '',
	suggestion TEXT    NOT NULL DEFAULT '',
	result     BLOB,
	lane       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS job_addresses_key ON job_addresses(job, akey);
CREATE INDEX IF NOT EXISTS job_addresses_work ON job_addresses(job, state, domain, akey);
CREATE TABLE IF NOT EXISTS job_counts (
	job     INTEGER NOT NULL,
	verdict TEXT    NOT NULL,
	reason  TEXT    NOT NULL,
	rows    INTEGER NOT NULL,
	risk    INTEGER NOT NULL,
	PRIMARY KEY (job, verdict, reason)
) WITHOUT ROWID;
`

const (
	statePending  = 0
	stateDeferred = 1
	stateSettled  = 2
)

// sqliteStorage is the storage of the embedded default.
type sqliteStorage struct {
	db *sql.DB
}

func newSQLite(ctx context.Context, db *sql.DB) (*sqliteStorage, error) {
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		return nil, fmt.Errorf("jobs: create tables: %w", err)
	}
	// Databases made by earlier versions get the columns added since;
	// their jobs keep lane 0, which is the old (domain, key) order, and
	// belong to no key.
	for _, c := range []struct{ table, column, def string }{
		{"job_addresses", "lane", "INTEGER NOT NULL DEFAULT 0"},
		{"jobs", "hook_attempts", "INTEGER NOT NULL DEFAULT 0"},
		{"jobs", "hook_status", "INTEGER NOT NULL DEFAULT 0"},
		{"jobs", "hook_at", "INTEGER NOT NULL DEFAULT 0"},
		{"jobs", "hook_error", "TEXT NOT NULL DEFAULT ''"},
		{"jobs", "owner", "TEXT NOT NULL DEFAULT ''"},
		{"jobs", "sample", "INTEGER NOT NULL DEFAULT 0"},
		{"jobs", "population_rows", "INTEGER NOT NULL DEFAULT 0"},
		{"jobs", "population_addresses", "INTEGER NOT NULL DEFAULT 0"},
	} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, c.table, c.column).Scan(&n); err != nil {
			return nil, fmt.Errorf("jobs: read schema: %w", err)
		}
		if n == 0 {
			if _, err := db.ExecContext(ctx, `ALTER TABLE `+c.table+` ADD COLUMN `+c.column+` `+c.def); err != nil {
				return nil, fmt.Errorf("jobs: add column %s.%s: %w", c.table, c.column, err)
			}
		}
	}
	if _, err := db.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS job_addresses_lane ON job_addresses(job, state, lane, domain, akey)`); err != nil {
		return nil, fmt.Errorf("jobs: create tables: %w", err)
	}
	return &sqliteStorage{db: db}, nil
}

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

// inTx runs fn in a write transaction (BEGIN IMMEDIATE through the
// store's DSN, so it never has to upgrade a read lock).
func (s *sqliteStorage) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
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

func (s *sqliteStorage) createJob(ctx context.Context, j *jobRecord) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO jobs
		(id, state, created_at, delimiter, bom, has_header, header, email_column, callback_url, source, owner, sample, population_rows, population_addresses)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.id, string(uploading), ms(j.created), int64(j.delimiter), b2i(j.bom), b2i(j.hasHeader),
		encodeFields(nil, j.header), j.emailColumn, j.callbackURL, j.source, j.owner, j.sample, j.populationRows, j.populationAddrs)
	if err != nil {
		return fmt.Errorf("jobs: create job: %w", err)
	}
	j.pk, err = res.LastInsertId()
	return err
}

// rowsPerInsert is how many rows one multi-row INSERT carries: far below
// SQLite's limit of 32766 bound parameters.
const rowsPerInsert = 100

func (s *sqliteStorage) appendRows(ctx context.Context, pk int64, rows []row) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var full [2]*sql.Stmt // prepared once per transaction for full chunks
		defer func() {
			for _, st := range full {
				if st != nil {
					st.Close()
				}
			}
		}()
		var buf []byte
		for len(rows) > 0 {
			n := min(len(rows), rowsPerInsert)
			chunk := rows[:n]
			rows = rows[n:]
			rowSQL, addrSQL := insertSQL(n)
			var rs, as *sql.Stmt
			var err error
			if n == rowsPerInsert && full[0] != nil {
				rs, as = full[0], full[1]
			} else {
				if rs, err = tx.PrepareContext(ctx, rowSQL); err != nil {
					return err
				}
				if as, err = tx.PrepareContext(ctx, addrSQL); err != nil {
					rs.Close()
					return err
				}
				if n == rowsPerInsert {
					full[0], full[1] = rs, as
				} else {
					defer rs.Close()
					defer as.Close()
				}
			}
			rargs := make([]any, 0, 4*n)
			aargs := make([]any, 0, 4*n)
			for _, r := range chunk {
				buf = encodeFields(buf[:0], r.fields)
				rargs = append(rargs, pk, r.line, r.key, append([]byte(nil), buf...))
				aargs = append(aargs, pk, r.key, r.domain, r.lane)
			}
			if _, err := rs.ExecContext(ctx, rargs...); err != nil {
				return fmt.Errorf("jobs: store rows: %w", err)
			}
			if _, err := as.ExecContext(ctx, aargs...); err != nil {
				return fmt.Errorf("jobs: store addresses: %w", err)
			}
		}
		return nil
	})
}

// insertSQL builds the multi-row inserts for n rows. A repeated address
// only bumps its row count (an UPSERT; SQLite applies the conflict clause
// row by row, so duplicates inside one statement count too).
func insertSQL(n int) (rowSQL, addrSQL string) {
	var r, a strings.Builder
	r.WriteString("INSERT INTO job_rows (job, line, akey, fields) VALUES ")
	a.WriteString("INSERT INTO job_addresses (job, akey, domain, lane, rows) VALUES ")
	for i := range n {
		if i > 0 {
			r.WriteByte(',')
			a.WriteByte(',')
		}
		r.WriteString("(?,?,?,?)")
		a.WriteString("(?,?,?,?,1)")
	}
	a.WriteString(" ON CONFLICT (job, akey) DO UPDATE SET rows = rows + 1")
	return r.String(), a.String()
}

func (s *sqliteStorage) commitJob(ctx context.Context, pk, total int64, width int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM job_addresses WHERE job = ?`, pk).Scan(&n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, total = ?, addresses = ?, width = ? WHERE pk = ? AND state = ?`,
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

func scanJob(sc interface{ Scan(...any) error }) (jobRecord, error) {
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

func (s *sqliteStorage) job(ctx context.Context, id string) (jobRecord, []tally, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ? AND state != ?`, id, string(uploading)))
	if errors.Is(err, sql.ErrNoRows) {
		return j, nil, ErrNotFound
	}
	if err != nil {
		return j, nil, fmt.Errorf("jobs: read job: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT verdict, reason, rows, risk FROM job_counts WHERE job = ? ORDER BY verdict, reason`, j.pk)
	if err != nil {
		return j, nil, fmt.Errorf("jobs: read counts: %w", err)
	}
	defer rows.Close()
	var ts []tally
	for rows.Next() {
		var t tally
		var v, r string
		if err := rows.Scan(&v, &r, &t.Rows, &t.Risk); err != nil {
			return j, nil, err
		}
		t.Verdict, t.Reason = outcome.Verdict(v), outcome.Reason(r)
		ts = append(ts, t)
	}
	return j, ts, rows.Err()
}

func (s *sqliteStorage) jobsIn(ctx context.Context, states ...State) ([]jobRecord, error) {
	q := `SELECT ` + jobColumns + ` FROM jobs WHERE state IN (` + placeholders(len(states)) + `) ORDER BY pk`
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = string(st)
	}
	return s.jobList(ctx, q, args...)
}

// jobList runs q, a SELECT of jobColumns, and scans its jobs.
func (s *sqliteStorage) jobList(ctx context.Context, q string, args ...any) ([]jobRecord, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("jobs: list jobs: %w", err)
	}
	defer rows.Close()
	var out []jobRecord
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func (s *sqliteStorage) setState(ctx context.Context, pk int64, to State, errMsg string, from ...State) (bool, error) {
	args := []any{string(to), errMsg, ms(time.Now()), string(Running), pk}
	for _, st := range from {
		args = append(args, string(st))
	}
	// started_at is set the first time a job runs.
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET state = ?1, error = ?2,
		started_at = CASE WHEN started_at = 0 AND ?1 = ?4 THEN ?3 ELSE started_at END
		WHERE pk = ?5 AND state IN (`+placeholdersFrom(6, len(from))+`)`, args...)
	if err != nil {
		return false, fmt.Errorf("jobs: set state: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// placeholdersFrom numbers n placeholders from ?first.
func placeholdersFrom(first, n int) string {
	if n == 0 {
		return "NULL"
	}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "?%d", first+i)
	}
	return b.String()
}

func (s *sqliteStorage) pending(ctx context.Context, pk int64, after cursor, limit int) ([]address, error) {
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

func (s *sqliteStorage) due(ctx context.Context, pk int64, now time.Time, limit int) ([]address, error) {
	return s.addresses(ctx, `SELECT akey, domain, tries, lane FROM job_addresses
		WHERE job = ? AND state = 1 AND retry_at <= ?
		ORDER BY domain, akey LIMIT ?`, pk, ms(now), limit)
}

func (s *sqliteStorage) addresses(ctx context.Context, q string, args ...any) ([]address, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("jobs: list addresses: %w", err)
	}
	defer rows.Close()
	var out []address
	for rows.Next() {
		var a address
		if err := rows.Scan(&a.key, &a.domain, &a.tries, &a.lane); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *sqliteStorage) remaining(ctx context.Context, pk int64) (pending, deferred int64, next time.Time, err error) {
	var nextMS sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM job_addresses WHERE job = ?1 AND state = 0),
		(SELECT count(*) FROM job_addresses WHERE job = ?1 AND state = 1),
		(SELECT min(retry_at) FROM job_addresses WHERE job = ?1 AND state = 1)`, pk).Scan(&pending, &deferred, &nextMS)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("jobs: count remaining: %w", err)
	}
	if nextMS.Valid {
		next = fromMS(nextMS.Int64)
	}
	return pending, deferred, next, nil
}

func (s *sqliteStorage) save(ctx context.Context, pk int64, batch []answer) error {
	type bucket struct {
		v outcome.Verdict
		r outcome.Reason
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		settle, err := tx.PrepareContext(ctx, `UPDATE job_addresses
			SET state = 2, tries = ?, verdict = ?, risk = ?, reason = ?, suggestion = ?, result = ?
			WHERE job = ? AND akey = ? AND state < 2 RETURNING rows`)
		if err != nil {
			return err
		}
		defer settle.Close()
		// A deferred address keeps its last answer, which a job finished
		// early (settleWaiting) reports.
		deferStmt, err := tx.PrepareContext(ctx, `UPDATE job_addresses
			SET state = 1, tries = ?, retry_at = ?, verdict = ?, risk = ?, reason = ?, suggestion = ?, result = ?
			WHERE job = ? AND akey = ? AND state < 2`)
		if err != nil {
			return err
		}
		defer deferStmt.Close()
		tallies := map[bucket]*tally{}
		var settled int64
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
			settled++
			b := bucket{a.verdict, a.reason}
			t := tallies[b]
			if t == nil {
				t = &tally{Verdict: a.verdict, Reason: a.reason}
				tallies[b] = t
			}
			t.Rows += n
			t.Risk += n * int64(a.risk)
		}
		for _, t := range tallies {
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_counts (job, verdict, reason, rows, risk) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (job, verdict, reason) DO UPDATE SET rows = rows + excluded.rows, risk = risk + excluded.risk`,
				pk, string(t.Verdict), string(t.Reason), t.Rows, t.Risk); err != nil {
				return fmt.Errorf("jobs: save counts: %w", err)
			}
		}
		if settled > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET settled = settled + ? WHERE pk = ?`, settled, pk); err != nil {
				return fmt.Errorf("jobs: save progress: %w", err)
			}
		}
		return nil
	})
}

func (s *sqliteStorage) finish(ctx context.Context, pk int64, to State, errMsg string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET state = ?, error = ?, finished_at = ?,
		webhook = CASE WHEN callback_url != '' THEN ? ELSE webhook END
		WHERE pk = ? AND state IN (?, ?)`,
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

func (s *sqliteStorage) setWebhook(ctx context.Context, pk int64, state webhookState, a callbackAttempt, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE jobs SET webhook = ?, hook_attempts = hook_attempts + 1, hook_status = ?, hook_at = ?, hook_error = ?
		WHERE pk = ?`, string(state), a.code, ms(t), a.err, pk); err != nil {
		return fmt.Errorf("jobs: record webhook: %w", err)
	}
	return nil
}

func (s *sqliteStorage) export(ctx context.Context, pk int64, verdicts []outcome.Verdict, fn func(exportRow) error) error {
	// CROSS JOIN makes SQLite walk job_rows in (job, id) order, the file's
	// order, and look each address up by its unique key.
	q := `SELECT r.line, r.fields, a.state = 2, a.verdict, a.risk, a.reason, a.suggestion, a.result
		FROM job_rows r CROSS JOIN job_addresses a ON a.job = r.job AND a.akey = r.akey
		WHERE r.job = ?`
	args := []any{pk}
	if len(verdicts) > 0 {
		q += ` AND a.state = 2 AND a.verdict IN (` + placeholders(len(verdicts)) + `)`
		for _, v := range verdicts {
			args = append(args, string(v))
		}
	}
	q += ` ORDER BY r.id`
	rows, err := s.db.QueryContext(ctx, q, args...)
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

package suppression

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
	"github.com/preflight-email/preflight/store"
)

// sqlStore keeps the list in the store's tables (store/migrations), with
// one SQL text for SQLite and PostgreSQL, rebound for the dialect. Times
// are Unix milliseconds, UTC.
//
// Event IDs only grow, which lets a removal name the newest one as its
// cut-off. That needs events to commit in ID order too: SQLite has one
// writer at a time (BEGIN IMMEDIATE), and on PostgreSQL every write
// transaction of the list first takes one advisory lock (serialize). The
// same lock keeps List.apply's read-decide-write from racing another
// instance's for the same address, as PostgreSQL's READ COMMITTED would
// otherwise allow. Bounce webhooks are not a hot write path, so one lock
// costs little.
const entryColumns = `email, reason, class, code, enhanced, diagnostic, explanation, source,
	first_event_at, last_event_at, suppressed_at, soft_count`

// cutoffSQL is the event ID up to which an address's soft bounces no
// longer count.
const cutoffSQL = `COALESCE((SELECT MAX(event_cutoff) FROM suppression_removals WHERE email = ?1), 0)`

const (
	qInsertEvent = `INSERT INTO suppression_events (key, email, domain, class, reason, code, enhanced,
	diagnostic, provider, blocklist, signal, source, kind, soft, occurred_at, received_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING RETURNING id`
	qSoftCount = `SELECT COUNT(*) FROM suppression_events WHERE email = ?1 AND soft = 1 AND id > ` + cutoffSQL
	qSoftTimes = `SELECT occurred_at FROM suppression_events WHERE email = ?1 AND soft = 1
	AND occurred_at BETWEEN ?2 AND ?3 AND id > ` + cutoffSQL + ` ORDER BY occurred_at`
	qEntry    = `SELECT ` + entryColumns + ` FROM suppressions WHERE email = ?`
	qPutEntry = `INSERT INTO suppressions (` + entryColumns + `, event_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT(email) DO UPDATE SET reason = excluded.reason, class = excluded.class, code = excluded.code,
	enhanced = excluded.enhanced, diagnostic = excluded.diagnostic, explanation = excluded.explanation,
	source = excluded.source, first_event_at = excluded.first_event_at, last_event_at = excluded.last_event_at,
	suppressed_at = excluded.suppressed_at, soft_count = excluded.soft_count, event_id = excluded.event_id`
)

type sqlStore struct {
	db      *sql.DB
	dialect store.Dialect
	// Prepared once: the hot paths are Lookup (every verification) and
	// Ingest (every webhook).
	insertEvent, softCountQ, softTimesQ, entryQ, putEntryQ *sql.Stmt
}

func newSQL(ctx context.Context, db *store.DB) (*sqlStore, error) {
	switch db.Dialect {
	case store.SQLite, store.Postgres:
	default:
		return nil, fmt.Errorf("suppression: %w: %s", store.ErrUnsupported, db.Dialect)
	}
	s := &sqlStore{db: db.DB, dialect: db.Dialect}
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.insertEvent, qInsertEvent},
		{&s.softCountQ, qSoftCount},
		{&s.softTimesQ, qSoftTimes},
		{&s.entryQ, qEntry},
		{&s.putEntryQ, qPutEntry},
	} {
		st, err := db.PrepareContext(ctx, db.Rebind(p.q))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("suppression: prepare: %w", err)
		}
		*p.dst = st
	}
	return s, nil
}

func (s *sqlStore) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.insertEvent, s.softCountQ, s.softTimesQ, s.entryQ, s.putEntryQ} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// begin starts a write transaction of the list, serialised with every
// other: on SQLite by BEGIN IMMEDIATE (store.Open sets _txlock), on
// PostgreSQL by a transaction-level advisory lock.
func (s *sqlStore) begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil || s.dialect != store.Postgres {
		return tx, err
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLock); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("lock the suppression list: %w", err)
	}
	return tx, nil
}

// writeLock is the advisory lock key of the list's writes ("psup").
const writeLock int64 = 0x70737570

func (s *sqlStore) write(ctx context.Context, fn func(tx writer) error) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(&sqlTx{s: s, tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

type sqlTx struct {
	s  *sqlStore
	tx *sql.Tx
}

func (t *sqlTx) addEvent(ctx context.Context, r *eventRow) (bool, error) {
	err := t.tx.StmtContext(ctx, t.s.insertEvent).QueryRowContext(ctx,
		r.key, r.email, r.domain, string(r.d.Class), string(r.d.Reason), r.d.Code, r.d.Enhanced,
		r.diag, r.provider, r.d.Blocklist, r.signal, r.source, r.kind, boolInt(r.soft),
		r.occurred.UnixMilli(), r.received.UnixMilli()).Scan(&r.id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // stored before: no row comes back
	}
	if err != nil {
		return false, fmt.Errorf("insert event: %w", err)
	}
	return true, nil
}

func (t *sqlTx) softCount(ctx context.Context, email string) (int, error) {
	var n int
	err := t.tx.StmtContext(ctx, t.s.softCountQ).QueryRowContext(ctx, email).Scan(&n)
	return n, err
}

func (t *sqlTx) softTimes(ctx context.Context, email string, from, to time.Time) ([]time.Time, error) {
	rows, err := t.tx.StmtContext(ctx, t.s.softTimesQ).QueryContext(ctx, email, from.UnixMilli(), to.UnixMilli())
	return store.Collect(rows, err, func(sc store.Scanner) (time.Time, error) {
		var ms int64
		err := sc.Scan(&ms)
		return time.UnixMilli(ms).UTC(), err
	})
}

func (t *sqlTx) entry(ctx context.Context, email string) (Entry, bool, error) {
	return scanEntry(t.tx.StmtContext(ctx, t.s.entryQ).QueryRowContext(ctx, email))
}

func (t *sqlTx) putEntry(ctx context.Context, e Entry, eventID int64) error {
	_, err := t.tx.StmtContext(ctx, t.s.putEntryQ).ExecContext(ctx,
		e.Email, string(e.Reason), string(e.Class), e.Code, e.Enhanced, e.Diagnostic, e.Explanation, e.Source,
		e.FirstEventAt.UnixMilli(), e.LastEventAt.UnixMilli(), e.SuppressedAt.UnixMilli(), e.SoftCount, eventID)
	if err != nil {
		return fmt.Errorf("put suppression: %w", err)
	}
	return nil
}

func (s *sqlStore) lookup(ctx context.Context, email string) (Entry, bool, error) {
	return scanEntry(s.entryQ.QueryRowContext(ctx, email))
}

func (s *sqlStore) remove(ctx context.Context, email, reason string, at time.Time) (bool, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	e, ok, err := scanEntry(tx.StmtContext(ctx, s.entryQ).QueryRowContext(ctx, email))
	if err != nil || !ok {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM suppressions WHERE email = ?`), email); err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO suppression_removals
		(email, removed_at, reason, previous_reason, previous_class, suppressed_at, event_cutoff)
		VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM suppression_events))`),
		email, at.UnixMilli(), reason, string(e.Reason), string(e.Class), e.SuppressedAt.UnixMilli())
	if err != nil {
		return false, err
	}
	return true, tx.Commit()
}

func (s *sqlStore) each(ctx context.Context, fn func(Entry) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+entryColumns+` FROM suppressions ORDER BY email`))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, _, err := scanEntry(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *sqlStore) tally(ctx context.Context, from, to time.Time) ([]tally, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT class, reason, provider, signal, COUNT(*), MAX(occurred_at)
		FROM suppression_events WHERE occurred_at BETWEEN ? AND ?
		GROUP BY class, reason, provider, signal`), from.UnixMilli(), to.UnixMilli())
	return store.Collect(rows, err, func(sc store.Scanner) (t tally, err error) {
		var class string
		var last int64
		err = sc.Scan(&class, &t.reason, &t.provider, &t.signal, &t.count, &last)
		t.class, t.last = reply.Class(class), time.UnixMilli(last).UTC()
		return t, err
	})
}

func (s *sqlStore) suppressedIn(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM suppressions WHERE suppressed_at BETWEEN ? AND ?`),
		from.UnixMilli(), to.UnixMilli()).Scan(&n)
	return n, err
}

// scanEntry reads entryColumns; a missing row is (Entry{}, false, nil).
func scanEntry(sc store.Scanner) (Entry, bool, error) {
	var e Entry
	var reason, class string
	var first, last, supp int64
	err := sc.Scan(&e.Email, &reason, &class, &e.Code, &e.Enhanced, &e.Diagnostic, &e.Explanation, &e.Source,
		&first, &last, &supp, &e.SoftCount)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, err
	}
	e.Reason, e.Class = outcome.Reason(reason), reply.Class(class)
	e.FirstEventAt, e.LastEventAt, e.SuppressedAt = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC(), time.UnixMilli(supp).UTC()
	return e, true, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// q rebinds a query for the store's dialect.
func (s *sqlStore) q(query string) string { return store.Rebind(s.dialect, query) }

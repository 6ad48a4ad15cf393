package suppression

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// sqliteSchema creates the list's tables. Times are Unix milliseconds, UTC.
//
// suppression_events keeps every classified event; key is the idempotency
// key (source and the sender's ID, or a hash), so a redelivered webhook is
// stored once. Event IDs only grow (no event is ever deleted, so SQLite
// never reuses the largest rowid), which lets a removal name a cut-off.
// soft marks the events that count toward the soft limit; signal is the
// sender-side signal the event carries, for Health.
//
// suppressions holds one row per suppressed address, keyed by the
// normalised address: WITHOUT ROWID makes the lookup a single B-tree
// search.
//
// suppression_removals is the audit trail of manual un-suppressions.
// event_cutoff is the newest event ID at the time: soft bounces up to it
// no longer count for that address.
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS suppression_events (
	id          INTEGER PRIMARY KEY,
	key         TEXT    NOT NULL UNIQUE,
	email       TEXT    NOT NULL,
	domain      TEXT    NOT NULL,
	class       TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	code        INTEGER NOT NULL,
	enhanced    TEXT    NOT NULL,
	diagnostic  TEXT    NOT NULL,
	provider    TEXT    NOT NULL,
	blocklist   TEXT    NOT NULL,
	signal      TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	soft        INTEGER NOT NULL,
	occurred_at INTEGER NOT NULL,
	received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS suppression_events_email ON suppression_events(email, occurred_at);
CREATE INDEX IF NOT EXISTS suppression_events_time ON suppression_events(occurred_at);
CREATE TABLE IF NOT EXISTS suppressions (
	email          TEXT    PRIMARY KEY,
	reason         TEXT    NOT NULL,
	class          TEXT    NOT NULL,
	code           INTEGER NOT NULL,
	enhanced       TEXT    NOT NULL,
	diagnostic     TEXT    NOT NULL,
	explanation    TEXT    NOT NULL,
	source         TEXT    NOT NULL,
	first_event_at INTEGER NOT NULL,
	last_event_at  INTEGER NOT NULL,
	suppressed_at  INTEGER NOT NULL,
	soft_count     INTEGER NOT NULL,
	event_id       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS suppressions_time ON suppressions(suppressed_at);
CREATE TABLE IF NOT EXISTS suppression_removals (
	id              INTEGER PRIMARY KEY,
	email           TEXT    NOT NULL,
	removed_at      INTEGER NOT NULL,
	reason          TEXT    NOT NULL,
	previous_reason TEXT    NOT NULL,
	previous_class  TEXT    NOT NULL,
	suppressed_at   INTEGER NOT NULL,
	event_cutoff    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS suppression_removals_email ON suppression_removals(email, event_cutoff);
`

const entryColumns = `email, reason, class, code, enhanced, diagnostic, explanation, source,
	first_event_at, last_event_at, suppressed_at, soft_count`

// cutoffSQL is the event ID up to which an address's soft bounces no
// longer count.
const cutoffSQL = `COALESCE((SELECT MAX(event_cutoff) FROM suppression_removals WHERE email = ?1), 0)`

const (
	qInsertEvent = `INSERT INTO suppression_events (key, email, domain, class, reason, code, enhanced,
	diagnostic, provider, blocklist, signal, source, kind, soft, occurred_at, received_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`
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

type sqliteStore struct {
	db *sql.DB
	// Prepared once: the hot paths are Lookup (every verification) and
	// Ingest (every webhook).
	insertEvent, softCountQ, softTimesQ, entryQ, putEntryQ *sql.Stmt
}

func newSQLite(ctx context.Context, db *sql.DB) (*sqliteStore, error) {
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		return nil, fmt.Errorf("suppression: create tables: %w", err)
	}
	s := &sqliteStore{db: db}
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
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("suppression: prepare: %w", err)
		}
		*p.dst = st
	}
	return s, nil
}

func (s *sqliteStore) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.insertEvent, s.softCountQ, s.softTimesQ, s.entryQ, s.putEntryQ} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

func (s *sqliteStore) write(ctx context.Context, fn func(tx writer) error) error {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: store.Open sets _txlock
	if err != nil {
		return err
	}
	if err := fn(&sqliteTx{s: s, tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

type sqliteTx struct {
	s  *sqliteStore
	tx *sql.Tx
}

func (t *sqliteTx) addEvent(ctx context.Context, r *eventRow) (bool, error) {
	res, err := t.tx.StmtContext(ctx, t.s.insertEvent).ExecContext(ctx,
		r.key, r.email, r.domain, string(r.d.Class), string(r.d.Reason), r.d.Code, r.d.Enhanced,
		r.diag, r.provider, r.d.Blocklist, r.signal, r.source, r.kind, boolInt(r.soft),
		r.occurred.UnixMilli(), r.received.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("insert event: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	r.id, err = res.LastInsertId()
	return true, err
}

func (t *sqliteTx) softCount(ctx context.Context, email string) (int, error) {
	var n int
	err := t.tx.StmtContext(ctx, t.s.softCountQ).QueryRowContext(ctx, email).Scan(&n)
	return n, err
}

func (t *sqliteTx) softTimes(ctx context.Context, email string, from, to time.Time) ([]time.Time, error) {
	rows, err := t.tx.StmtContext(ctx, t.s.softTimesQ).QueryContext(ctx, email, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var ms int64
		if err := rows.Scan(&ms); err != nil {
			return nil, err
		}
		out = append(out, time.UnixMilli(ms).UTC())
	}
	return out, rows.Err()
}

func (t *sqliteTx) entry(ctx context.Context, email string) (Entry, bool, error) {
	return scanEntry(t.tx.StmtContext(ctx, t.s.entryQ).QueryRowContext(ctx, email))
}

func (t *sqliteTx) putEntry(ctx context.Context, e Entry, eventID int64) error {
	_, err := t.tx.StmtContext(ctx, t.s.putEntryQ).ExecContext(ctx,
		e.Email, string(e.Reason), string(e.Class), e.Code, e.Enhanced, e.Diagnostic, e.Explanation, e.Source,
		e.FirstEventAt.UnixMilli(), e.LastEventAt.UnixMilli(), e.SuppressedAt.UnixMilli(), e.SoftCount, eventID)
	if err != nil {
		return fmt.Errorf("put suppression: %w", err)
	}
	return nil
}

func (s *sqliteStore) lookup(ctx context.Context, email string) (Entry, bool, error) {
	return scanEntry(s.entryQ.QueryRowContext(ctx, email))
}

func (s *sqliteStore) remove(ctx context.Context, email, reason string, at time.Time) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	e, ok, err := scanEntry(tx.StmtContext(ctx, s.entryQ).QueryRowContext(ctx, email))
	if err != nil || !ok {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE email = ?`, email); err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO suppression_removals
		(email, removed_at, reason, previous_reason, previous_class, suppressed_at, event_cutoff)
		VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM suppression_events))`,
		email, at.UnixMilli(), reason, string(e.Reason), string(e.Class), e.SuppressedAt.UnixMilli())
	if err != nil {
		return false, err
	}
	return true, tx.Commit()
}

func (s *sqliteStore) each(ctx context.Context, fn func(Entry) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM suppressions ORDER BY email`)
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

func (s *sqliteStore) tally(ctx context.Context, from, to time.Time) ([]tally, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT class, reason, provider, signal, COUNT(*), MAX(occurred_at)
		FROM suppression_events WHERE occurred_at BETWEEN ? AND ?
		GROUP BY class, reason, provider, signal`, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tally
	for rows.Next() {
		var t tally
		var class string
		var last int64
		if err := rows.Scan(&class, &t.reason, &t.provider, &t.signal, &t.count, &last); err != nil {
			return nil, err
		}
		t.class, t.last = reply.Class(class), time.UnixMilli(last).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *sqliteStore) suppressedIn(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM suppressions WHERE suppressed_at BETWEEN ? AND ?`,
		from.UnixMilli(), to.UnixMilli()).Scan(&n)
	return n, err
}

// scanEntry reads entryColumns; a missing row is (Entry{}, false, nil).
func scanEntry(sc interface{ Scan(...any) error }) (Entry, bool, error) {
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

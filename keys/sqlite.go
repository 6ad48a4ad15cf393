package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// storage is what the keys need from a database; SQLite implements it
// first, PostgreSQL (the scale-out store) the same methods.
type storage interface {
	insert(ctx context.Context, r record) error
	byID(ctx context.Context, id string) (record, error) // ErrNotFound when missing
	all(ctx context.Context) ([]record, error)
	revoke(ctx context.Context, id string, at time.Time) error // ErrNotFound when missing
	calls(ctx context.Context, id, day string) (int64, error)
	addUsage(ctx context.Context, batch map[ukey]int64) error
	usage(ctx context.Context, id, fromDay string) ([]usageRow, error) // newest day first
}

type usageRow struct {
	day, verdict string
	n            int64
}

// The digest is SHA-256 of the whole token; times are Unix milliseconds,
// revoked_at 0 while the key is active. Usage counts calls under verdict
// ” and results under their verdict, per UTC day (YYYY-MM-DD).
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS api_keys (
	id          TEXT    PRIMARY KEY,
	name        TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	test        INTEGER NOT NULL,
	digest      BLOB    NOT NULL,
	origins     TEXT    NOT NULL DEFAULT '',
	daily_quota INTEGER NOT NULL DEFAULT 0,
	rate        REAL    NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_key_usage (
	key_id  TEXT    NOT NULL,
	day     TEXT    NOT NULL,
	verdict TEXT    NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (key_id, day, verdict)
) WITHOUT ROWID;
`

type sqliteStorage struct{ db *sql.DB }

func newSQLite(ctx context.Context, db *sql.DB) (*sqliteStorage, error) {
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		return nil, fmt.Errorf("keys: create tables: %w", err)
	}
	return &sqliteStorage{db: db}, nil
}

func (s *sqliteStorage) insert(ctx context.Context, r record) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (id, name, kind, test, digest, origins, daily_quota, rate, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Name, string(r.Kind), r.Test, r.digest, strings.Join(r.Origins, " "), r.DailyQuota, r.Rate, r.CreatedAt.UnixMilli())
	return err
}

const columns = `id, name, kind, test, digest, origins, daily_quota, rate, created_at, revoked_at`

func scan(sc interface{ Scan(...any) error }) (record, error) {
	var r record
	var kind, origins string
	var created, revoked int64
	if err := sc.Scan(&r.ID, &r.Name, &kind, &r.Test, &r.digest, &origins, &r.DailyQuota, &r.Rate, &created, &revoked); err != nil {
		return record{}, err
	}
	r.Kind = Kind(kind)
	r.Origins = strings.Fields(origins)
	r.CreatedAt = time.UnixMilli(created).UTC()
	if revoked != 0 {
		t := time.UnixMilli(revoked).UTC()
		r.RevokedAt = &t
	}
	return r, nil
}

func (s *sqliteStorage) byID(ctx context.Context, id string) (record, error) {
	r, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return record{}, ErrNotFound
	}
	return r, err
}

func (s *sqliteStorage) all(ctx context.Context) ([]record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqliteStorage) revoke(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, at.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("keys: revoke: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Revoking twice is fine; an id that never existed is not.
		if _, err := s.byID(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteStorage) calls(ctx context.Context, id, day string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM api_key_usage WHERE key_id = ? AND day = ? AND verdict = ''`, id, day).Scan(&n)
	return n, err
}

func (s *sqliteStorage) addUsage(ctx context.Context, batch map[ukey]int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_key_usage (key_id, day, verdict, n) VALUES (?, ?, ?, ?)
		ON CONFLICT (key_id, day, verdict) DO UPDATE SET n = n + excluded.n`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for k, n := range batch {
		if _, err := stmt.ExecContext(ctx, k.id, k.day, k.verdict, n); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStorage) usage(ctx context.Context, id, fromDay string) ([]usageRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT day, verdict, n FROM api_key_usage WHERE key_id = ? AND day >= ? ORDER BY day DESC, verdict`, id, fromDay)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []usageRow
	for rows.Next() {
		var r usageRow
		if err := rows.Scan(&r.day, &r.verdict, &r.n); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

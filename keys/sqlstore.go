package keys

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

	"github.com/preflight-email/preflight/store"
)

// storage is what the keys need from a database (sqlStorage, on either
// engine).
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

// sqlStorage keeps the keys in the store's tables (store/migrations):
// one SQL text serves SQLite and PostgreSQL, rebound for the dialect.
// Times are Unix milliseconds, revoked_at 0 while the key is active.
type sqlStorage struct {
	db *sql.DB
	q  func(string) string // store.Rebind for the dialect
}

func newSQL(db *store.DB) (*sqlStorage, error) {
	switch db.Dialect {
	case store.SQLite, store.Postgres:
		return &sqlStorage{db: db.DB, q: db.Rebind}, nil
	}
	return nil, fmt.Errorf("keys: %w: %s", store.ErrUnsupported, db.Dialect)
}

func (s *sqlStorage) insert(ctx context.Context, r record) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO api_keys (id, name, kind, test, digest, origins, daily_quota, rate, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.Name, string(r.Kind), r.Test, r.digest, strings.Join(r.Origins, " "), r.DailyQuota, r.Rate, r.CreatedAt.UnixMilli())
	return err
}

const columns = `id, name, kind, test, digest, origins, daily_quota, rate, created_at, revoked_at`

func scan(sc store.Scanner) (record, error) {
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

func (s *sqlStorage) byID(ctx context.Context, id string) (record, error) {
	r, err := scan(s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM api_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return record{}, ErrNotFound
	}
	return r, err
}

func (s *sqlStorage) all(ctx context.Context) ([]record, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+columns+` FROM api_keys ORDER BY created_at, id`))
	return store.Collect(rows, err, scan)
}

func (s *sqlStorage) revoke(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`), at.UnixMilli(), id)
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

func (s *sqlStorage) calls(ctx context.Context, id, day string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(n), 0) FROM api_key_usage WHERE key_id = ? AND day = ? AND verdict = ''`), id, day).Scan(&n)
	return n, err
}

func (s *sqlStorage) addUsage(ctx context.Context, batch map[ukey]int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO api_key_usage (key_id, day, verdict, n) VALUES (?, ?, ?, ?)
		ON CONFLICT (key_id, day, verdict) DO UPDATE SET n = api_key_usage.n + excluded.n`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	// In one order, so that two instances flushing the same counters wait
	// for each other's row locks instead of deadlocking (PostgreSQL).
	ks := slices.SortedFunc(maps.Keys(batch), func(a, b ukey) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.day, b.day), cmp.Compare(a.verdict, b.verdict))
	})
	for _, k := range ks {
		if _, err := stmt.ExecContext(ctx, k.id, k.day, k.verdict, batch[k]); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqlStorage) usage(ctx context.Context, id, fromDay string) ([]usageRow, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT day, verdict, n FROM api_key_usage WHERE key_id = ? AND day >= ? ORDER BY day DESC, verdict`), id, fromDay)
	return store.Collect(rows, err, func(sc store.Scanner) (r usageRow, err error) {
		err = sc.Scan(&r.day, &r.verdict, &r.n)
		return r, err
	})
}

package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/preflight-email/preflight/internal/redact"
)

// openPostgres opens a pgx pool and a database/sql handle over it, so
// that the feature packages keep one database/sql code path for both
// engines. Errors name the URL with its password masked: they end up in
// logs and on the terminal.
func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	where := redact.URL(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx quotes the connection string in some parse errors.
		return nil, fmt.Errorf("store.url %s: %s", where, redact.Text(err.Error()))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", where, redactErr(err))
	}
	return &DB{DB: stdlib.OpenDBFromPool(pool), Dialect: Postgres, Pool: pool}, nil
}

// redactErr masks URLs in err's text and keeps the error for errors.Is
// and errors.As.
func redactErr(err error) error {
	if msg := redact.Text(err.Error()); msg != err.Error() {
		return &redacted{msg: msg, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the schema, one folder per dialect. Both folders keep
// the same versions, so a version names one schema on either engine.
//
//go:embed migrations
var migrations embed.FS

// versionTable records the applied migrations (goose's table, under a
// name of ours). River keeps its own tables and runs its own migrator.
const versionTable = "preflight_schema_version"

// ErrSchemaNewer means the database was migrated by a newer release: this
// binary would not know its tables.
var ErrSchemaNewer = errors.New("store schema is newer than this binary")

// migrate brings db's schema to this binary's newest version.
//
// Two instances starting at once are safe. On PostgreSQL goose holds a
// session-level advisory lock while it reads and migrates, so the second
// instance waits, then finds the work done. On SQLite the migrations run in
// BEGIN IMMEDIATE transactions (the DSN's _txlock), which serialise
// writers; goose retries creating its version table if another process
// made it first, and the first migration says IF NOT EXISTS throughout.
func migrate(ctx context.Context, db *DB) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	if db.Dialect == SQLite {
		if err := adoptSQLite(ctx, db); err != nil {
			return err
		}
	}
	// GetDBVersion runs under the same lock as Up and creates the version
	// table when missing.
	have, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if known := latest(p); have > known {
		return fmt.Errorf("%w: store schema is at version %d, newer than this binary's %d; upgrade preflight", ErrSchemaNewer, have, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate schema: %w", err)
	}
	return nil
}

// provider returns a goose provider for db's dialect and migrations.
func provider(db *DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithTableName(versionTable), goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Retried every second for up to five minutes: the other instance
		// migrating holds the lock for as long as its migrations run.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.DB, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

// latest is the newest version p knows.
func latest(p *goose.Provider) int64 {
	src := p.ListSources()
	if len(src) == 0 {
		return 0
	}
	return src[len(src)-1].Version
}

// adoptSQLite prepares a file made before versioned migrations (no version
// table yet) for the first one: the releases before it added columns with
// ALTER TABLE as they came, and the first migration's
// CREATE TABLE IF NOT EXISTS leaves existing tables as they are. Jobs of
// such files keep lane 0, the old (domain, key) order, and belong to no
// key. It runs in one write transaction (BEGIN IMMEDIATE), so a second
// process adopting the same file waits and then finds the columns there.
func adoptSQLite(ctx context.Context, db *DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: adopt schema: %w", err)
	}
	defer tx.Rollback()
	var versioned int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, versionTable).Scan(&versioned); err != nil {
		return fmt.Errorf("store: read schema: %w", err)
	}
	if versioned > 0 {
		return nil
	}
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
		// A table that does not exist yet has no columns: the migration
		// creates it whole.
		var tables, cols int
		if err := tx.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1),
			(SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2)`, c.table, c.column).Scan(&tables, &cols); err != nil {
			return fmt.Errorf("store: read schema: %w", err)
		}
		if tables == 0 || cols > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+c.table+` ADD COLUMN `+c.column+` `+c.def); err != nil {
			return fmt.Errorf("store: add column %s.%s: %w", c.table, c.column, err)
		}
	}
	return tx.Commit()
}

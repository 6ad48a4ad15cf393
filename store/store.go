// Package store opens Preflight's database from store.url and brings its
// schema to this binary's version. The embedded default is a SQLite file
// through modernc.org/sqlite (pure Go, no cgo), so nothing needs
// installing; PostgreSQL through pgx is the scale-out option (docs/design.md
// "Storage and scale"). The schema lives in versioned migrations here
// (migrations/<dialect>/); feature packages (jobs, suppression, keys) own
// their queries and receive the *DB.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names the SQL flavour behind a DB.
type Dialect string

// The dialects: SQLite is the embedded default, PostgreSQL the store a
// fleet of instances shares.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrUnsupported is returned for a store.url whose scheme has no driver in
// this build.
var ErrUnsupported = errors.New("unsupported store")

// DB is an open database and its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Pool is the pgx pool under DB on PostgreSQL (nil on SQLite), for
	// what wants pgx itself, such as River's riverpgxv5 driver.
	Pool *pgxpool.Pool
}

// Close closes the database and, on PostgreSQL, its pool.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.Pool != nil {
		db.Pool.Close()
	}
	return err
}

// Rebind rewrites q, written with SQLite's placeholders (? and ?N), for
// the DB's dialect; see Rebind.
func (db *DB) Rebind(q string) string { return Rebind(db.Dialect, q) }

// Open opens and pings the database named by rawURL, sqlite://PATH (a
// relative or absolute file path; sqlite://:memory: for tests) or
// postgres://… (postgresql://…, any libpq URL pgx reads), and migrates its
// schema to this binary's version. It refuses a schema newer than that
// (ErrSchemaNewer).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	db, err := open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// open opens the database without touching its schema.
func open(ctx context.Context, rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store.url: %w", err)
	}
	switch u.Scheme {
	case "sqlite":
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if path == "" {
			return nil, fmt.Errorf("store.url %q: missing file path", rawURL)
		}
		if path != ":memory:" {
			if err := private(path); err != nil {
				return nil, err
			}
		}
		// WAL lets readers (exports, progress) run beside the one writer;
		// synchronous=FULL makes every commit survive a crash or power cut;
		// busy_timeout waits for the writer instead of failing at once.
		// auto_vacuum=INCREMENTAL (set before any table exists) lets
		// deletions give space back with PRAGMA incremental_vacuum.
		dsn := "file:" + path + "?_pragma=auto_vacuum(INCREMENTAL)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		if path == ":memory:" {
			db.SetMaxOpenConns(1) // every connection would get its own memory database
		} else {
			// Opening a connection runs the pragmas above; with the
			// default of 2 idle connections, hundreds of concurrent
			// lookups (a bulk job's suppression checks) would open and
			// close connections all the time. SQLite has one writer, so a
			// small pool kept open serves best.
			db.SetMaxOpenConns(sqlitePool)
			db.SetMaxIdleConns(sqlitePool)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		if err := incremental(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		return &DB{DB: db, Dialect: SQLite}, nil
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, u.Scheme)
	}
}

// sqlitePool is how many connections an SQLite store keeps open.
const sqlitePool = 16

// private creates the database file readable by the service's user only,
// or narrows an existing one to that: it holds addresses, which are
// personal data. SQLite gives its -wal and -shm files the database file's
// permissions.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return nil
}

// incremental switches a database made before auto_vacuum was set to
// incremental auto-vacuum. That takes one full VACUUM, once.
func incremental(ctx context.Context, db *sql.DB) error {
	var mode int
	if err := db.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return err
	}
	if mode == 2 { // INCREMENTAL
		return nil
	}
	if _, err := db.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, "VACUUM")
	return err
}

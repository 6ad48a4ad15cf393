// Package storetest gives tests a fresh, migrated store on every engine,
// so that one table of storage tests runs against SQLite and PostgreSQL
// alike:
//
//	storetest.Run(t, func(t *testing.T, db *store.DB) { … })
//
// SQLite is a file in the test's temporary directory. PostgreSQL is the
// server named by PREFLIGHT_TEST_POSTGRES_URL; each test gets a schema of
// its own there, dropped when it ends. Without the variable the PostgreSQL
// runs are skipped; with it set, an unreachable server fails the test.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/preflight-email/preflight/internal/redact"
	"github.com/preflight-email/preflight/store"
)

// EnvPostgres names the environment variable with the PostgreSQL server
// of the tests.
const EnvPostgres = "PREFLIGHT_TEST_POSTGRES_URL"

// Engines are the engines every storage test runs against.
func Engines() []store.Dialect { return []store.Dialect{store.SQLite, store.Postgres} }

// Run runs fn as one subtest per engine, named after it, each with a
// fresh store.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	Each(t, func(t *testing.T, e store.Dialect) { fn(t, Open(t, e)) })
}

// Each runs fn as one subtest per engine, for tests that open stores
// themselves (Open, URL): several, or one reopened.
func Each(t *testing.T, fn func(t *testing.T, engine store.Dialect)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

// Open opens a fresh, migrated store on engine, closed when the test
// ends.
func Open(t testing.TB, engine store.Dialect) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), URL(t, engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// URL returns the store.url of an empty database on engine, reserved for
// the test: a SQLite file, or a PostgreSQL schema of its own (the URL sets
// search_path). Opening it more than once reopens the same database, as a
// restarted process would.
func URL(t testing.TB, engine store.Dialect) string {
	t.Helper()
	switch engine {
	case store.SQLite:
		return "sqlite://" + filepath.Join(t.TempDir(), "preflight.db")
	case store.Postgres:
		return postgresSchema(t)
	}
	t.Fatalf("storetest: unknown engine %q", engine)
	return ""
}

// postgresSchema creates a schema for the test and returns the URL that
// works in it.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("%s is not set; skipping the PostgreSQL run (set it to e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("%s=%s: %s", EnvPostgres, redact.URL(base), redact.Text(err.Error()))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema) // pgx passes unknown parameters on as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}

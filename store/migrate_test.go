package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// tables are the tables the migrations make; River's are not among them.
var tables = []string{"jobs", "job_rows", "job_addresses", "job_counts",
	"suppression_events", "suppressions", "suppression_removals", "api_keys", "api_key_usage"}

func version(t *testing.T, db *store.DB) (version, rows int64) {
	t.Helper()
	err := db.QueryRowContext(context.Background(),
		`SELECT max(version_id), count(*) FROM preflight_schema_version WHERE version_id > 0`).Scan(&version, &rows)
	if err != nil {
		t.Fatal(err)
	}
	return version, rows
}

func TestMigrateFresh(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for _, table := range tables {
			var n int64
			if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s: %d rows, %v; want an empty table", table, n, err)
			}
		}
		if v, n := version(t, db); v != 1 || n != 1 {
			t.Errorf("schema version %d (%d migrations applied), want 1 (1)", v, n)
		}
	})
}

// TestAdoptSQLiteFile: a file made before versioned migrations, by the
// last such release or an older one, keeps its data and gets the columns
// added since. The last release's tables are the first migration's (copied
// from the packages' CREATE statements, all IF NOT EXISTS); older.sql turns
// them into an older release's.
func TestAdoptSQLiteFile(t *testing.T) {
	initial, err := os.ReadFile("migrations/sqlite/00001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, release, _ := strings.Cut(string(initial), "-- +goose Up")
	for _, c := range []struct {
		name, change, want string
	}{
		{"last release", "UPDATE jobs SET owner = 'key_1'; UPDATE job_addresses SET lane = 3;", "job_old key_1 2 3 b@example.com secret"},
		{"older release", readFile(t, "testdata/older.sql"), "job_old  2 0 b@example.com secret"}, // the added columns' defaults
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "preflight.db")
			old, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{release, readFile(t, "testdata/data.sql"), c.change} {
				if _, err := old.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			old.Close()

			db, err := store.Open(ctx, "sqlite://"+path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if v, _ := version(t, db); v != 1 {
				t.Errorf("schema version %d, want 1", v)
			}
			var id, owner, email, kind string
			var rows, lane int64
			err = db.QueryRowContext(ctx, `SELECT j.id, j.owner, (SELECT count(*) FROM job_rows), a.lane, s.email, k.kind
				FROM jobs j, job_addresses a, suppressions s, api_keys k`).Scan(&id, &owner, &rows, &lane, &email, &kind)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%s %s %d %d %s %s", id, owner, rows, lane, email, kind); got != c.want {
				t.Errorf("after adoption: %q, want %q", got, c.want)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRefuseNewerSchema(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, engine)
			db, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = db.ExecContext(ctx, `INSERT INTO preflight_schema_version (version_id, is_applied) VALUES (99, true)`)
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			db, err = store.Open(ctx, url)
			if err == nil {
				db.Close()
				t.Fatal("opened a store migrated by a newer release")
			}
			want := "store schema is at version 99, newer than this binary's 1; upgrade preflight"
			if !errors.Is(err, store.ErrSchemaNewer) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want ErrSchemaNewer saying %q", err, want)
			}
		})
	}
}

// TestConcurrentOpenPostgres: two instances starting at once on a fresh
// database both start, and the schema is migrated once.
func TestConcurrentOpenPostgres(t *testing.T) {
	url := storetest.URL(t, store.Postgres)
	dbs := make([]*store.DB, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = store.Open(context.Background(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	if v, n := version(t, dbs[0]); v != 1 || n != 1 {
		t.Errorf("schema version %d, applied %d times; want 1, once", v, n)
	}
}

// TestPostgresErrorsHideThePassword: a failed connection names the
// server, never the password of store.url.
func TestPostgresErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{
		"postgres://preflight:s3cret-pw@127.0.0.1:1/preflight?sslmode=disable&connect_timeout=2",
		"postgresql://preflight:s3cret-pw@127.0.0.1:1/preflight?sslmode=bogus",
	} {
		db, err := store.Open(ctx, url)
		if err == nil {
			db.Close()
			t.Fatalf("%s: opened", url)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

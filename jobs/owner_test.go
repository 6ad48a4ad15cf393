package jobs

import (
	"context"
	"strings"
	"testing"
)

// A job records the key that made it, and a database made before jobs had
// owners gains the column on open.
func TestOwner(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE jobs (pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
		created_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0, finished_at INTEGER NOT NULL DEFAULT 0,
		delimiter INTEGER NOT NULL, bom INTEGER NOT NULL, has_header INTEGER NOT NULL, header BLOB, email_column INTEGER NOT NULL,
		width INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0, addresses INTEGER NOT NULL DEFAULT 0,
		settled INTEGER NOT NULL DEFAULT 0, callback_url TEXT NOT NULL DEFAULT '', webhook TEXT NOT NULL DEFAULT '',
		error TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '')`); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, db, Config{}, newRuleVerifier())
	st, err := m.Create(ctx, strings.NewReader("email\nanna@shop.test\n"), CreateOptions{Owner: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Status(ctx, st.ID)
	if err != nil || got.Owner != "k1" {
		t.Fatalf("Status = %+v, %v; want owner k1", got, err)
	}
}

package store

import (
	"fmt"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`UPDATE t SET a = ?1 WHERE b = ?2 OR c = ?1`, `UPDATE t SET a = $1 WHERE b = $2 OR c = $1`},
		{`SELECT '?', "a?" FROM t WHERE x = ?`, `SELECT '?', "a?" FROM t WHERE x = $1`},
		{`SELECT 'it''s ?' WHERE x = ?`, `SELECT 'it''s ?' WHERE x = $1`},
		{`WHERE a IN (?5, ?6) AND b = ?12`, `WHERE a IN ($5, $6) AND b = $12`},
	} {
		if got := Rebind(Postgres, c.in); got != c.want {
			t.Errorf("Rebind(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Rebind(SQLite, c.in); got != c.in {
			t.Errorf("SQLite: Rebind(%q) = %q, want it unchanged", c.in, got)
		}
	}
}

func ExampleRebind() {
	q := `UPDATE jobs SET state = ? WHERE pk = ? AND state IN (?, ?)`
	fmt.Println(Rebind(SQLite, q))
	fmt.Println(Rebind(Postgres, q))
	// Output:
	// UPDATE jobs SET state = ? WHERE pk = ? AND state IN (?, ?)
	// UPDATE jobs SET state = $1 WHERE pk = $2 AND state IN ($3, $4)
}

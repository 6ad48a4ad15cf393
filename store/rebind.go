package store

import (
	"strconv"
	"strings"
)

// Rebind rewrites q, written with SQLite's placeholders, for dialect d, so
// that one SQL text serves both engines where the SQL is otherwise the
// same. On SQLite it returns q. On PostgreSQL each bare ? becomes the next
// $n, and a numbered ?N becomes $N (so a parameter used twice stays one
// argument). Question marks inside quoted literals and identifiers are
// left alone. Don't mix bare and numbered placeholders in one query: as
// in SQLite, a bare ? after ?N would take N+1.
func Rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte // the open quote, or 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j > i+1 {
				k, _ := strconv.Atoi(q[i+1 : j])
				n = max(n, k)
				b.WriteByte('$')
				b.WriteString(q[i+1 : j])
			} else {
				n++
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
			}
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

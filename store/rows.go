package store

import "database/sql"

// Scanner is a row to scan: *sql.Rows or *sql.Row.
type Scanner interface{ Scan(dest ...any) error }

// Collect reads every row of a query with scan and closes rows, as
// pgx.CollectRows does for pgx: the loop each list query of the feature
// packages would otherwise write again. err is the query's own, passed on.
func Collect[T any](rows *sql.Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

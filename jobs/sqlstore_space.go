package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/store"
)

// deleteBatch bounds the rows one delete transaction removes.
const deleteBatch = 20000

func (s *sqlStorage) deleteJob(ctx context.Context, pk int64) error {
	for _, q := range []string{
		`DELETE FROM job_rows WHERE id IN (SELECT id FROM job_rows WHERE job = ? LIMIT ` + fmt.Sprint(deleteBatch) + `)`,
		`DELETE FROM job_addresses WHERE id IN (SELECT id FROM job_addresses WHERE job = ? LIMIT ` + fmt.Sprint(deleteBatch) + `)`,
	} {
		for {
			res, err := s.db.ExecContext(ctx, s.q(q), pk)
			if err != nil {
				return fmt.Errorf("jobs: delete job data: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				break
			}
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM job_counts WHERE job = ?`), pk); err != nil {
			return fmt.Errorf("jobs: delete job counts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM jobs WHERE pk = ?`), pk); err != nil {
			return fmt.Errorf("jobs: delete job: %w", err)
		}
		return nil
	})
}

func (s *sqlStorage) storedRows(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT coalesce(sum(total), 0) FROM jobs`)).Scan(&n); err != nil {
		return 0, fmt.Errorf("jobs: count stored rows: %w", err)
	}
	return n, nil
}

func (s *sqlStorage) finishedBefore(ctx context.Context, t time.Time) ([]jobRecord, error) {
	return s.jobList(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE state IN (?, ?) AND finished_at > 0 AND finished_at < ? ORDER BY pk`, string(Done), string(Failed), ms(t))
}

// reclaim gives freed space back. On SQLite it runs an incremental
// vacuum: the store opens databases with auto_vacuum=INCREMENTAL, so the
// pages that deletions freed go back to the file system here, without
// rewriting the whole file as VACUUM would. On PostgreSQL it does nothing:
// autovacuum makes the deleted rows' space reusable for the next jobs, and
// shrinking the files would take VACUUM FULL, which locks the tables
// against every instance while it rewrites them.
func (s *sqlStorage) reclaim(ctx context.Context) error {
	if s.dialect != store.SQLite {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return fmt.Errorf("jobs: reclaim space: %w", err)
	}
	return nil
}

func (s *sqlStorage) settleWaiting(ctx context.Context, pk int64) (int64, error) {
	var ts tallies
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The addresses this UPDATE settles come back to be counted: one
		// that another instance settled meanwhile is not among them, so
		// each counts once.
		rows, err := tx.QueryContext(ctx, s.q(`UPDATE job_addresses SET state = 2 WHERE job = ? AND state = 1
			RETURNING verdict, reason, rows, risk`), pk)
		if err != nil {
			return fmt.Errorf("jobs: settle waiting answers: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v, r string
			var n, risk int64
			if err := rows.Scan(&v, &r, &n, &risk); err != nil {
				return fmt.Errorf("jobs: settle waiting answers: %w", err)
			}
			ts.add(outcome.Verdict(v), outcome.Reason(r), n, risk)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("jobs: settle waiting answers: %w", err)
		}
		rows.Close()
		return s.count(ctx, tx, pk, ts)
	})
	if err != nil {
		return 0, err
	}
	return ts.settled, nil
}

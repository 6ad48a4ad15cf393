package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// deleteBatch bounds the rows one delete transaction removes.
const deleteBatch = 20000

func (s *sqliteStorage) deleteJob(ctx context.Context, pk int64) error {
	for _, q := range []string{
		`DELETE FROM job_rows WHERE id IN (SELECT id FROM job_rows WHERE job = ? LIMIT ` + fmt.Sprint(deleteBatch) + `)`,
		`DELETE FROM job_addresses WHERE id IN (SELECT id FROM job_addresses WHERE job = ? LIMIT ` + fmt.Sprint(deleteBatch) + `)`,
	} {
		for {
			res, err := s.db.ExecContext(ctx, q, pk)
			if err != nil {
				return fmt.Errorf("jobs: delete job data: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				break
			}
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM job_counts WHERE job = ?`, pk); err != nil {
			return fmt.Errorf("jobs: delete job counts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE pk = ?`, pk); err != nil {
			return fmt.Errorf("jobs: delete job: %w", err)
		}
		return nil
	})
}

func (s *sqliteStorage) storedRows(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(total), 0) FROM jobs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("jobs: count stored rows: %w", err)
	}
	return n, nil
}

func (s *sqliteStorage) finishedBefore(ctx context.Context, t time.Time) ([]jobRecord, error) {
	return s.jobList(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE state IN (?, ?) AND finished_at > 0 AND finished_at < ? ORDER BY pk`, string(Done), string(Failed), ms(t))
}

// reclaim runs an incremental vacuum: the store opens databases with
// auto_vacuum=INCREMENTAL, so the pages that deletions freed go back to the
// file system here, without rewriting the whole file as VACUUM would.
func (s *sqliteStorage) reclaim(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return fmt.Errorf("jobs: reclaim space: %w", err)
	}
	return nil
}

func (s *sqliteStorage) settleWaiting(ctx context.Context, pk int64) (int64, error) {
	var settled int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Tally first, from the rows about to change.
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_counts (job, verdict, reason, rows, risk)
			SELECT job, verdict, reason, sum(rows), sum(rows * risk) FROM job_addresses
			WHERE job = ? AND state = 1 GROUP BY verdict, reason
			ON CONFLICT (job, verdict, reason) DO UPDATE SET rows = rows + excluded.rows, risk = risk + excluded.risk`, pk); err != nil {
			return fmt.Errorf("jobs: count waiting answers: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE job_addresses SET state = 2 WHERE job = ? AND state = 1`, pk)
		if err != nil {
			return fmt.Errorf("jobs: settle waiting answers: %w", err)
		}
		settled, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET settled = settled + ? WHERE pk = ?`, settled, pk); err != nil {
			return fmt.Errorf("jobs: save progress: %w", err)
		}
		return nil
	})
	return settled, err
}

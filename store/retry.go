package store

import (
	"context"
	"sync/atomic"
	"time"
)

// Contention counts what Retry saw, process-wide, for /metrics: a retried
// store operation is a sign of contention; a failed one lost its work to
// the caller's error handling, never silently.
var contention struct {
	retries, failures atomic.Uint64
}

// ContentionStats returns the operations Retry tried again and the ones
// that still failed.
func ContentionStats() (retries, failures uint64) {
	return contention.retries.Load(), contention.failures.Load()
}

// Retry runs fn up to attempts times, waiting wait before the second try
// and twice as long before each next one (at most 2 s), while ctx lasts.
// It returns fn's last error. Writers busy for longer than SQLite's own
// busy_timeout, or a brief I/O error, then cost a delay, not the work.
func Retry(ctx context.Context, attempts int, wait time.Duration, fn func() error) error {
	var err error
	for i := range max(attempts, 1) {
		if i > 0 {
			contention.retries.Add(1)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				contention.failures.Add(1)
				return err
			}
			wait = min(2*wait, 2*time.Second)
		}
		if err = fn(); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		contention.failures.Add(1)
	}
	return err
}

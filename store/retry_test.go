package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetry(t *testing.T) {
	r0, f0 := ContentionStats()
	n := 0
	err := Retry(context.Background(), 3, time.Millisecond, func() error {
		n++
		if n < 3 {
			return errors.New("database is locked")
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("err %v after %d calls, want success on the third", err, n)
	}
	boom := errors.New("disk I/O error")
	if err := Retry(context.Background(), 2, time.Millisecond, func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want the last error", err)
	}
	r1, f1 := ContentionStats()
	if r1-r0 != 3 || f1-f0 != 1 {
		t.Errorf("retries +%d, failures +%d; want +3, +1", r1-r0, f1-f0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	Retry(ctx, 5, time.Second, func() error { calls++; return boom })
	if calls != 1 {
		t.Errorf("%d calls under a canceled context, want 1", calls)
	}
}

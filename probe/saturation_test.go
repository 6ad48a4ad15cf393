package probe_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/probe"
)

// TestQueueCap: a host that never answers (a tarpit) holds at most
// MaxQueuePerHost recipients; the next caller gets ErrSaturated at once
// instead of joining an endless queue.
func TestQueueCap(t *testing.T) {
	port, lns := smtptest.Listen(t, "127.0.0.16")
	smtptest.ServeRaw(t, lns[0], smtptest.RawOptions{Behavior: smtptest.Tarpit})
	cfg := testConfig(port)
	cfg.BannerTimeout = 30 * time.Second
	cfg.MaxQueuePerHost = 5
	e := newEngine(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			_, err := e.Check(ctx, request(fmt.Sprintf("user%d@tarpit.test", i), target("mx.tarpit.test", "127.0.0.16")))
			errs <- err
		})
	}
	// Wait until the queue is full and somebody was turned away; the
	// deadline only keeps a broken test from hanging.
	deadline := time.Now().Add(10 * time.Second)
	for st := e.Stats(); (st.Saturated == 0 || st.Queued < cfg.MaxQueuePerHost) && time.Now().Before(deadline); st = e.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	st := e.Stats()
	if st.Queued > cfg.MaxQueuePerHost {
		t.Errorf("%d recipients queued, cap %d", st.Queued, cfg.MaxQueuePerHost)
	}
	if st.Saturated == 0 {
		t.Fatalf("nobody was turned away: %+v", st)
	}
	cancel()
	wg.Wait()
	close(errs)
	saturated := 0
	for err := range errs {
		if errors.Is(err, probe.ErrSaturated) {
			saturated++
		}
	}
	if uint64(saturated) != st.Saturated {
		t.Errorf("%d callers got ErrSaturated, Stats says %d", saturated, st.Saturated)
	}
}

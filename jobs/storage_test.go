package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/store"
)

// storageAt opens the storage of the store at url, as one instance does;
// two of them on one url are two instances sharing a database.
func storageAt(t *testing.T, url string) storage {
	t.Helper()
	st, err := newSQL(reopenDB(t, url))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// uploadJob stores a queued job of one row per key (keys may repeat).
func uploadJob(t *testing.T, st storage, id string, keys ...string) int64 {
	t.Helper()
	ctx := context.Background()
	j := jobRecord{id: id, created: time.Now(), delimiter: ',', hasHeader: true, header: []string{"email"}}
	if err := st.createJob(ctx, &j); err != nil {
		t.Fatal(err)
	}
	var rows []row
	for i, k := range keys {
		_, domain, _ := strings.Cut(k, "@")
		rows = append(rows, row{line: i + 2, key: k, domain: domain, fields: []string{k}})
	}
	// Two batches, so duplicates meet within one batch and across batches.
	half := len(rows) / 2
	for _, b := range [][]row{rows[:half], rows[half:]} {
		if err := st.appendRows(ctx, j.pk, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.commitJob(ctx, j.pk, int64(len(rows)), 1); err != nil {
		t.Fatal(err)
	}
	return j.pk
}

func settledAnswers(keys []string) []answer {
	var out []answer
	for _, k := range keys {
		out = append(out, answer{key: k, tries: 1, settled: true, verdict: outcome.Verdict("deliverable"),
			risk: 5, reason: outcome.Reason("accepted"), result: []byte(`{"email":"` + k + `"}`)})
	}
	return out
}

// progress reads a job's settled addresses and its tallied rows and risk.
func progress(t *testing.T, st storage, id string) (settled, rows, risk int64) {
	t.Helper()
	j, ts, err := st.job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		rows += x.Rows
		risk += x.Risk
	}
	return j.settled, rows, risk
}

func keysN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user%03d@x%d", i, i%7)
	}
	return out
}

// TestStorage is the storage's conformance table: every engine must pass
// it, with two instances on one database where it matters.
func TestStorage(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		run  func(t *testing.T, a, b storage)
	}{
		{"duplicate rows count once per address, rows on the address", func(t *testing.T, a, _ storage) {
			pk := uploadJob(t, a, "j1", "x@d1", "y@d2", "x@d1", "x@d1", "z@d3", "y@d2")
			j, _, err := a.job(ctx, "j1")
			if err != nil || j.addresses != 3 || j.total != 6 || j.state != Queued {
				t.Fatalf("job = %+v, %v; want 3 addresses, 6 rows, queued", j, err)
			}
			if err := a.save(ctx, pk, settledAnswers([]string{"x@d1", "y@d2", "z@d3"})); err != nil {
				t.Fatal(err)
			}
			if s, rows, risk := progress(t, a, "j1"); s != 3 || rows != 6 || risk != 30 {
				t.Fatalf("settled %d, rows %d, risk %d; want 3, 6, 30", s, rows, risk)
			}
		}},
		{"a batch saved twice counts once", func(t *testing.T, a, b storage) {
			keys := keysN(20)
			pk := uploadJob(t, a, "j1", keys...)
			for _, st := range []storage{a, a, b} {
				if err := st.save(ctx, pk, settledAnswers(keys)); err != nil {
					t.Fatal(err)
				}
			}
			if s, rows, _ := progress(t, b, "j1"); s != 20 || rows != 20 {
				t.Fatalf("settled %d, rows %d; want 20, 20", s, rows)
			}
		}},
		{"two instances saving the same addresses at once count them once", func(t *testing.T, a, b storage) {
			keys := keysN(300)
			pk := uploadJob(t, a, "j1", keys...)
			fwd := settledAnswers(keys)
			rev := slices.Clone(fwd)
			slices.Reverse(rev)
			var wg sync.WaitGroup
			errs := make([]error, 6)
			for i := range errs {
				st, batch := a, fwd
				if i%2 == 1 {
					st, batch = b, rev
				}
				wg.Go(func() {
					// In chunks, as the runner saves.
					for c := range slices.Chunk(batch, 25) {
						if err := st.save(ctx, pk, c); err != nil {
							errs[i] = err
							return
						}
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if s, rows, risk := progress(t, a, "j1"); s != 300 || rows != 300 || risk != 1500 {
				t.Fatalf("settled %d, rows %d, risk %d; want 300, 300, 1500", s, rows, risk)
			}
			if p, d, _, err := a.remaining(ctx, pk); err != nil || p != 0 || d != 0 {
				t.Fatalf("remaining %d pending, %d deferred, %v", p, d, err)
			}
		}},
		{"settling waiting answers while another instance saves counts each once", func(t *testing.T, a, b storage) {
			keys := keysN(200)
			pk := uploadJob(t, a, "j1", keys...)
			var deferred []answer
			for _, k := range keys {
				deferred = append(deferred, answer{key: k, tries: 1, retryAt: time.Now().Add(time.Hour),
					verdict: outcome.Verdict("risky"), risk: 50, reason: outcome.Reason("greylisted")})
			}
			if err := a.save(ctx, pk, deferred); err != nil {
				t.Fatal(err)
			}
			if p, d, next, err := a.remaining(ctx, pk); err != nil || p != 0 || d != 200 || next.IsZero() {
				t.Fatalf("remaining %d pending, %d deferred, next %v, %v", p, d, next, err)
			}
			var wg sync.WaitGroup
			var n int64
			var errA, errB error
			wg.Go(func() { n, errA = a.settleWaiting(ctx, pk) })
			wg.Go(func() { errB = b.save(ctx, pk, settledAnswers(keys)) })
			wg.Wait()
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			if s, rows, _ := progress(t, a, "j1"); s != 200 || rows != 200 || n > 200 {
				t.Fatalf("settled %d, rows %d (settleWaiting settled %d); want 200, 200", s, rows, n)
			}
		}},
		{"pending pages in (lane, domain, key) order from the empty key", func(t *testing.T, a, _ storage) {
			pk := uploadJob(t, a, "j1", "b@d2", "", "a@d2", "c@d1")
			var got []string
			var after cursor
			for {
				page, err := a.pending(ctx, pk, after, 2)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, p := range page {
					got = append(got, p.key)
				}
				l := page[len(page)-1]
				after = cursor{set: true, lane: l.lane, domain: l.domain, key: l.key}
			}
			if want := []string{"", "c@d1", "a@d2", "b@d2"}; !slices.Equal(got, want) {
				t.Fatalf("pending order %q, want %q", got, want)
			}
		}},
		{"export keeps the upload's order; delete leaves nothing", func(t *testing.T, a, b storage) {
			keys := keysN(250)
			slices.Reverse(keys)
			pk := uploadJob(t, a, "j1", keys...)
			if err := a.save(ctx, pk, settledAnswers(keys[:100])); err != nil {
				t.Fatal(err)
			}
			var lines []int
			var settled int
			err := b.export(ctx, pk, nil, func(r exportRow) error {
				lines = append(lines, r.line)
				if r.settled {
					settled++
				}
				if r.fields[0] != keys[r.line-2] {
					return fmt.Errorf("line %d has %q, want %q", r.line, r.fields[0], keys[r.line-2])
				}
				return nil
			})
			if err != nil || len(lines) != 250 || !slices.IsSorted(lines) || settled != 100 {
				t.Fatalf("export: %d rows, sorted %v, %d settled, %v", len(lines), slices.IsSorted(lines), settled, err)
			}
			if n, err := b.storedRows(ctx); err != nil || n != 250 {
				t.Fatalf("storedRows = %d, %v", n, err)
			}
			if err := b.deleteJob(ctx, pk); err != nil {
				t.Fatal(err)
			}
			if err := b.reclaim(ctx); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.job(ctx, "j1"); err != ErrNotFound {
				t.Fatalf("deleted job: %v", err)
			}
			if n, err := a.storedRows(ctx); err != nil || n != 0 {
				t.Fatalf("storedRows after delete = %d, %v", n, err)
			}
		}},
		{"state changes happen once", func(t *testing.T, a, b storage) {
			pk := uploadJob(t, a, "j1", "a@d1")
			okA, errA := a.setState(ctx, pk, Running, "", Queued)
			okB, errB := b.setState(ctx, pk, Running, "", Queued)
			if errA != nil || errB != nil || !okA || okB {
				t.Fatalf("setState: %v %v, %v %v; want only the first to move the job", okA, errA, okB, errB)
			}
			if ok, err := b.finish(ctx, pk, Done, ""); !ok || err != nil {
				t.Fatalf("finish = %v, %v", ok, err)
			}
			if ok, err := a.finish(ctx, pk, Failed, "late"); ok || err != nil {
				t.Fatalf("second finish = %v, %v; want false", ok, err)
			}
			j, _, err := a.job(ctx, "j1")
			if err != nil || j.state != Done || j.started.IsZero() || j.finished.IsZero() {
				t.Fatalf("job = %+v, %v", j, err)
			}
			old, err := a.finishedBefore(ctx, time.Now().Add(time.Minute))
			if err != nil || len(old) != 1 || old[0].id != "j1" {
				t.Fatalf("finishedBefore = %+v, %v", old, err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, engine store.Dialect) {
				url := storetest.URL(t, engine)
				c.run(t, storageAt(t, url), storageAt(t, url))
			})
		})
	}
}

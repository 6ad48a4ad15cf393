package keys

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Usage is counted in memory and written to the store every FlushEvery,
// so a call costs no write of its own. A crash loses at most that much
// counting.
const FlushEvery = time.Second

// callsVerdict is the stored verdict name under which calls are counted.
const callsVerdict = ""

type ukey struct{ id, day, verdict string }

type dayKey struct{ id, day string }

type usage struct {
	mu      sync.Mutex
	pending map[ukey]int64   // counted, not yet written
	calls   map[dayKey]int64 // calls on a day: stored when first read, plus ours since
}

func (u *usage) init() {
	u.pending = map[ukey]int64{}
	u.calls = map[dayKey]int64{}
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// dayName caches today's name: formatting it on every call costs more
// than the rest of counting one.
type dayName struct {
	n    int64 // days since the epoch
	name string
}

func (s *Store) today(now time.Time) string {
	n := now.Unix() / 86400
	if d := s.day.Load(); d != nil && d.n == n {
		return d.name
	}
	d := &dayName{n: n, name: day(now)}
	s.day.Store(d)
	return d.name
}

// untilMidnight is the wait until the next UTC day, when quotas start
// again; at least a second, as Retry-After counts in seconds.
func untilMidnight(now time.Time) time.Duration {
	now = now.UTC()
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return max(next.Sub(now), time.Second)
}

// Take counts one call by k today. It refuses the call, with the time to
// wait, when k has used its daily quota.
func (s *Store) Take(ctx context.Context, k Key) (ok bool, retryAfter time.Duration, err error) {
	now := s.now()
	dk := dayKey{k.ID, s.today(now)}
	s.usage.mu.Lock()
	n, known := s.usage.calls[dk]
	s.usage.mu.Unlock()
	if !known {
		stored, err := s.st.calls(ctx, dk.id, dk.day)
		if err != nil {
			return false, 0, fmt.Errorf("keys: read usage: %w", err)
		}
		s.usage.mu.Lock()
		if _, raced := s.usage.calls[dk]; !raced {
			// The pending calls of this day are not stored yet.
			s.usage.calls[dk] = stored + s.usage.pending[ukey{dk.id, dk.day, callsVerdict}]
		}
		s.usage.mu.Unlock()
	}
	s.usage.mu.Lock()
	defer s.usage.mu.Unlock()
	n = s.usage.calls[dk]
	if k.DailyQuota > 0 && n >= k.DailyQuota {
		return false, untilMidnight(now), nil
	}
	s.usage.calls[dk] = n + 1
	s.usage.pending[ukey{dk.id, dk.day, callsVerdict}]++
	return true, 0, nil
}

// Count records one result with verdict for key id today.
func (s *Store) Count(id, verdict string) {
	if verdict == "" {
		return
	}
	k := ukey{id, s.today(s.now()), verdict}
	s.usage.mu.Lock()
	s.usage.pending[k]++
	s.usage.mu.Unlock()
}

// Flush writes the counts made since the last flush, then reads back
// today's stored call totals of the keys in use here: with several
// instances on one store, each then sees the others' calls within a flush
// or two, and a daily quota holds for the fleet (give or take the calls
// of one FlushEvery).
func (s *Store) Flush(ctx context.Context) error {
	s.usage.mu.Lock()
	batch := s.usage.pending
	s.usage.pending = map[ukey]int64{}
	// Yesterday's call totals are not needed any more.
	today := day(s.now())
	maps.DeleteFunc(s.usage.calls, func(k dayKey, _ int64) bool { return k.day < today })
	known := slices.Collect(maps.Keys(s.usage.calls))
	s.usage.mu.Unlock()
	if len(batch) > 0 {
		if err := s.st.addUsage(ctx, batch); err != nil {
			// Put the counts back for the next flush.
			s.usage.mu.Lock()
			for k, n := range batch {
				s.usage.pending[k] += n
			}
			s.usage.mu.Unlock()
			return fmt.Errorf("keys: write usage: %w", err)
		}
	}
	for _, dk := range known {
		stored, err := s.st.calls(ctx, dk.id, dk.day)
		if err != nil {
			return fmt.Errorf("keys: read usage: %w", err)
		}
		s.usage.mu.Lock()
		// What is pending now was counted after the batch was taken, so
		// it is in neither the store nor stored.
		s.usage.calls[dk] = stored + s.usage.pending[ukey{dk.id, dk.day, callsVerdict}]
		s.usage.mu.Unlock()
	}
	return nil
}

// Run flushes usage every FlushEvery until ctx ends, then once more.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.Flush(context.WithoutCancel(ctx)); err != nil {
				s.log.Error("flushing key usage", "err", err)
			}
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil {
				s.log.Error("flushing key usage", "err", err)
			}
		}
	}
}

// Day is one key's use on one UTC day.
type Day struct {
	Date     string           `json:"date"`
	Calls    int64            `json:"calls"`
	Verdicts map[string]int64 `json:"verdicts"`
}

// Usage returns key id's use over the last days days (today included),
// newest first; days without calls are left out.
func (s *Store) Usage(ctx context.Context, id string, days int) ([]Day, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	from := day(now.AddDate(0, 0, -(days - 1)))
	rows, err := s.st.usage(ctx, id, from)
	if err != nil {
		return nil, fmt.Errorf("keys: read usage: %w", err)
	}
	var out []Day
	idx := map[string]int{}
	for _, r := range rows {
		i, ok := idx[r.day]
		if !ok {
			i = len(out)
			idx[r.day] = i
			out = append(out, Day{Date: r.day, Verdicts: map[string]int64{}})
		}
		if r.verdict == callsVerdict {
			out[i].Calls += r.n
		} else {
			out[i].Verdicts[r.verdict] += r.n
		}
	}
	return out, nil
}

package suppression

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/preflight-email/preflight/reply"
)

// Health summarises the classified bounce events of the last 7 and 30
// days: what the sender should look at, and what to do about it.
type Health struct {
	Now    time.Time `json:"now"`
	Note   string    `json:"note"`
	Last7  Window    `json:"last_7_days"`
	Last30 Window    `json:"last_30_days"`
}

// healthNote says what the rates are shares of.
const healthNote = "Rates are shares of the bounce events ingested in the window, not of messages sent: " +
	"Preflight does not see your sends. Divide the counts by your own send volume for a bounce rate " +
	"(keep it under 2%, ideally under 0.5%)."

// Window is the summary of one period, ending at Health.Now.
type Window struct {
	From       time.Time `json:"from"`
	Events     int       `json:"events"`
	Suppressed int       `json:"suppressed"` // addresses suppressed in the window and still on the list
	Classes    Classes   `json:"classes"`
	Reasons    []Count   `json:"top_reasons"`
	Providers  []Count   `json:"top_providers"`
	Signals    []Signal  `json:"signals"`
	// Flagged is true when any event in the window was a block: a
	// receiving server refused the sender, which the sender must fix.
	Flagged bool `json:"flagged"`
}

// Classes counts events by class.
type Classes struct {
	Hard    Share `json:"hard"`
	Soft    Share `json:"soft"`
	Block   Share `json:"block"`
	Unknown Share `json:"unknown"`
}

// Share is a count and its share of the window's events (0 to 1, four
// decimals).
type Share struct {
	Count int     `json:"count"`
	Rate  float64 `json:"rate"`
}

// Count is a named count.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Signal is one sender-side problem the events show, with its advice.
type Signal struct {
	Kind     string    `json:"kind"`           // KindBlocklist, KindAuth, ...
	Name     string    `json:"name,omitempty"` // the blocklist, or spf/dkim/dmarc/ptr
	Count    int       `json:"count"`
	LastSeen time.Time `json:"last_seen"`
	Advice   string    `json:"advice"`
}

// topN bounds the reasons and providers listed.
const topN = 10

// Health summarises the events that happened in the 7 and 30 days up to
// now (both ends inclusive).
func (l *List) Health(ctx context.Context, now time.Time) (Health, error) {
	now = now.UTC().Truncate(time.Millisecond)
	h := Health{Now: now, Note: healthNote}
	for _, w := range []struct {
		dst  *Window
		days int
	}{{&h.Last7, 7}, {&h.Last30, 30}} {
		from := now.AddDate(0, 0, -w.days)
		rows, err := l.st.tally(ctx, from, now)
		if err != nil {
			return Health{}, fmt.Errorf("sender health: %w", err)
		}
		n, err := l.st.suppressedIn(ctx, from, now)
		if err != nil {
			return Health{}, fmt.Errorf("sender health: %w", err)
		}
		*w.dst = summarise(from, rows)
		w.dst.Suppressed = n
	}
	return h, nil
}

func summarise(from time.Time, rows []tally) Window {
	w := Window{From: from, Reasons: []Count{}, Providers: []Count{}, Signals: []Signal{}}
	reasons := map[string]int{}
	providers := map[string]int{}
	signals := map[string]*Signal{}
	for _, t := range rows {
		w.Events += t.count
		switch t.class {
		case reply.Hard:
			w.Classes.Hard.Count += t.count
		case reply.Soft:
			w.Classes.Soft.Count += t.count
		case reply.Block:
			w.Classes.Block.Count += t.count
		default:
			w.Classes.Unknown.Count += t.count
		}
		reasons[t.reason] += t.count
		if t.provider != "" {
			providers[t.provider] += t.count
		}
		if t.signal == "" {
			continue
		}
		s := signals[t.signal]
		if s == nil {
			kind, name, _ := strings.Cut(t.signal, ":")
			s = &Signal{Kind: kind, Name: name, Advice: adviceFor(kind, name)}
			signals[t.signal] = s
		}
		s.Count += t.count
		s.LastSeen = later(s.LastSeen, t.last)
	}
	for _, c := range []*Share{&w.Classes.Hard, &w.Classes.Soft, &w.Classes.Block, &w.Classes.Unknown} {
		c.Rate = rate(c.Count, w.Events)
	}
	w.Reasons = top(reasons)
	w.Providers = top(providers)
	for _, s := range signals {
		w.Signals = append(w.Signals, *s)
	}
	slices.SortFunc(w.Signals, func(a, b Signal) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	w.Flagged = w.Classes.Block.Count > 0
	return w
}

func rate(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(total)*1e4) / 1e4
}

// top lists the largest counts, ties by name.
func top(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Name: k, Count: v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) })
	if len(out) > topN {
		out = out[:topN]
	}
	return out
}

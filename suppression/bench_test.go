package suppression

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/preflight-email/preflight/store"
)

// BenchmarkIngest measures one Ingest call (one transaction, synchronous
// commit) of n hard bounces to distinct addresses, on a SQLite file.
func BenchmarkIngest(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			l, _ := newList(b, store.SQLite, Policy{})
			ctx := context.Background()
			evs := make([]Event, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for j := range evs {
					evs[j] = ev(fmt.Sprintf("user%d@example.com", i), hardMsg, base.Add(time.Duration(i)*time.Millisecond))
					i++
				}
				if _, err := l.Ingest(ctx, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/event")
		})
	}
}

// BenchmarkLookup measures Lookup against a list of 10,000 entries.
func BenchmarkLookup(b *testing.B) {
	l, _ := newList(b, store.SQLite, Policy{})
	ctx := context.Background()
	const size = 10000
	evs := make([]Event, 0, 1000)
	for i := range size {
		evs = append(evs, ev(fmt.Sprintf("user%d@example.com", i), hardMsg, base))
		if len(evs) == cap(evs) {
			if _, err := l.Ingest(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	for _, tc := range []struct {
		name string
		addr func(i int) string
		want bool
	}{
		{"hit", func(i int) string { return fmt.Sprintf("User%d@Example.com", i%size) }, true},
		{"miss", func(i int) string { return fmt.Sprintf("other%d@example.com", i) }, false},
	} {
		addrs := make([]string, 1024)
		for i := range addrs {
			addrs[i] = tc.addr(i * 7)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, ok, err := l.Lookup(ctx, addrs[i%len(addrs)])
				if err != nil || ok != tc.want {
					b.Fatalf("Lookup = %v, %v", ok, err)
				}
				i++
			}
		})
	}
}

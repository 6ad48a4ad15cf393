package jobs

import (
	"container/heap"
	"context"
	"errors"
	"hash/maphash"
	"io"
	"math"
	"slices"

	"github.com/preflight-email/preflight/csvio"
	"github.com/preflight-email/preflight/outcome"
)

// MaxSample is the largest list preview: enough for intervals of about
// ±1 point, small enough to be quick and gentle on receiving servers.
const MaxSample = 10000

// Sample is a list preview: a uniform random sample of the list's
// distinct addresses was checked, and the whole list's health is projected
// from it with 95% confidence intervals.
type Sample struct {
	// Size is the number of distinct addresses checked.
	Size int64 `json:"size"`
	// PopulationRows is the number of data rows in the uploaded list;
	// PopulationAddresses its distinct addresses, estimated (from the
	// sample's hashes) when there are more than Size.
	PopulationRows      int64 `json:"population_rows"`
	PopulationAddresses int64 `json:"population_addresses"`
	// Exact is true when the sample is the whole list.
	Exact bool `json:"exact"`
	// Confidence is the level of the intervals (0.95).
	Confidence float64 `json:"confidence"`
	// Verdicts projects each verdict's share of the list's addresses.
	Verdicts map[outcome.Verdict]Interval `json:"verdicts"`
	// BounceRate projects the hard-bounce rate of sending to the whole
	// list as it is; KeptBounceRate that of its deliverable and risky
	// addresses only. Null until an address is checked (or kept).
	BounceRate     *Interval `json:"projected_bounce_rate"`
	KeptBounceRate *Interval `json:"projected_kept_bounce_rate"`
}

// Interval is an estimate with its confidence interval, as shares (0-1).
type Interval struct {
	Estimate float64 `json:"estimate"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
}

// z95 is the normal quantile of a two-sided 95% interval.
const z95 = 1.959964

// wilson is the Wilson score interval of a share p measured on n of a
// population of N (Wilson 1927): unlike the normal approximation it stays
// inside [0, 1] and behaves at p near 0, where bounce rates live. The
// finite-population correction narrows it as the sample nears the whole,
// through the effective sample size n(N-1)/(N-n), which keeps a share of
// 0 at a lower bound of 0.
// For a mean of values in [0, 1] (risk/100) it is conservative: their
// variance is at most p(1-p).
func wilson(p float64, n, N int64) Interval {
	if n <= 0 {
		return Interval{}
	}
	if N > 0 && n >= N {
		return Interval{Estimate: p, Low: p, High: p}
	}
	nf, z2 := float64(n), z95*z95
	if N > 1 {
		nf *= float64(N-1) / float64(N-n)
	}
	center := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / (1 + z2/nf)
	round := func(v float64) float64 { return math.Round(v*1e4) / 1e4 }
	return Interval{Estimate: round(p), Low: round(max(0, center-half)), High: round(min(1, center+half))}
}

// project fills the sample's projections from the checked addresses'
// tallies (each sampled address is one row).
func (s *Sample) project(tallies []tally) {
	s.Confidence = 0.95
	s.Verdicts = map[outcome.Verdict]Interval{}
	var n, risk, kept, keptRisk int64
	byVerdict := map[outcome.Verdict]int64{}
	for _, t := range tallies {
		n += t.Rows
		risk += t.Risk
		byVerdict[t.Verdict] += t.Rows
		if keep(t.Verdict) {
			kept += t.Rows
			keptRisk += t.Risk
		}
	}
	if n == 0 {
		return
	}
	pop := s.PopulationAddresses
	if n < s.Size {
		pop = 0 // part-way: no correction until the whole sample is in
	}
	for _, v := range outcome.Verdicts() {
		s.Verdicts[v] = wilson(float64(byVerdict[v])/float64(n), n, pop)
	}
	b := wilson(float64(risk)/float64(100*n), n, pop)
	s.BounceRate = &b
	if kept > 0 {
		k := wilson(float64(keptRisk)/float64(100*kept), kept, 0)
		s.KeptBounceRate = &k
	}
}

// sampled is a candidate row of the sample.
type sampled struct {
	h   uint64
	row row
}

// bottom keeps the k sampled rows of smallest hash, as a max-heap.
type bottom []sampled

func (b bottom) Len() int           { return len(b) }
func (b bottom) Less(i, j int) bool { return b[i].h > b[j].h }
func (b bottom) Swap(i, j int)      { b[i], b[j] = b[j], b[i] }
func (b *bottom) Push(x any)        { *b = append(*b, x.(sampled)) }
func (b *bottom) Pop() any {
	old := *b
	x := old[len(old)-1]
	*b = old[:len(old)-1]
	return x
}

// sampleRows reads the whole upload and keeps the first row of each of k
// distinct addresses drawn uniformly at random: those whose keys have the
// k smallest hashes under a fresh random seed (a bottom-k sketch). Memory
// is O(k) whatever the list's size, duplicates are skipped by
// construction, and the k-th smallest hash estimates the number of
// distinct addresses (Bar-Yossef et al. 2002). The rows come back in the
// file's order.
func sampleRows(ctx context.Context, cr *csvio.Reader, k int) (rows []row, width int, popRows, popAddrs int64, err error) {
	seed := maphash.MakeSeed()
	var b bottom
	in := make(map[string]bool, k)
	for {
		if popRows%4096 == 0 && ctx.Err() != nil {
			return nil, 0, 0, 0, ctx.Err()
		}
		rec, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, 0, 0, uploadError(err)
		}
		popRows++
		width = max(width, len(rec.Fields))
		key, domain := addressKey(rec.Email)
		if in[key] {
			continue
		}
		h := maphash.String(seed, key)
		if len(b) == k && h >= b[0].h {
			continue
		}
		if len(b) == k {
			out := heap.Pop(&b).(sampled)
			delete(in, out.row.key)
		}
		heap.Push(&b, sampled{h: h, row: row{line: rec.Line, key: key, domain: domain, fields: rec.Fields}})
		in[key] = true
	}
	popAddrs = int64(len(b))
	if len(b) == k && k > 1 {
		// The k-th smallest of n uniform hashes is about k/n of the range.
		est := float64(k-1) / (float64(b[0].h) / math.MaxUint64)
		popAddrs = max(int64(k), int64(math.Round(est)))
	}
	rows = make([]row, len(b))
	for i, s := range b {
		rows[i] = s.row
	}
	slices.SortFunc(rows, func(x, y row) int { return x.line - y.line })
	return rows, width, popRows, popAddrs, nil
}

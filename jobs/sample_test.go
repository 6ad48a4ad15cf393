package jobs

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/csvio"
	"github.com/preflight-email/preflight/outcome"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

func TestWilson(t *testing.T) {
	// 5 bounces in 400: 1.25%, interval about 0.53%-2.9%.
	iv := wilson(5.0/400, 400, 0)
	if iv.Estimate != 0.0125 || math.Abs(iv.Low-0.0054) > 0.0003 || math.Abs(iv.High-0.0289) > 0.0003 {
		t.Errorf("wilson(5/400) = %+v", iv)
	}
	for _, N := range []int64{0, 150, 100000} {
		if iv := wilson(0, 100, N); iv.Low != 0 || iv.High <= 0 || iv.High > 0.04 {
			t.Errorf("no bounce in 100 of %d: %+v, want [0, ~3.7%%]", N, iv)
		}
	}
	if iv := wilson(0.3, 50, 50); iv.Low != 0.3 || iv.High != 0.3 {
		t.Errorf("the whole population: %+v, want exact", iv)
	}
	wide, narrow := wilson(0.1, 1000, 0), wilson(0.1, 1000, 1200)
	if narrow.High-narrow.Low >= wide.High-wide.Low {
		t.Errorf("the finite-population correction did not narrow: %+v vs %+v", narrow, wide)
	}
}

func TestSampleRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "user%d@shop.test\n", i%5000) // 5,000 addresses, each 4 times
	}
	cr, err := csvio.NewReader(strings.NewReader(b.String()), "", csvio.Limits{MaxRows: 1 << 20, MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	rows, width, popRows, popAddrs, err := sampleRows(context.Background(), cr, 400)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 400 || width != 1 || popRows != 20000 {
		t.Fatalf("%d rows, width %d, population %d rows", len(rows), width, popRows)
	}
	// The distinct-count estimate's standard error is about 1/sqrt(k): 5%.
	if popAddrs < 4250 || popAddrs > 5750 {
		t.Errorf("estimated %d distinct addresses, want about 5000", popAddrs)
	}
	seen := map[string]bool{}
	low := 0
	for i, r := range rows {
		if seen[r.key] {
			t.Fatalf("%s sampled twice", r.key)
		}
		seen[r.key] = true
		if i > 0 && r.line < rows[i-1].line {
			t.Fatal("rows out of file order")
		}
		var n int
		fmt.Sscanf(r.key, "user%d@", &n)
		if n < 2500 {
			low++
		}
	}
	// Uniform: about half from each half of the addresses.
	if low < 150 || low > 250 {
		t.Errorf("%d of 400 from the first half of the addresses", low)
	}
}

// A preview stores only the sample and projects the whole list.
func TestSampleJob(t *testing.T) { storetest.Each(t, testSampleJob) }

func testSampleJob(t *testing.T, engine store.Dialect) {
	ctx := context.Background()
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{}, newRuleVerifier())
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "anna%d@shop.test\n", i)
	}
	st, err := m.Create(ctx, strings.NewReader(b.String()), CreateOptions{Sample: 200})
	if err != nil {
		t.Fatal(err)
	}
	done := waitState(t, m, st.ID, Done)
	s := done.Sample
	if done.Total != 200 || s == nil || s.Size != 200 || s.PopulationRows != 3000 || s.Exact {
		t.Fatalf("preview status: total %d, sample %+v", done.Total, s)
	}
	if s.BounceRate == nil || s.BounceRate.Low > s.BounceRate.Estimate || s.BounceRate.High < s.BounceRate.Estimate {
		t.Errorf("bounce rate %+v", s.BounceRate)
	}
	var share float64
	for _, v := range outcome.Verdicts() {
		share += s.Verdicts[v].Estimate
	}
	if math.Abs(share-1) > 0.001 {
		t.Errorf("verdict shares add up to %g", share)
	}
	if _, err := m.Create(ctx, strings.NewReader("email\na@b.test\n"), CreateOptions{Sample: MaxSample + 1}); err == nil {
		t.Error("a sample above MaxSample was accepted")
	}
	// A sample as large as the list is the whole list, exactly.
	st, err = m.Create(ctx, strings.NewReader("email\na@shop.test\nb@shop.test\na@shop.test\n"), CreateOptions{Sample: 10})
	if err != nil {
		t.Fatal(err)
	}
	if done := waitState(t, m, st.ID, Done); !done.Sample.Exact || done.Sample.PopulationAddresses != 2 || done.Total != 2 {
		t.Errorf("whole-list sample: %+v, total %d", done.Sample, done.Total)
	}
}

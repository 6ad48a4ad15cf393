package reply

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/outcome"
)

// corpusLine is one labelled reply of testdata/corpus.tsv.
type corpusLine struct {
	line      int
	class     Class
	reason    outcome.Reason
	provider  string // "" = not checked
	blocklist string // "" = not checked
	reply     string
}

func loadCorpus(tb testing.TB) []corpusLine {
	tb.Helper()
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.SplitN(text, "\t", 5)
		if len(cols) != 5 {
			tb.Fatalf("corpus.tsv:%d: want 5 tab-separated columns, got %d", n, len(cols))
		}
		out = append(out, corpusLine{
			line:      n,
			class:     Class(cols[0]),
			reason:    outcome.Reason(cols[1]),
			provider:  cols[2],
			blocklist: cols[3],
			reply:     strings.ReplaceAll(cols[4], `\r\n`, "\r\n"),
		})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestCorpusAccuracy classifies every labelled line and requires at least
// 97% of each class to get both class and reason right.
func TestCorpusAccuracy(t *testing.T) {
	corpus := loadCorpus(t)
	if len(corpus) < 200 {
		t.Fatalf("corpus has %d lines, want at least 200", len(corpus))
	}
	validReasons := map[outcome.Reason]bool{}
	for _, r := range outcome.Reasons() {
		validReasons[r] = true
	}
	type tally struct{ total, right int }
	byClass := map[Class]*tally{}
	var wrong []string
	var keys map[string]bool
	if *tuneOnly {
		keys = heldOutKeys(t)
	}
	for _, c := range corpus {
		if keys != nil && keys[heldOutKey(rawColumn(t, c.line))] {
			continue
		}
		switch c.class {
		case Hard, Soft, Block, Unknown:
		default:
			t.Fatalf("corpus.tsv:%d: unknown class %q", c.line, c.class)
		}
		if !validReasons[c.reason] {
			t.Fatalf("corpus.tsv:%d: reason %q is not in the outcome vocabulary", c.line, c.reason)
		}
		d := ClassifyText(c.reply)
		tl := byClass[c.class]
		if tl == nil {
			tl = &tally{}
			byClass[c.class] = tl
		}
		tl.total++
		ok := d.Class == c.class && d.Reason == c.reason
		if ok {
			tl.right++
		} else {
			wrong = append(wrong, fmt.Sprintf("corpus.tsv:%d: want %s/%s, got %s/%s: %q",
				c.line, c.class, c.reason, d.Class, d.Reason, c.reply))
		}
		if c.provider != "" && d.Provider != c.provider {
			t.Errorf("corpus.tsv:%d: provider %q, want %q: %q", c.line, d.Provider, c.provider, c.reply)
		}
		if c.blocklist != "" && d.Blocklist != c.blocklist {
			t.Errorf("corpus.tsv:%d: blocklist %q, want %q: %q", c.line, d.Blocklist, c.blocklist, c.reply)
		}
		if d.Explanation == "" {
			t.Errorf("corpus.tsv:%d: empty explanation", c.line)
		}
		// Invariants of docs/design.md whatever the label says.
		if d.Reason == outcome.Blocked && d.Class != Block {
			t.Errorf("corpus.tsv:%d: blocked reply classed %s", c.line, d.Class)
		}
		if d.Class == Hard && d.Action != Suppress || d.Class == Block && d.Action != FixSender {
			t.Errorf("corpus.tsv:%d: class %s with action %s", c.line, d.Class, d.Action)
		}
	}
	classes := make([]Class, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	for _, c := range classes {
		tl := byClass[c]
		acc := float64(tl.right) / float64(tl.total)
		t.Logf("class %-7s %3d/%3d = %.1f%%", c, tl.right, tl.total, 100*acc)
		if acc < 0.97 {
			t.Errorf("class %s accuracy %.1f%% is below 97%%", c, 100*acc)
		}
	}
	n := 0
	for _, tl := range byClass {
		n += tl.total
	}
	t.Logf("corpus: %d lines, %d misclassified", n, len(wrong))
	for _, w := range wrong {
		t.Log(w)
	}
}

// BenchmarkClassify runs Parse and Classify over the whole corpus; ns/op
// is per line.
func BenchmarkClassify(b *testing.B) {
	corpus := loadCorpus(b)
	lines := make([]string, len(corpus))
	bytes := 0
	for i, c := range corpus {
		lines[i] = c.reply
		bytes += len(c.reply)
	}
	compiled() // build the matcher outside the timing
	b.SetBytes(int64(bytes / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	var sink Diagnosis
	for i := 0; i < b.N; i++ {
		sink = ClassifyText(lines[i%len(lines)])
	}
	_ = sink
}

// rawColumn is the reply column of corpus.tsv's line n as written (the
// held-out keys hash it before \r\n is unescaped).
func rawColumn(tb testing.TB, n int) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/corpus.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	cols := strings.SplitN(strings.Split(string(b), "\n")[n-1], "\t", 5)
	return cols[len(cols)-1]
}

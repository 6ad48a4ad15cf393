package reply

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"strings"
	"testing"
)

// tuneOnly keeps the held-out lines out of every corpus test while tuning:
// TestCorpusAccuracy skips them and TestCorpusHeldOut does not run.
var tuneOnly = flag.Bool("corpus.tuned", false, "while tuning: skip the held-out lines of corpus.tsv in every test")

// heldOutKeys reads testdata/heldout.txt: the fifth of corpus.tsv frozen
// before the classifier was generalised, named by a hash of the reply.
func heldOutKeys(tb testing.TB) map[string]bool {
	tb.Helper()
	b, err := os.ReadFile("testdata/heldout.txt")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out[l] = true
		}
	}
	return out
}

// heldOutKey is the key of a raw reply column in heldout.txt.
func heldOutKey(rawReply string) string {
	h := sha256.Sum256([]byte("preflight-heldout-1:" + rawReply))
	return hex.EncodeToString(h[:])[:16]
}

// Floors of the held-out part, as reported in bounce/README.md; the test
// fails when the classifier falls below them.
const (
	heldOutClassFloor  = 1.0
	heldOutReasonFloor = 1.0
)

// TestCorpusHeldOut reports class accuracy, class-and-reason accuracy and
// dangerous errors (hard for a non-hard truth, or not hard for a hard
// truth) separately for the tuned and the held-out parts of corpus.tsv.
func TestCorpusHeldOut(t *testing.T) {
	if *tuneOnly {
		t.Skip("-corpus.tuned: the held-out part is not looked at")
	}
	keys := heldOutKeys(t)
	corpus := loadCorpus(t)
	b, err := os.ReadFile("testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.Split(string(b), "\n")
	type part struct{ n, class, reason, dangerous int }
	var tuned, held part
	found := 0
	for _, c := range corpus {
		cols := strings.SplitN(raw[c.line-1], "\t", 5)
		p := &tuned
		if keys[heldOutKey(cols[4])] {
			p = &held
			found++
		}
		d := ClassifyText(c.reply)
		p.n++
		if d.Class == c.class {
			p.class++
			if d.Reason == c.reason {
				p.reason++
			}
		}
		if (d.Class == Hard) != (c.class == Hard) {
			p.dangerous++
			if p == &held {
				t.Logf("held-out dangerous: want %s/%s, got %s/%s: %q", c.class, c.reason, d.Class, d.Reason, c.reply)
			}
		}
	}
	if found != len(keys) {
		t.Errorf("%d held-out keys, %d found in corpus.tsv: a held-out line was edited or removed", len(keys), found)
	}
	for _, x := range []struct {
		name string
		p    part
	}{{"tuned", tuned}, {"held-out", held}} {
		t.Logf("%-8s %3d lines: class %.1f%%, class+reason %.1f%%, dangerous %d", x.name, x.p.n,
			100*float64(x.p.class)/float64(x.p.n), 100*float64(x.p.reason)/float64(x.p.n), x.p.dangerous)
	}
	if acc := float64(held.class) / float64(held.n); acc < heldOutClassFloor {
		t.Errorf("held-out class accuracy %.3f below its reported %.3f", acc, heldOutClassFloor)
	}
	if acc := float64(held.reason) / float64(held.n); acc < heldOutReasonFloor {
		t.Errorf("held-out class+reason accuracy %.3f below its reported %.3f", acc, heldOutReasonFloor)
	}
}

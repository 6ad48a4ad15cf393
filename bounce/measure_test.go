package bounce

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/reply"
)

var (
	verbose  = flag.Bool("corpus.v", false, "log every misread recipient of the corpus")
	showHeld = flag.Bool("corpus.heldout", false, "log the held-out part's figures in detail (look once, at the end)")
	tuneOnly = flag.Bool("corpus.tuned", false, "while tuning: read and check the tuned part only; held-out files are skipped unread, so nothing about them is printed, not even a failed floor")
)

// sisimaiClass maps Sisimai's reason names to Preflight's classes. The
// table, and why, is in README.md ("Sisimai's reasons and our classes").
var sisimaiClass = map[string]reply.Class{
	// The address is bad for good.
	"userunknown": reply.Hard, "hostunknown": reply.Hard, "hasmoved": reply.Hard,
	"suspend": reply.Hard, "notaccept": reply.Hard, "filtered": reply.Hard,
	// A temporary failure on the recipient's side, or a message problem.
	"mailboxfull": reply.Soft, "exceedlimit": reply.Soft, "mesgtoobig": reply.Soft,
	"expired": reply.Soft, "networkerror": reply.Soft, "systemerror": reply.Soft,
	"systemfull": reply.Soft, "toomanyconn": reply.Soft, "speeding": reply.Soft,
	"mailererror": reply.Soft,
	// The receiving side refused the sender.
	"blocked": reply.Block, "policyviolation": reply.Block, "spamdetected": reply.Block,
	"securityerror": reply.Block, "virusdetected": reply.Block, "contenterror": reply.Block,
	"authfailure": reply.Block, "requireptr": reply.Block, "badreputation": reply.Block,
	"rejected": reply.Block, "norelaying": reply.Block, "notcompliantrfc": reply.Block,
	"failedstarttls": reply.Block, "syntaxerror": reply.Block,
	// Not a failure, or nothing definite.
	"delivered": reply.Unknown, "vacation": reply.Unknown, "feedback": reply.Unknown,
	"onhold": reply.Unknown, "undefined": reply.Unknown,
}

type label struct {
	file   string
	rcpt   int
	reason string
	class  reply.Class
}

func loadLabels(tb testing.TB) map[string][]label {
	tb.Helper()
	f, err := os.Open("testdata/expected.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	out := map[string][]label{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if n == 1 {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 3 {
			continue
		}
		cl, ok := sisimaiClass[c[2]]
		if !ok {
			tb.Fatalf("expected.tsv:%d: Sisimai reason %q has no class in sisimaiClass", n, c[2])
		}
		var r int
		fmt.Sscan(c[1], &r)
		out[c[0]] = append(out[c[0]], label{file: c[0], rcpt: r, reason: c[2], class: cl})
	}
	return out
}

func loadHeldOut(tb testing.TB) map[string]bool {
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

// family is the corpus's name for the writer of a file: "lhost-postfix".
func family(file string) string {
	s := strings.TrimSuffix(file, ".eml")
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		return s[:i]
	}
	return s
}

// got is one recipient as a reader under measurement reports it.
type got struct {
	class reply.Class
	diag  string
	rcpt  string
}

// tally counts one part of the corpus.
type tally struct {
	msgs, read            int
	rcpts, right          int
	rcptsRead, rightRead  int // recipients of messages that were read
	dangerous             int
	byFamily, byClass     map[string]*[2]int // [right, total]
	wrong, dangerousLines []string
}

func newTally() *tally {
	return &tally{byFamily: map[string]*[2]int{}, byClass: map[string]*[2]int{}}
}

func inc(m map[string]*[2]int, k string, ok bool) {
	c := m[k]
	if c == nil {
		c = &[2]int{}
		m[k] = c
	}
	c[1]++
	if ok {
		c[0]++
	}
}

// measure runs read over the corpus and tallies the tuned and held-out
// parts separately.
func measure(tb testing.TB, read func([]byte) ([]got, error)) (tuned, held *tally) {
	labels := loadLabels(tb)
	heldOut := loadHeldOut(tb)
	tuned, held = newTally(), newTally()
	files, err := filepath.Glob("testdata/eml/*.eml")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no corpus: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t := tuned
		if heldOut[name] {
			if *tuneOnly {
				continue
			}
			t = held
		}
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		gs, rerr := read(b)
		t.msgs++
		if rerr == nil && len(gs) > 0 {
			t.read++
		}
		fam := family(name)
		for i, l := range labels[name] {
			t.rcpts++
			var g got
			if i < len(gs) {
				g = gs[i]
			}
			ok := g.class == l.class
			if ok {
				t.right++
			} else {
				t.wrong = append(t.wrong, fmt.Sprintf("%s #%d: want %s (%s), got %q: %.160q", name, l.rcpt, l.class, l.reason, g.class, g.diag))
			}
			if g.class != "" && (g.class == reply.Hard) != (l.class == reply.Hard) {
				t.dangerous++
				t.dangerousLines = append(t.dangerousLines, fmt.Sprintf("%s #%d: want %s (%s), got %s: %.200q", name, l.rcpt, l.class, l.reason, g.class, g.diag))
			} else if g.class == "" && l.class == reply.Hard {
				// A hard bounce that was not read at all keeps a dead address.
				t.dangerous++
				t.dangerousLines = append(t.dangerousLines, fmt.Sprintf("%s #%d: want hard (%s), not read", name, l.rcpt, l.reason))
			}
			if rerr == nil && len(gs) > 0 {
				t.rcptsRead++
				if ok {
					t.rightRead++
				}
			}
			inc(t.byFamily, fam, ok)
			inc(t.byClass, string(l.class), ok)
		}
	}
	return tuned, held
}

func (t *tally) log(tb testing.TB, name string) {
	tb.Logf("%s: messages read %d/%d (%.1f%%), recipients right %d/%d (%.1f%%; %d/%d = %.1f%% of those in messages read), dangerous %d",
		name, t.read, t.msgs, pct(t.read, t.msgs), t.right, t.rcpts, pct(t.right, t.rcpts),
		t.rightRead, t.rcptsRead, pct(t.rightRead, t.rcptsRead), t.dangerous)
	for _, k := range sortedKeys(t.byClass) {
		c := t.byClass[k]
		tb.Logf("  class %-8s %3d/%3d %5.1f%%", k, c[0], c[1], pct(c[0], c[1]))
	}
	for _, k := range sortedKeys(t.byFamily) {
		c := t.byFamily[k]
		tb.Logf("  format %-24s %3d/%3d %5.1f%%", k, c[0], c[1], pct(c[0], c[1]))
	}
	for _, l := range t.dangerousLines {
		tb.Logf("  DANGEROUS %s", l)
	}
	if *verbose {
		for _, l := range t.wrong {
			tb.Logf("  wrong %s", l)
		}
	}
}

func sortedKeys(m map[string]*[2]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// readNew is the reader under test.
func readNew(b []byte) ([]got, error) {
	rep, err := Read(b)
	if err != nil {
		return nil, err
	}
	out := make([]got, len(rep.Recipients))
	for i, d := range rep.Recipients {
		out[i] = got{class: d.Class, diag: string(d.Format) + ": " + d.Diagnostic, rcpt: d.Recipient}
	}
	return out, nil
}

// The reader Preflight had before package bounce (reply.ParseDSN, RFC 3464
// only) was measured with TestCorpusBaseline at commit 7c3e89a and then
// removed: one bounce reader, not two. Its figures are in README.md.

// floor is a part's reported figures (README.md, "Figures"); TestCorpus
// fails when the reader falls below them.
type floor struct {
	read, right, dangerous int // messages read, recipients right, most dangerous errors
}

// check fails t when a part's figures fall below the floor.
func (f floor) check(t *testing.T, part string, read, right, dangerous int) {
	t.Helper()
	if read < f.read || right < f.right || dangerous > f.dangerous {
		t.Errorf("%s part: %d read, %d right, %d dangerous; reported %d, %d, %d",
			part, read, right, dangerous, f.read, f.right, f.dangerous)
	}
}

var (
	tunedFloor = floor{read: 324, right: 335, dangerous: 12}
	heldFloor  = floor{read: 81, right: 81, dangerous: 0}
)

// TestCorpus measures the reader on the corpus and fails when it falls
// below the figures reported in README.md.
func TestCorpus(t *testing.T) {
	tuned, held := measure(t, readNew)
	tuned.log(t, "tuned part")
	if *showHeld {
		held.log(t, "held-out part")
	}
	tunedFloor.check(t, "tuned", tuned.read, tuned.right, tuned.dangerous)
	if !*tuneOnly {
		heldFloor.check(t, "held-out", held.read, held.right, held.dangerous)
	}
}

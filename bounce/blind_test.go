package bounce

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/reply"
)

// testdata/blind holds whole bounce messages written blind: by an agent
// session that saw docs/design.md and DOMAIN.md but neither this package,
// the classifier nor the Sisimai corpus, in the layouts of systems that
// corpus has few or none of. Its labels are our classes and reasons, as a
// careful postmaster would give them (testdata/blind/README.md).

var blindMsgV = flag.Bool("blindmsg.v", false, "log every misread recipient of the tuned part of testdata/blind")

// blindHeld tells whether a file of testdata/blind is in its frozen
// held-out fifth: drawn by hash, fixed before the reader first read it.
func blindHeld(file string) bool {
	return sha256.Sum256([]byte("preflight-blind-msg-1:" + file))[0]%5 == 0
}

type blindLabel struct {
	rcpt                   int
	address, class, reason string
}

func loadBlindLabels(tb testing.TB) (map[string][]blindLabel, []string) {
	tb.Helper()
	f, err := os.Open("testdata/blind/expected.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	out := map[string][]blindLabel{}
	var files []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		c := strings.Split(sc.Text(), "\t")
		if n == 1 || len(c) < 5 {
			continue
		}
		switch reply.Class(c[3]) {
		case reply.Hard, reply.Soft, reply.Block, reply.Unknown:
		default:
			tb.Fatalf("blind/expected.tsv:%d: class %q", n, c[3])
		}
		var r int
		fmt.Sscan(c[1], &r)
		if out[c[0]] == nil {
			files = append(files, c[0])
		}
		out[c[0]] = append(out[c[0]], blindLabel{rcpt: r, address: strings.ToLower(c[2]), class: c[3], reason: c[4]})
	}
	return out, files
}

// blindTally counts one part of testdata/blind.
type blindTally struct {
	msgs, read, notBounces, refusedRight int
	rcpts, right, reasonRight, addrRight int
	dangerous                            int
	wrong                                []string
}

func (t *blindTally) String() string {
	return fmt.Sprintf("messages %d (bounces read %d/%d; non-bounces refused or unknown %d/%d), recipients %d: class %d (%.1f%%), class+reason %d (%.1f%%), address %d (%.1f%%), dangerous %d",
		t.msgs, t.read, t.msgs-t.notBounces, t.refusedRight, t.notBounces, t.rcpts,
		t.right, pct(t.right, t.rcpts), t.reasonRight, pct(t.reasonRight, t.rcpts),
		t.addrRight, pct(t.addrRight, t.rcpts), t.dangerous)
}

// measureBlind reads testdata/blind and tallies its tuned and held-out
// parts. A message labelled as no bounce at all (class unknown, no
// reason) is right when Read refuses it or calls it unknown.
func measureBlind(tb testing.TB) (tuned, held *blindTally) {
	labels, files := loadBlindLabels(tb)
	tuned, held = &blindTally{}, &blindTally{}
	for _, name := range files {
		t := tuned
		if blindHeld(name) {
			if *tuneOnly {
				continue
			}
			t = held
		}
		b, err := os.ReadFile(filepath.Join("testdata/blind/eml", name))
		if err != nil {
			tb.Fatal(err)
		}
		rep, rerr := Read(b)
		ls := labels[name]
		t.msgs++
		notBounce := len(ls) == 1 && ls[0].class == string(reply.Unknown) && ls[0].reason == ""
		if notBounce {
			t.notBounces++
		} else if rerr == nil && len(rep.Recipients) > 0 {
			t.read++
		}
		for i, l := range ls {
			t.rcpts++
			var d Diagnosis
			if i < len(rep.Recipients) {
				d = rep.Recipients[i]
			}
			ok := string(d.Class) == l.class
			if notBounce && errors.Is(rerr, ErrNotBounce) {
				ok = true
				t.refusedRight++
			} else if notBounce && ok {
				t.refusedRight++
			}
			if ok {
				t.right++
				if string(d.Reason) == l.reason || notBounce {
					t.reasonRight++
				}
			}
			if strings.EqualFold(d.Recipient, l.address) || (notBounce && rerr != nil) {
				t.addrRight++
			}
			dangerous := (d.Class == reply.Hard) != (l.class == string(reply.Hard))
			if dangerous {
				t.dangerous++
			}
			reasonOff := ok && !notBounce && string(d.Reason) != l.reason
			if !ok || dangerous || reasonOff || (d.Recipient != "" && !strings.EqualFold(d.Recipient, l.address)) {
				mark := ""
				switch {
				case dangerous:
					mark = "DANGEROUS "
				case reasonOff:
					mark = "(reason) "
				}
				t.wrong = append(t.wrong, fmt.Sprintf("%s%s #%d: want %s/%s %s, got %s/%s %s (%s, err %v): %.160q",
					mark, name, l.rcpt, l.class, l.reason, l.address, d.Class, d.Reason, d.Recipient, d.Format, rerr, d.Diagnostic))
			}
		}
	}
	return tuned, held
}

// Floors: the figures reported in README.md ("Messages written blind").
var (
	blindTunedFloor = floor{read: 102, right: 117, dangerous: 2}
	blindHeldFloor  = floor{read: 22, right: 24, dangerous: 0}
)

// TestBlindMessages measures the reader on testdata/blind. The held-out
// part's figures are logged, never its misses.
func TestBlindMessages(t *testing.T) {
	tuned, held := measureBlind(t)
	t.Logf("tuned part: %v", tuned)
	if *blindMsgV {
		for _, w := range tuned.wrong {
			t.Logf("  %s", w)
		}
	}
	if !*tuneOnly {
		t.Logf("held-out part: %v", held)
	}
	blindTunedFloor.check(t, "tuned", tuned.read, tuned.right, tuned.dangerous)
	if !*tuneOnly {
		blindHeldFloor.check(t, "held-out", held.read, held.right, held.dangerous)
	}
}

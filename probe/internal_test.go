package probe

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNoDATA checks the rule the whole package is built around: the probe
// never sends DATA. The wire (smtpwire) writes only allowed verbs and has
// its own test; here, no string in the probe's code spells DATA or BDAT.
func TestNoDATA(t *testing.T) {
	// The probe's files and the wire's: one scan for both.
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	wire, err := filepath.Glob(filepath.Join("internal", "smtpwire", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, wire...)
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, w := range strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool { return r < 'A' || r > 'Z' }) {
				if w == "DATA" || w == "BDAT" {
					t.Errorf("%s: string literal %s spells %s", fset.Position(lit.Pos()), lit.Value, w)
				}
			}
			return true
		})
	}
}

func TestCatchAllCache(t *testing.T) {
	c := newCatchAllCache(10)
	now := time.Unix(1_700_000_000, 0)
	c.put("a.test", CatchAllYes, time.Hour, now)
	c.put("b.test", CatchAllNo, time.Minute, now)
	if st, ok := c.get("a.test", now.Add(59*time.Minute)); !ok || st != CatchAllYes {
		t.Errorf("a.test = %v, %v", st, ok)
	}
	if _, ok := c.get("b.test", now.Add(time.Minute)); ok {
		t.Error("b.test still cached after its TTL")
	}
	if _, ok := c.get("c.test", now); ok {
		t.Error("c.test cached without a put")
	}
	for i := range 100 {
		c.put(strconv.Itoa(i)+".test", CatchAllNo, time.Hour, now)
		if n := c.len(); n > 10 {
			t.Fatalf("cache holds %d entries, max 10", n)
		}
	}
	// The newest entry always survives its own insertion.
	if _, ok := c.get("99.test", now); !ok {
		t.Error("newest entry evicted")
	}
	c.put("zero.test", CatchAllYes, 0, now)
	if _, ok := c.get("zero.test", now); ok {
		t.Error("zero TTL cached")
	}
}

// TestTestLocal checks the catch-all test's local part: 20 of [a-z0-9],
// the same for a domain within one engine, different between domains and
// between engines (each has its own random key).
func TestTestLocal(t *testing.T) {
	newE := func() *Engine {
		e, err := New(Config{HELO: "probe.example.com", MailFrom: "v@example.com"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	e1, e2 := newE(), newE()
	seen := map[string]bool{}
	for i := range 1000 {
		domain := "d" + strconv.Itoa(i) + ".test"
		l := e1.testLocal(domain)
		if len(l) != testLocalLen || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Fatalf("testLocal(%s) = %q", domain, l)
		}
		if again := e1.testLocal(domain); again != l {
			t.Fatalf("testLocal(%s) = %q, then %q: want it stable", domain, l, again)
		}
		if other := e2.testLocal(domain); other == l {
			t.Fatalf("two engines chose %q for %s: want a key per engine", l, domain)
		}
		if seen[l] {
			t.Fatalf("testLocal repeated %q across domains", l)
		}
		seen[l] = true
	}
}

func TestBackoffGrowth(t *testing.T) {
	e, err := New(Config{HELO: "probe.example.com", MailFrom: "v@example.com", BackoffMin: time.Second, BackoffMax: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := newDispatcher(e, 0, "mx.test")
	var got []time.Duration
	for range 5 {
		d.mu.Lock()
		got = append(got, d.pauseLocked())
		d.mu.Unlock()
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff = %v, want %v", got, want)
		}
	}
	d.healthy()
	d.mu.Lock()
	if p := d.pauseLocked(); p != time.Second {
		t.Errorf("after success backoff = %v, want 1s", p)
	}
	d.mu.Unlock()
}

func TestInterleave(t *testing.T) {
	var jobs []*job
	for _, a := range []string{"a1@a", "a2@a", "a3@a", "b1@b", "c1@c", "b2@b"} {
		_, dom, _ := strings.Cut(a, "@")
		jobs = append(jobs, &job{address: a, domain: dom})
	}
	var got []string
	for _, j := range interleave(jobs) {
		got = append(got, j.address)
	}
	if want := "a1@a b1@b c1@c a2@a b2@b a3@a"; strings.Join(got, " ") != want {
		t.Errorf("interleave = %v, want %s", got, want)
	}
}

// TestInsertByUrgency: a real-time caller goes ahead of bulk callers and
// behind earlier real-time ones; a bulk caller goes last.
func TestInsertByUrgency(t *testing.T) {
	mk := func(name string, patience time.Duration) *job {
		return &job{address: name, ctx: context.Background(), patience: time.Now().Add(patience)}
	}
	var q []*job
	for _, j := range []*job{mk("bulk1", 5*time.Minute), mk("rt1", 2*time.Second), mk("bulk2", 5*time.Minute), mk("rt2", 2*time.Second)} {
		q = insertByUrgency(q, j)
	}
	var got []string
	for _, j := range q {
		got = append(got, j.address)
	}
	if want := []string{"rt1", "rt2", "bulk1", "bulk2"}; !slices.Equal(got, want) {
		t.Fatalf("queue %v, want %v", got, want)
	}
}

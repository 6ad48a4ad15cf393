package disposable_test

import (
	"bufio"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/preflight-email/preflight/disposable"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func mustNew(t testing.TB) *disposable.List {
	t.Helper()
	l, err := disposable.New()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// parseFlags reads the flags column of testdata/lookups.txt.
func parseFlags(t *testing.T, s string) disposable.Flags {
	t.Helper()
	var f disposable.Flags
	if s == "none" {
		return f
	}
	for name := range strings.SplitSeq(s, ",") {
		switch name {
		case "disposable":
			f.Disposable = true
		case "role":
			f.Role = true
		case "free":
			f.Free = true
		default:
			t.Fatalf("unknown flag %q", name)
		}
	}
	return f
}

type lookupCase struct {
	line          int
	local, domain string
	want          disposable.Flags
}

// readCases reads a whitespace-separated table: local domain flags.
func readCases(t *testing.T, path string) []lookupCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []lookupCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		cols := strings.Fields(line)
		if len(cols) != 3 {
			t.Fatalf("%s:%d: want 3 columns, got %d", path, n, len(cols))
		}
		for i := range 2 {
			if cols[i] == "(empty)" {
				cols[i] = ""
			}
		}
		cases = append(cases, lookupCase{n, cols[0], cols[1], parseFlags(t, cols[2])})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return cases
}

// checkCases runs every case through Lookup and the single-question methods,
// which must agree with it.
func checkCases(t *testing.T, l *disposable.List, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		got := l.Lookup(c.local, c.domain)
		if got != c.want {
			t.Errorf("line %d: Lookup(%q, %q) = %+v, want %+v", c.line, c.local, c.domain, got, c.want)
		}
		if d, f, r := l.IsDisposable(c.domain), l.IsFree(c.domain), l.IsRole(c.local); d != got.Disposable || f != got.Free || r != got.Role {
			t.Errorf("line %d: IsDisposable/IsFree/IsRole = %v/%v/%v disagree with Lookup %+v", c.line, d, f, r, got)
		}
	}
}

func TestLookup(t *testing.T) {
	checkCases(t, mustNew(t), readCases(t, filepath.Join("testdata", "lookups.txt")))
}

func TestLoadOverrides(t *testing.T) {
	base := mustNew(t)
	l, err := disposable.Load(filepath.Join("testdata", "overrides", "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checkCases(t, l, readCases(t, filepath.Join("testdata", "overrides-valid-lookups.txt")))

	// valid.txt adds two disposable domains and removes one; adds three free
	// domains of which two are disposable and dropped, and removes one; and
	// nets one role entry (+jane.ops -info +billing-team).
	bd, bf, br := base.Counts()
	gd, gf, gr := l.Counts()
	if gd != bd+1 || gf != bf+1 || gr != br+1 {
		t.Errorf("Counts() = %d, %d, %d; want %d, %d, %d", gd, gf, gr, bd+1, bf+1, br+1)
	}

	// A byte order mark and CRLF line ends are accepted.
	l, err = disposable.Load(filepath.Join("testdata", "overrides", "bom-crlf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !l.IsDisposable("bom-first-line.example") || !l.IsRole("crlf-ops") {
		t.Errorf("bom-crlf.txt: directives not applied: %+v", l.Lookup("crlf-ops", "bom-first-line.example"))
	}
}

func TestReload(t *testing.T) {
	dir := filepath.Join("testdata", "overrides")
	l := mustNew(t)
	baseD, baseF, baseR := l.Counts()
	if err := l.Reload(filepath.Join(dir, "valid.txt")); err != nil {
		t.Fatal(err)
	}
	if !l.IsDisposable("my-temp-mail.example") {
		t.Fatal("Reload(valid.txt) did not apply the overrides")
	}

	// A bad file is an error and leaves the previous lists in place.
	err := l.Reload(filepath.Join(dir, "bad-list.txt"))
	if !errors.Is(err, disposable.ErrUnknownList) {
		t.Fatalf("Reload(bad-list.txt) = %v, want ErrUnknownList", err)
	}
	if !l.IsDisposable("my-temp-mail.example") || l.IsDisposable("mailinator.com") {
		t.Error("failed Reload changed the lists")
	}
	err = l.Reload(filepath.Join(dir, "no-such-file.txt"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Reload(missing) = %v, want fs.ErrNotExist", err)
	}

	// Reload("") goes back to the embedded lists; overrides do not pile up.
	if err := l.Reload(""); err != nil {
		t.Fatal(err)
	}
	if d, f, r := l.Counts(); d != baseD || f != baseF || r != baseR {
		t.Errorf("after Reload(\"\"): Counts() = %d, %d, %d; want %d, %d, %d", d, f, r, baseD, baseF, baseR)
	}
	if l.IsDisposable("my-temp-mail.example") || !l.IsDisposable("mailinator.com") {
		t.Error("Reload(\"\") kept overrides")
	}
}

func TestZeroList(t *testing.T) {
	var l disposable.List
	if got := l.Lookup("info", "mailinator.com"); got != (disposable.Flags{}) {
		t.Errorf("zero List: Lookup = %+v, want no flags", got)
	}
	if d, f, r := l.Counts(); d != 0 || f != 0 || r != 0 {
		t.Errorf("zero List: Counts() = %d, %d, %d", d, f, r)
	}
	if err := l.Reload(""); err != nil {
		t.Fatal(err)
	}
	if !l.Lookup("info", "mailinator.com").Disposable {
		t.Error("zero List after Reload: embedded lists not loaded")
	}
}

func TestMalformedOverrides(t *testing.T) {
	tests := []struct {
		file string
		line int
		want error
	}{
		{"bad-list.txt", 3, disposable.ErrUnknownList},
		{"bad-op.txt", 2, disposable.ErrSyntax},
		{"bad-fields.txt", 2, disposable.ErrSyntax},
		{"bad-short.txt", 1, disposable.ErrSyntax},
		{"bad-domain.txt", 2, disposable.ErrInvalidEntry},
		{"bad-label.txt", 1, disposable.ErrInvalidEntry},
		{"bad-role.txt", 3, disposable.ErrInvalidEntry},
		{"bad-utf8.txt", 3, disposable.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "overrides", tt.file)
			l, err := disposable.Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %v, nil; want an error", tt.file, l)
			}
			var le *disposable.LineError
			if !errors.As(err, &le) {
				t.Fatalf("Load(%s) error %T %v is not a *LineError", tt.file, err, err)
			}
			if le.Path != path || le.Line != tt.line {
				t.Errorf("LineError at %s:%d, want %s:%d", le.Path, le.Line, path, tt.line)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			golden := strings.TrimSuffix(path, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(err.Error()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run go test -update to create it)", rerr)
			}
			if got := err.Error() + "\n"; got != string(want) {
				t.Errorf("error text:\n got: %s want: %s", got, want)
			}
		})
	}
}

// TestConcurrentReload swaps between two overrides files while lookups run;
// run it with -race. Every lookup must see one whole snapshot: flip.example
// is disposable in flip-a.txt and free in flip-b.txt, and admin is a role
// in the embedded list but removed by flip-a.txt.
func TestConcurrentReload(t *testing.T) {
	a := filepath.Join("testdata", "overrides", "flip-a.txt")
	b := filepath.Join("testdata", "overrides", "flip-b.txt")
	l, err := disposable.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	stateA := disposable.Flags{Disposable: true}
	stateB := disposable.Flags{Free: true, Role: true}

	stop := make(chan struct{})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		seen   = map[disposable.Flags]int{}
		broken []disposable.Flags
	)
	for range 2 {
		wg.Go(func() {
			local := map[disposable.Flags]int{}
			var bad []disposable.Flags
			for {
				select {
				case <-stop:
					mu.Lock()
					for k, v := range local {
						seen[k] += v
					}
					broken = append(broken, bad...)
					mu.Unlock()
					return
				default:
				}
				// Lookup reads one snapshot, so its flags must match one file.
				f := l.Lookup("admin", "x.flip.example")
				if f != stateA && f != stateB {
					bad = append(bad, f)
				}
				local[f]++
			}
		})
	}
	for i := range 200 {
		path := a
		if i%2 == 0 {
			path = b
		}
		if err := l.Reload(path); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	if len(broken) > 0 {
		t.Errorf("lookups saw mixed snapshots: %+v", broken[:min(len(broken), 5)])
	}
	if len(seen) == 0 {
		t.Error("no lookups ran")
	}
	if got := l.Lookup("admin", "flip.example"); got != stateA {
		t.Errorf("after the last Reload(flip-a.txt): %+v, want %+v", got, stateA)
	}
}

// readData returns the entries of a generated list file, checking that it
// starts with the provenance header and is sorted and unique.
func readData(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("data", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if h := lines[0]; !strings.HasPrefix(h, "# source: npm ") || !strings.Contains(h, "licence: ") {
		t.Errorf("%s: header %q does not give source and licence", name, h)
	}
	entries := lines[1:]
	if !slices.IsSorted(entries) {
		t.Errorf("%s: not sorted", name)
	}
	if len(slices.Compact(slices.Clone(entries))) != len(entries) {
		t.Errorf("%s: duplicate entries", name)
	}
	return entries
}

func TestCounts(t *testing.T) {
	l := mustNew(t)
	disp, free, role := readData(t, "disposable.txt"), readData(t, "free.txt"), readData(t, "role.txt")
	d, f, r := l.Counts()
	if d == 0 || f == 0 || r == 0 {
		t.Fatalf("Counts() = %d, %d, %d; every list must be non-empty", d, f, r)
	}
	if d != len(disp) || f != len(free) || r != len(role) {
		t.Errorf("Counts() = %d, %d, %d; files have %d, %d, %d", d, f, r, len(disp), len(free), len(role))
	}
	// free ∩ disposable = ∅, also through parent domains, and every entry
	// of every file is found.
	for _, e := range disp {
		if !l.IsDisposable(e) || l.IsFree(e) {
			t.Errorf("disposable.txt %q: IsDisposable %v, IsFree %v", e, l.IsDisposable(e), l.IsFree(e))
		}
	}
	for _, e := range free {
		if !l.IsFree(e) || l.IsDisposable(e) {
			t.Errorf("free.txt %q: IsFree %v, IsDisposable %v", e, l.IsFree(e), l.IsDisposable(e))
		}
	}
	for _, e := range role {
		if !l.IsRole(e) || !l.IsRole(strings.ToUpper(e)+"+tag") {
			t.Errorf("role.txt %q: not a role", e)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	l := mustNew(t)
	for _, c := range [][2]string{
		{"Info+news", "a.b.mailinator.com"},
		{"jane.doe", "gmail.com"},
		{"someone", "mail.example.org"},
		{strings.Repeat("A", 80), "example.org"},
	} {
		if n := testing.AllocsPerRun(200, func() { l.Lookup(c[0], c[1]) }); n != 0 {
			t.Errorf("Lookup(%q, %q): %v allocations, want 0", c[0], c[1], n)
		}
	}
}

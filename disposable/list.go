package disposable

import (
	_ "embed"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/preflight-email/preflight/disposable/internal/entry"
)

// The generated lists (habit 10: data is embedded; provenance sits next to
// the files in data/PROVENANCE.md). Strings, so they cannot be modified.
var (
	//go:embed data/disposable.txt
	disposableTxt string
	//go:embed data/free.txt
	freeTxt string
	//go:embed data/role.txt
	roleTxt string
)

// Flags is the evidence this stage adds for one address.
type Flags struct {
	Disposable bool // the domain, or a parent of it, is a throwaway-mail domain
	Role       bool // the local part names a role or a group, not a person
	Free       bool // a free mailbox provider; never set together with Disposable
}

// List answers lookups against one immutable snapshot of the lists. It is
// safe for concurrent use. Make it with [New] or [Load]; a zero List matches
// nothing until [List.Reload] is called.
type List struct {
	cur atomic.Pointer[set]
}

// kind tells which domain list an entry came from. The lists are disjoint, so
// one map with a kind per domain answers both questions in one walk.
type kind uint8

const (
	kindNone kind = iota
	kindDisposable
	kindFree
)

// set is one snapshot. It is never modified after it is published.
type set struct {
	domains     map[string]kind
	role        map[string]struct{}
	nDisposable int
	nFree       int
	base        *lists // the embedded lists every reload starts from
}

// lists are the parsed embedded files, normalized, sorted and unique.
type lists struct {
	disposable, free, role []string
}

// New returns a List with the embedded lists and no overrides.
func New() (*List, error) {
	return Load("")
}

// Load returns a List with the embedded lists and the directives of the
// overrides file at overridesPath applied; "" means no overrides file.
func Load(overridesPath string) (*List, error) {
	l := new(List)
	if err := l.Reload(overridesPath); err != nil {
		return nil, err
	}
	return l, nil
}

// Reload re-reads the overrides file (or none, for ""), builds a new snapshot
// from the embedded lists and swaps it in atomically. On error the List keeps
// the snapshot it had. Lookups running meanwhile are not blocked.
func (l *List) Reload(overridesPath string) error {
	var base *lists
	if cur := l.cur.Load(); cur != nil {
		base = cur.base
	} else {
		b, err := embedded()
		if err != nil {
			return err
		}
		base = b
	}
	var dirs []directive
	if overridesPath != "" {
		d, err := readOverrides(overridesPath)
		if err != nil {
			return err
		}
		dirs = d
	}
	l.cur.Store(build(base, dirs))
	return nil
}

// Lookup returns the flags for local@domain. domain must be ASCII and
// lowercase. It does not allocate.
func (l *List) Lookup(local, domain string) Flags {
	s := l.cur.Load()
	if s == nil {
		return Flags{}
	}
	k := s.match(domain)
	return Flags{
		Disposable: k == kindDisposable,
		Role:       s.isRole(local),
		Free:       k == kindFree,
	}
}

// IsDisposable reports whether domain or a parent of it is a disposable
// domain. domain must be ASCII and lowercase.
func (l *List) IsDisposable(domain string) bool {
	s := l.cur.Load()
	return s != nil && s.match(domain) == kindDisposable
}

// IsFree reports whether domain or a parent of it is a free mailbox provider
// and not disposable. domain must be ASCII and lowercase.
func (l *List) IsFree(domain string) bool {
	s := l.cur.Load()
	return s != nil && s.match(domain) == kindFree
}

// IsRole reports whether local, ignoring case and any "+tag", is a role
// local part.
func (l *List) IsRole(local string) bool {
	s := l.cur.Load()
	return s != nil && s.isRole(local)
}

// Counts returns the number of entries in each list of the current snapshot.
func (l *List) Counts() (disposable, free, role int) {
	s := l.cur.Load()
	if s == nil {
		return 0, 0, 0
	}
	return s.nDisposable, s.nFree, len(s.role)
}

// match walks domain and its parents, most specific first, and returns the
// kind of the first listed one. Taking substrings does not allocate. The
// walk stops before the last label: entries always have two labels or more.
// One trailing root dot is ignored (RFC 1034 §3.1: "example.com." is the
// same name).
func (s *set) match(domain string) kind {
	domain = strings.TrimSuffix(domain, ".")
	for {
		i := strings.IndexByte(domain, '.')
		if i < 0 {
			return kindNone
		}
		if k, ok := s.domains[domain]; ok {
			return k
		}
		domain = domain[i+1:]
	}
}

// isRole lowercases the local part before any '+' (RFC 5233 subaddress) into
// a stack buffer; indexing a map with string(buf[:n]) does not allocate.
// Local parts are at most 64 octets (RFC 5321 §4.5.3.1.1), so a longer one
// cannot be listed.
func (s *set) isRole(local string) bool {
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	if local == "" || len(local) > entry.MaxLocal {
		return false
	}
	var buf [entry.MaxLocal]byte
	for i := 0; i < len(local); i++ {
		c := local[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := s.role[string(buf[:len(local)])]
	return ok
}

// build applies the directives to the base lists and returns a new
// snapshot. Free domains that are disposable, exactly or through a parent,
// are dropped so that the two domain lists stay disjoint.
func build(base *lists, dirs []directive) *set {
	disp := toSet(base.disposable, len(dirs))
	free := toSet(base.free, len(dirs))
	role := toSet(base.role, len(dirs))
	for _, d := range dirs {
		m := disp
		switch d.list {
		case listFree:
			m = free
		case listRole:
			m = role
		}
		if d.add {
			m[d.entry] = struct{}{}
		} else {
			delete(m, d.entry)
		}
	}
	s := &set{
		domains: make(map[string]kind, len(disp)+len(free)),
		role:    role,
		base:    base,
	}
	for d := range disp {
		s.domains[d] = kindDisposable
	}
	s.nDisposable = len(disp)
	for f := range free {
		if s.match(f) == kindDisposable {
			continue
		}
		s.domains[f] = kindFree
		s.nFree++
	}
	return s
}

func toSet(entries []string, extra int) map[string]struct{} {
	m := make(map[string]struct{}, len(entries)+extra)
	for _, e := range entries {
		m[e] = struct{}{}
	}
	return m
}

// embedded parses the generated files. They are already normalized; any
// line that is not is reported, because it means someone edited a generated
// file by hand.
func embedded() (*lists, error) {
	var (
		b   lists
		err error
	)
	if b.disposable, err = parseList("data/disposable.txt", disposableTxt, entry.Domain); err != nil {
		return nil, err
	}
	if b.free, err = parseList("data/free.txt", freeTxt, entry.Domain); err != nil {
		return nil, err
	}
	if b.role, err = parseList("data/role.txt", roleTxt, entry.Local); err != nil {
		return nil, err
	}
	return &b, nil
}

func parseList(name, text string, norm func(string) (string, error)) ([]string, error) {
	out := make([]string, 0, strings.Count(text, "\n"))
	n := 0
	for line := range strings.Lines(text) {
		n++
		line = strings.TrimSuffix(line, "\n")
		if line == "" || line[0] == '#' {
			continue
		}
		e, err := norm(line)
		switch {
		case err != nil:
			err = fmt.Errorf("%w: %w", ErrInvalidEntry, err)
		case e != line:
			err = fmt.Errorf("%w: %q is not normalized (want %q)", ErrInvalidEntry, line, e)
		}
		if err != nil {
			return nil, &LineError{Path: name, Line: n, Err: err}
		}
		out = append(out, e)
	}
	return out, nil
}

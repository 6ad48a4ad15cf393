// Command gen rebuilds disposable/data from the upstream npm packages.
//
// It runs `npm pack <name>@<version>` into a temporary directory, checks the
// tarball against the integrity npm reports, reads the list file out of the
// tarball (nothing from the package is executed), normalizes the entries with
// the same rules the loader applies, and writes data/disposable.txt,
// data/free.txt, data/role.txt, the upstream licence files and
// data/PROVENANCE.md. Run it through `go generate` in disposable/.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/preflight-email/preflight/disposable/internal/entry"
)

// source describes one upstream package and where its list sits inside it.
type source struct {
	name    string // npm package name
	version string // exact version; bump here to update the data
	licence string // SPDX id the package.json must declare
	list    string // path of the list inside the tarball
	licFile string // path of the licence text inside the tarball
	out     string // file written under the output directory
	parse   func([]byte) ([]string, error)
	norm    func(string) (string, error)
	note    string // where the package itself gets its data (for PROVENANCE.md)
}

// Fixed so that regenerating is reproducible except for the fetch date.
var sources = []source{
	{
		name: "disposable-email-domains-js", version: "1.26.0", licence: "CC0-1.0",
		list: "package/dist/dict/disposable_email_blocklist.json", licFile: "package/LICENSE",
		out: "disposable.txt", parse: parseJSONList, norm: entry.Domain,
		note: "An npm packaging of the disposable-email-domains/disposable-email-domains " +
			"blocklist (CC0-1.0), https://github.com/disposable-email-domains/disposable-email-domains.",
	},
	{
		name: "free-email-domains", version: "1.12.6", licence: "MIT",
		list: "package/domains.json", licFile: "package/LICENSE.md",
		out: "free.txt", parse: parseJSONList, norm: entry.Domain,
		note: "The package's scripts/postinstall.mjs builds domains.json from HubSpot's " +
			"free-domains CSV, castle/disposable-email-domains, " +
			"disposable-email-domains/disposable-email-domains and a hand-kept list; it therefore " +
			"contains disposable domains too, which we subtract.",
	},
	{
		name: "role-based-email-addresses", version: "3.1.0", licence: "MIT",
		list: "package/src/index.js", licFile: "package/LICENSE",
		out: "role.txt", parse: parseJSArrays, norm: entry.Local,
		note: "Mixmax's list of role-based local parts (the arrays MARKETING, NOTIFICATION, " +
			"MEETING and OTHER in src/index.js).",
	},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// result is what one source produced, for the list file and PROVENANCE.md.
type result struct {
	src       source
	meta      pkgMeta
	integrity string
	raw       int      // entries in the upstream file
	rejected  []string // entries that failed validation, with the reason
	entries   []string // normalized, deduplicated, sorted
	exact     int      // free only: entries removed because disposable lists them
	covered   int      // free only: entries removed because disposable lists a parent
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", "data", "output directory")
	npm := fs.String("npm", "npm", "npm executable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "disposable-gen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	results := make([]*result, len(sources))
	for i, src := range sources {
		r, err := fetch(ctx, *npm, tmp, src)
		if err != nil {
			return fmt.Errorf("%s@%s: %w", src.name, src.version, err)
		}
		results[i] = r
	}

	// The free list must never claim a domain the disposable list claims,
	// either exactly or through a parent domain, because lookups match
	// subdomains of a listed domain.
	disp, free := results[0], results[1]
	free.entries, free.exact, free.covered = subtractCovered(free.entries, disp.entries)

	// Write only once every package has been fetched and checked, so a
	// failed run leaves data/ as it was.
	for _, r := range results {
		if err := writeList(filepath.Join(*out, r.src.out), r); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "LICENSE."+r.src.name), r.meta.licenceText, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-28s %s: %d upstream, %d rejected, %d subtracted, %d written to %s\n",
			r.src.name, r.src.version, r.raw, len(r.rejected), r.exact+r.covered, len(r.entries), r.src.out)
		for _, rej := range r.rejected {
			fmt.Fprintf(stdout, "  rejected: %s\n", rej)
		}
	}
	date := time.Now().UTC().Format(time.DateOnly)
	return os.WriteFile(filepath.Join(*out, "PROVENANCE.md"), provenance(results, date), 0o644)
}

// pkgMeta is the part of package.json we check and record.
type pkgMeta struct {
	Name       string          `json:"name"`
	Version    string          `json:"version"`
	License    string          `json:"license"`
	Homepage   string          `json:"homepage"`
	Repository json.RawMessage `json:"repository"`

	licenceText []byte
}

// repoURL returns the repository URL whether package.json gives it as a
// string or as {"type", "url"}.
func (m pkgMeta) repoURL() string {
	var s string
	if json.Unmarshal(m.Repository, &s) == nil {
		return s
	}
	var o struct{ URL string }
	if json.Unmarshal(m.Repository, &o) == nil {
		return o.URL
	}
	return ""
}

func fetch(ctx context.Context, npm, tmp string, src source) (*result, error) {
	dir := filepath.Join(tmp, src.name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, npm, "pack", "--json", src.name+"@"+src.version)
	cmd.Dir = dir
	cmd.Stderr = io.Discard // npm notices; the JSON on stdout is what we need
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm pack: %w", err)
	}
	var packed []struct {
		Name, Version, Filename, Integrity string
	}
	if err := json.Unmarshal(outb, &packed); err != nil || len(packed) != 1 {
		return nil, fmt.Errorf("npm pack: unexpected output %q", outb)
	}
	p := packed[0]
	tgz, err := os.ReadFile(filepath.Join(dir, p.Filename))
	if err != nil {
		return nil, err
	}
	if err := checkIntegrity(tgz, p.Integrity); err != nil {
		return nil, err
	}
	files, err := extract(tgz, "package/package.json", src.list, src.licFile)
	if err != nil {
		return nil, err
	}
	var meta pkgMeta
	if err := json.Unmarshal(files["package/package.json"], &meta); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	if meta.Name != src.name || meta.Version != src.version || meta.License != src.licence {
		return nil, fmt.Errorf("package.json says %s@%s licence %q, want %s@%s licence %q",
			meta.Name, meta.Version, meta.License, src.name, src.version, src.licence)
	}
	meta.licenceText = files[src.licFile]

	raw, err := src.parse(files[src.list])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.list, err)
	}
	entries, rejected := normalize(raw, src.norm)
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: no usable entries", src.list)
	}
	return &result{src: src, meta: meta, integrity: p.Integrity, raw: len(raw),
		rejected: rejected, entries: entries}, nil
}

// checkIntegrity compares the tarball with npm's Subresource Integrity
// string, so what we parse is what the registry published.
func checkIntegrity(tgz []byte, integrity string) error {
	want, ok := strings.CutPrefix(integrity, "sha512-")
	if !ok {
		return fmt.Errorf("unsupported integrity %q", integrity)
	}
	sum := sha512.Sum512(tgz)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("tarball sha512 %s does not match integrity %s", got, integrity)
	}
	return nil
}

// extract returns the named regular files from a gzipped tarball. A missing
// file is an error: it means the package layout changed and a person should
// look before the data does.
func extract(tgz []byte, names ...string) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	files := make(map[string][]byte, len(names))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || !slices.Contains(names, h.Name) {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
		if err != nil {
			return nil, err
		}
		files[h.Name] = b
	}
	for _, n := range names {
		if _, ok := files[n]; !ok {
			return nil, fmt.Errorf("tarball has no %s", n)
		}
	}
	return files, nil
}

// parseJSONList reads a JSON array of strings.
func parseJSONList(b []byte) ([]string, error) {
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	return l, nil
}

// parseJSArrays reads the string literals of `const NAME = [ ... ];` blocks
// in a CommonJS file, without running it. It is deliberately strict: inside a
// block every line must be one single-quoted literal without escapes, so a
// change of layout upstream fails here instead of silently losing entries.
// It also checks that module.exports spreads every array it found.
func parseJSArrays(b []byte) ([]string, error) {
	var (
		out    []string
		arrays []string
		inside bool
		export string
	)
	for i, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case !inside && strings.HasPrefix(t, "const ") && strings.HasSuffix(t, "= ["):
			name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "const "), "= ["))
			arrays = append(arrays, name)
			inside = true
		case inside && (t == "];" || t == "]"):
			inside = false
		case inside:
			s, _ := strings.CutSuffix(t, ",")
			if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' ||
				strings.ContainsAny(s[1:len(s)-1], `'\`) {
				return nil, fmt.Errorf("line %d: not a plain string literal: %q", i+1, t)
			}
			out = append(out, s[1:len(s)-1])
		case strings.HasPrefix(t, "module.exports = ["):
			export = t
		}
	}
	if inside {
		return nil, errors.New("unterminated array")
	}
	if len(arrays) == 0 || export == "" {
		return nil, errors.New("no arrays or no module.exports array found")
	}
	for _, a := range arrays {
		if !strings.Contains(export, "..."+a) {
			return nil, fmt.Errorf("array %s is not part of module.exports", a)
		}
	}
	return out, nil
}

// normalize applies norm to every entry, then dedupes and sorts. Rejected
// entries are returned with the reason so the run can print them.
func normalize(raw []string, norm func(string) (string, error)) (entries, rejected []string) {
	seen := make(map[string]bool, len(raw))
	for _, r := range raw {
		e, err := norm(r)
		if err != nil {
			rejected = append(rejected, err.Error())
			continue
		}
		if !seen[e] {
			seen[e] = true
			entries = append(entries, e)
		}
	}
	slices.Sort(entries)
	return entries, rejected
}

// subtractCovered removes from free every domain that is in disposable or
// is a subdomain of a domain in disposable.
func subtractCovered(free, disposable []string) (kept []string, exact, sub int) {
	disp := make(map[string]bool, len(disposable))
	for _, d := range disposable {
		disp[d] = true
	}
	for _, f := range free {
		switch {
		case disp[f]:
			exact++
		case covered(f, disp):
			sub++
		default:
			kept = append(kept, f)
		}
	}
	return kept, exact, sub
}

func covered(d string, set map[string]bool) bool {
	for {
		if set[d] {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
}

func header(r *result) string {
	h := fmt.Sprintf("# source: npm %s@%s (%s); licence: %s", r.src.name, r.src.version,
		strings.TrimPrefix(r.meta.repoURL(), "git+"), r.src.licence)
	if r.exact+r.covered > 0 {
		h += "; minus the disposable list"
	}
	return h + "; generated by internal/gen, do not edit\n"
}

func writeList(path string, r *result) error {
	var b strings.Builder
	b.WriteString(header(r))
	for _, e := range r.entries {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func provenance(results []*result, date string) []byte {
	var b strings.Builder
	b.WriteString("# Provenance of the embedded lists\n\n")
	b.WriteString("Generated by `internal/gen` (run `go generate` in `disposable/`, which runs\n")
	b.WriteString("`go run ./internal/gen -out data`). Do not edit the list files by hand; change\n")
	b.WriteString("the pinned versions in `internal/gen/main.go`, or use an overrides file at run time.\n\n")
	fmt.Fprintf(&b, "Fetched: %s, with `npm pack <package>@<version>` from the npm registry.\n\n", date)
	b.WriteString("| file | package | version | licence | upstream | file in package | upstream entries | rejected | subtracted (exact + subdomain) | entries |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| `%s` | [%s](https://www.npmjs.com/package/%s) | %s | %s | %s | `%s` | %d | %d | %d + %d | %d |\n",
			r.src.out, r.src.name, r.src.name, r.src.version, r.src.licence,
			strings.TrimPrefix(r.meta.repoURL(), "git+"), strings.TrimPrefix(r.src.list, "package/"),
			r.raw, len(r.rejected), r.exact, r.covered, len(r.entries))
	}
	b.WriteString("\n## Per package\n")
	for _, r := range results {
		fmt.Fprintf(&b, "\n### %s %s\n\n", r.src.name, r.src.version)
		fmt.Fprintf(&b, "- Licence: %s; full text in `LICENSE.%s` (copied from `%s` in the tarball).\n",
			r.src.licence, r.src.name, strings.TrimPrefix(r.src.licFile, "package/"))
		fmt.Fprintf(&b, "- Homepage: %s\n", r.meta.Homepage)
		fmt.Fprintf(&b, "- Tarball integrity: `%s` (checked against the downloaded tarball).\n", r.integrity)
		fmt.Fprintf(&b, "- Data origin: %s\n", r.src.note)
		for _, rej := range r.rejected {
			fmt.Fprintf(&b, "- Rejected: %s\n", rej)
		}
	}
	b.WriteString("\n## Normalization\n\n")
	b.WriteString("Domains: trimmed, lowercased, U-labels converted to A-labels (UTS #46 lookup),\n")
	b.WriteString("one trailing dot dropped; each label must be letters, digits and inner hyphens\n")
	b.WriteString("(RFC 1123 §2.1) of at most 63 octets, and a domain needs two labels.\n")
	b.WriteString("Role local parts: trimmed, lowercased, RFC 5322 dot-atom of at most 64 octets,\n")
	b.WriteString("without `+` (lookups strip a `+tag`) or `#` (the comment character).\n")
	b.WriteString("Every list is deduplicated and sorted. `free.txt` drops every domain that is in\n")
	b.WriteString("`disposable.txt` or is a subdomain of a domain in it, because lookups match\n")
	b.WriteString("subdomains and a domain must never be both free and disposable.\n")
	return []byte(b.String())
}

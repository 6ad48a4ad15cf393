package disposable_test

import (
	"testing"

	"github.com/preflight-email/preflight/disposable"
)

var benchCases = []struct{ name, local, domain string }{
	{"miss", "jane.doe", "mail.example.org"},
	{"free", "jane.doe", "gmail.com"},
	{"disposable_subdomain", "jane", "a.b.mailinator.com"},
	{"role_tag_upper", "Info+newsletter", "example.org"},
}

// sink keeps the compiler from discarding the lookups.
var sink disposable.Flags

func BenchmarkLookup(b *testing.B) {
	l := mustNew(b)
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = l.Lookup(c.local, c.domain)
			}
		})
	}
}

// BenchmarkLookupParallel runs lookups on every CPU, as request handlers do.
func BenchmarkLookupParallel(b *testing.B) {
	l := mustNew(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var f disposable.Flags
		i := 0
		for pb.Next() {
			c := benchCases[i%len(benchCases)]
			f = l.Lookup(c.local, c.domain)
			i++
		}
		_ = f
	})
}

// BenchmarkReload measures building a snapshot (what New and Reload cost).
func BenchmarkReload(b *testing.B) {
	l := mustNew(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Reload("testdata/overrides/valid.txt"); err != nil {
			b.Fatal(err)
		}
	}
}

package syntax

import "testing"

// realistic is a mix like a signup list: mostly normalized ASCII, some with
// upper case, a few tagged, quoted, international or broken.
var realistic = []string{
	"jane.doe@gmail.com",
	"j.smith@yahoo.com",
	"mike1987@hotmail.com",
	"info@acme-widgets.com",
	"Sales@Example.COM",
	"first.last+news@outlook.com",
	"kontakt@web.de",
	"user@mail.ru",
	"  padded@icloud.com ",
	"anna_k@company.co.uk",
	"a.b.c.d@sub.domain.example.org",
	"12345@qq.com",
	"josé@example.es",
	`"john doe"@example.com`,
	"broken@@example.com",
	"Jane <jane@example.com>",
}

func BenchmarkParse(b *testing.B) {
	run := func(b *testing.B, in []string) {
		b.ReportAllocs()
		var n int
		for i := 0; b.Loop(); i++ {
			a, _ := Parse(in[i%len(in)])
			n += len(a.Normalized)
		}
		_ = n
	}
	b.Run("normalized", func(b *testing.B) {
		run(b, []string{"jane.doe@gmail.com", "info@acme-widgets.com", "first.last+news@outlook.com", "kontakt@web.de"})
	})
	b.Run("uppercase_domain", func(b *testing.B) {
		run(b, []string{"Sales@Example.COM", "jane@GMAIL.com"})
	})
	b.Run("mixed", func(b *testing.B) { run(b, realistic) })
	b.Run("idn", func(b *testing.B) {
		run(b, []string{"jane@bücher.de", "info@münchen.de", "jane@xn--bcher-kva.de"})
	})
}

func BenchmarkSuggest(b *testing.B) {
	s := DefaultSuggester()
	for _, tc := range []struct{ name, domain string }{
		{"known", "gmail.com"},
		{"typo", "gmial.com"},
		{"typo_tld", "hotmail.con"},
		{"unrelated", "acme-widgets.com"},
		{"unrelated_short", "example.org"},
		{"tld_fix", "acme-widgets.con"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = s.Suggest(tc.domain)
			}
		})
	}
}

// BenchmarkParseSuggest is the offline per-address cost of this package in a
// bulk job: parse, then look for a typo in the domain.
func BenchmarkParseSuggest(b *testing.B) {
	s := DefaultSuggester()
	b.ReportAllocs()
	var n int
	for i := 0; b.Loop(); i++ {
		a, err := Parse(realistic[i%len(realistic)])
		if err == nil {
			n += len(s.Suggest(a.Domain))
		}
	}
	_ = n
}

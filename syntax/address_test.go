package syntax

import (
	"errors"
	"strings"
	"testing"
)

type parseCase struct {
	name   string
	in     string
	local  string // expected Local; Normalized is local + "@" + domain
	domain string
	utf8   bool
	err    error
}

// Lengths at and just over the limits.
var (
	local64   = strings.Repeat("a", 64)
	local65   = strings.Repeat("a", 65)
	label63   = strings.Repeat("b", 63)
	label64   = strings.Repeat("b", 64)
	domain189 = strings.Join([]string{label63, label63, strings.Repeat("c", 57), "com"}, ".") // 63+1+63+1+57+1+3
	domain190 = strings.Join([]string{label63, label63, strings.Repeat("c", 58), "com"}, ".")
	domain259 = strings.Join([]string{label63, label63, label63, label63, "com"}, ".")
)

func validCases() []parseCase {
	return []parseCase{
		{name: "plain", in: "jane@example.com", local: "jane", domain: "example.com"},
		{name: "case kept in local, folded in domain", in: "Jane.Doe@Example.COM", local: "Jane.Doe", domain: "example.com"},
		{name: "surrounding whitespace", in: " \t jane@example.com\r\n", local: "jane", domain: "example.com"},
		{name: "vertical tab and form feed", in: "\v\fjane@example.com\f", local: "jane", domain: "example.com"},
		{name: "plus tag and subdomain", in: "first.last+tag@mail.example.co.uk", local: "first.last+tag", domain: "mail.example.co.uk"},
		{name: "every atext special", in: "!#$%&'*+-/=?^_`{|}~@example.com", local: "!#$%&'*+-/=?^_`{|}~", domain: "example.com"},
		{name: "digits", in: "12345@123.example.com", local: "12345", domain: "123.example.com"},
		{name: "short", in: "a@b.co", local: "a", domain: "b.co"},
		{name: "hyphens inside labels", in: "x@my-mail-host.example-domain.com", local: "x", domain: "my-mail-host.example-domain.com"},
		{name: "label starting with digit", in: "x@3com.com", local: "x", domain: "3com.com"},
		{name: "IDN TLD in A-label form", in: "x@example.xn--p1ai", local: "x", domain: "example.xn--p1ai"},
		{name: "ASCII R-LDH label is host-name syntax", in: "x@r3---sn-abc.example.com", local: "x", domain: "r3---sn-abc.example.com"},

		// Quoted strings: quotes kept only when the content needs them.
		{name: "needless quotes dropped", in: `"john"@example.com`, local: "john", domain: "example.com"},
		{name: "quoted dot-atom unquoted", in: `"john.doe"@example.com`, local: "john.doe", domain: "example.com"},
		{name: "needless escapes dropped", in: `"\j\o\h\n"@example.com`, local: "john", domain: "example.com"},
		{name: "double dot needs quotes", in: `"john..doe"@example.com`, local: `"john..doe"`, domain: "example.com"},
		{name: "leading dot needs quotes", in: `".john"@example.com`, local: `".john"`, domain: "example.com"},
		{name: "trailing dot needs quotes", in: `"john."@example.com`, local: `"john."`, domain: "example.com"},
		{name: "space needs quotes", in: `"john doe"@example.com`, local: `"john doe"`, domain: "example.com"},
		{name: "escaped space loses escape", in: `"john\ doe"@example.com`, local: `"john doe"`, domain: "example.com"},
		{name: "escaped quote kept", in: `"john\"doe"@example.com`, local: `"john\"doe"`, domain: "example.com"},
		{name: "escaped backslash kept", in: `"john\\doe"@example.com`, local: `"john\\doe"`, domain: "example.com"},
		{name: "at sign inside quotes", in: `"j@x"@example.com`, local: `"j@x"`, domain: "example.com"},
		{name: "angle brackets inside quotes", in: `"<j>"@example.com`, local: `"<j>"`, domain: "example.com"},
		{name: "parentheses inside quotes", in: `"(c)"@example.com`, local: `"(c)"`, domain: "example.com"},
		{name: "quoted with upper-case domain", in: `"a b"@EXAMPLE.com`, local: `"a b"`, domain: "example.com"},
		{name: "quoted local of 64 octets once unquoted", in: `"` + local64 + `"@example.com`, local: local64, domain: "example.com"},

		// RFC 6531: UTF-8 local parts need SMTPUTF8.
		{name: "non-ASCII local", in: "josé@example.com", local: "josé", domain: "example.com", utf8: true},
		{name: "CJK local", in: "用户@example.com", local: "用户", domain: "example.com", utf8: true},
		{name: "non-ASCII quoted needless", in: `"José"@example.com`, local: "José", domain: "example.com", utf8: true},
		{name: "no-break space needs quotes", in: "\"a\u00a0b\"@example.com", local: "\"a\u00a0b\"", domain: "example.com", utf8: true},
		{name: "non-ASCII quoted with space", in: `"jo sé"@example.com`, local: `"jo sé"`, domain: "example.com", utf8: true},

		// IDN domains become A-labels (RFC 5891 §5); they do not need SMTPUTF8.
		{name: "IDN", in: "jane@bücher.de", local: "jane", domain: "xn--bcher-kva.de"},
		{name: "IDN upper case mapped", in: "jane@BÜCHER.DE", local: "jane", domain: "xn--bcher-kva.de"},
		{name: "IDN ideographic full stop", in: "jane@bücher\u3002de", local: "jane", domain: "xn--bcher-kva.de"},
		{name: "IDN münchen", in: "jane@münchen.de", local: "jane", domain: "xn--mnchen-3ya.de"},
		{name: "IDN sharp s kept (non-transitional)", in: "jane@faß.de", local: "jane", domain: "xn--fa-hia.de"},
		{name: "IDN Chinese test domain", in: "jane@例子.测试", local: "jane", domain: "xn--fsqu00a.xn--0zwm56d"},
		{name: "IDN Cyrillic test domain", in: "jane@пример.испытание", local: "jane", domain: "xn--e1afmkfd.xn--80akhbyknj4f"},
		{name: "fullwidth ASCII mapped", in: "jane@ＥＸＡＭＰＬＥ．ｃｏｍ", local: "jane", domain: "example.com"},
		{name: "soft hyphen ignored (UTS #46 mapping)", in: "jane@ab\u00adcd.com", local: "jane", domain: "abcd.com"},
		{name: "emoji label allowed for lookup", in: "jane@💩.la", local: "jane", domain: "xn--ls8h.la"},
		{name: "A-label kept", in: "jane@xn--bcher-kva.de", local: "jane", domain: "xn--bcher-kva.de"},
		{name: "A-label upper case folded", in: "jane@XN--BCHER-KVA.DE", local: "jane", domain: "xn--bcher-kva.de"},
		{name: "UTF-8 local and IDN domain", in: "josé@bücher.de", local: "josé", domain: "xn--bcher-kva.de", utf8: true},

		// Limits, exactly.
		{name: "local of 64", in: local64 + "@example.com", local: local64, domain: "example.com"},
		{name: "label of 63", in: "x@" + label63 + ".com", local: "x", domain: label63 + ".com"},
		{name: "address of 254", in: local64 + "@" + domain189, local: local64, domain: domain189},
	}
}

func invalidCases() []parseCase {
	return []parseCase{
		{name: "empty", in: "", err: ErrEmpty},
		{name: "only whitespace", in: " \t\r\n", err: ErrEmpty},
		{name: "no at", in: "jane.example.com", err: ErrNoAt},
		{name: "words without at", in: "jane doe", err: ErrNoAt},
		{name: "at only inside closed quotes", in: `"jane@example.com"`, err: ErrNoAt},
		{name: "empty local", in: "@example.com", err: ErrLocalEmpty},
		{name: "empty quoted local", in: `""@example.com`, err: ErrLocalEmpty},
		{name: "leading dot", in: ".jane@example.com", err: ErrLocalDot},
		{name: "trailing dot", in: "jane.@example.com", err: ErrLocalDot},
		{name: "double dot", in: "ja..ne@example.com", err: ErrLocalDot},
		{name: "only a dot", in: ".@example.com", err: ErrLocalDot},
		{name: "space in local", in: "ja ne@example.com", err: ErrLocalInvalid},
		{name: "quote inside atom", in: `ja"ne"@example.com`, err: ErrLocalInvalid},
		{name: "backslash outside quotes", in: `ja\ne@example.com`, err: ErrLocalInvalid},
		{name: "comma", in: "ja,ne@example.com", err: ErrLocalInvalid},
		{name: "NUL in local", in: "ja\x00ne@example.com", err: ErrLocalInvalid},
		{name: "DEL in local", in: "ja\x7fne@example.com", err: ErrLocalInvalid},
		{name: "no-break space before local", in: "\u00a0jane@example.com", err: ErrLocalInvalid},
		{name: "C1 control in local", in: "ja\u0085ne@example.com", err: ErrLocalInvalid},
		{name: "zero-width space in local", in: "ja\u200bne@example.com", err: ErrLocalInvalid},
		{name: "unterminated quote", in: `"jane@example.com`, err: ErrQuote},
		{name: "backslash ends input", in: `"jane\`, err: ErrQuote},
		{name: "text after closing quote", in: `"jane"doe@example.com`, err: ErrQuote},
		{name: "tab inside quotes", in: "\"ja\tne\"@example.com", err: ErrLocalInvalid},
		{name: "control inside quotes", in: "\"ja\x01ne\"@example.com", err: ErrLocalInvalid},
		{name: "quoted pair of control", in: "\"ja\\\x01ne\"@example.com", err: ErrLocalInvalid},
		{name: "C1 control inside quotes", in: "\"ja\u0085ne\"@example.com", err: ErrLocalInvalid},
		{name: "quoted pair of non-ASCII", in: `"ja\éne"@example.com`, err: ErrLocalInvalid},
		{name: "invalid UTF-8 in local", in: "jan\xffe@example.com", err: ErrUTF8},
		{name: "invalid UTF-8 in quotes", in: "\"jan\xffe\"@example.com", err: ErrUTF8},
		{name: "invalid UTF-8 in domain", in: "jane@exam\xffple.com", err: ErrUTF8},
		{name: "truncated UTF-8 without at", in: "jan\xc3", err: ErrUTF8},

		{name: "display name", in: "Jane Doe <jane@example.com>", err: ErrDisplayName},
		{name: "quoted display name", in: `"Jane Doe" <jane@example.com>`, err: ErrDisplayName},
		{name: "angle brackets only", in: "<jane@example.com>", err: ErrDisplayName},
		{name: "stray closing bracket", in: "jane@example.com>", err: ErrDisplayName},
		{name: "comment in local", in: "jane(work)@example.com", err: ErrComment},
		{name: "leading comment", in: "(work)jane@example.com", err: ErrComment},
		{name: "comment in domain", in: "jane@(mx)example.com", err: ErrComment},
		{name: "trailing comment", in: "jane@example.com (Jane)", err: ErrComment},

		{name: "empty domain", in: "jane@", err: ErrDomainEmpty},
		{name: "single label", in: "jane@localhost", err: ErrSingleLabel},
		{name: "numeric TLD", in: "jane@example.123", err: ErrNumericTLD},
		{name: "bare IPv4", in: "jane@192.0.2.1", err: ErrNumericTLD},
		{name: "domain literal", in: "jane@[192.0.2.1]", err: ErrDomainLiteral},
		{name: "IPv6 domain literal", in: "jane@[IPv6:2001:db8::1]", err: ErrDomainLiteral},
		{name: "double dot in domain", in: "jane@example..com", err: ErrDomainLabel},
		{name: "leading dot in domain", in: "jane@.example.com", err: ErrDomainLabel},
		{name: "trailing dot in domain", in: "jane@example.com.", err: ErrDomainLabel},
		{name: "leading hyphen", in: "jane@-example.com", err: ErrDomainLabel},
		{name: "trailing hyphen", in: "jane@example-.com", err: ErrDomainLabel},
		{name: "label of 64", in: "jane@" + label64 + ".com", err: ErrDomainLabel},
		{name: "underscore", in: "jane@ex_ample.com", err: ErrDomainChar},
		{name: "space in domain", in: "jane@exam ple.com", err: ErrDomainChar},
		{name: "second at", in: "jane@doe@example.com", err: ErrDomainChar},
		{name: "comma in domain", in: "jane@example,com", err: ErrDomainChar},

		{name: "IDN single label", in: "jane@bücher", err: ErrSingleLabel},
		{name: "IDN maps to numeric TLD", in: "jane@bücher.１２３", err: ErrNumericTLD},
		{name: "IDN with R-LDH label", in: "jane@ab--cd.bücher.de", err: ErrIDNA},
		{name: "IDN leading hyphen", in: "jane@-bücher.de", err: ErrIDNA},
		{name: "label starts with combining mark", in: "jane@\u0301abc.com", err: ErrIDNA},
		{name: "unassigned code point", in: "jane@\u0378x.com", err: ErrIDNA},
		{name: "replacement character", in: "jane@x\ufffdy.com", err: ErrIDNA},
		{name: "joiner out of context", in: "jane@a\u200db.com", err: ErrIDNA},
		{name: "STD3-disallowed compatibility form", in: "jane@\u2488x.com", err: ErrIDNA},
		{name: "bidi rule", in: "jane@\u05d0a.com", err: ErrIDNA},
		{name: "bad punycode", in: "jane@xn--a.com", err: ErrIDNA},
		{name: "punycode of ASCII ends in hyphen", in: "jane@xn--abc-.com", err: ErrDomainLabel},

		{name: "local of 65", in: local65 + "@example.com", err: ErrLocalTooLong},
		{name: "quoted local of 65", in: `"a ` + strings.Repeat("b", 61) + `"@example.com`, err: ErrLocalTooLong},
		{name: "domain of 259", in: "jane@" + domain259, err: ErrDomainTooLong},
		{name: "address of 255", in: local64 + "@" + domain190, err: ErrTooLong},
		{name: "huge input", in: strings.Repeat("a", 2000) + "@example.com", err: ErrTooLong},
	}
}

func TestParseValid(t *testing.T) {
	for _, tc := range validCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			want := Address{Local: tc.local, Domain: tc.domain, Normalized: tc.local + "@" + tc.domain, SMTPUTF8: tc.utf8}
			if got != want {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tc.in, got, want)
			}
			// Normalizing twice changes nothing.
			again, err := Parse(got.Normalized)
			if err != nil || again != got {
				t.Errorf("Parse(%q) = %#v, %v; want %#v", got.Normalized, again, err, got)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q) = %#v, %v; want error %v", tc.in, got, err, tc.err)
			}
			if got != (Address{}) {
				t.Errorf("Parse(%q) returned %#v with its error", tc.in, got)
			}
			if err.Error() == "" {
				t.Errorf("Parse(%q): empty error message", tc.in)
			}
		})
	}
}

func TestRefinedErrors(t *testing.T) {
	for _, tc := range []struct{ err, parent error }{
		{ErrLocalEmpty, ErrLocalInvalid},
		{ErrLocalDot, ErrLocalInvalid},
		{ErrQuote, ErrLocalInvalid},
		{ErrDomainEmpty, ErrDomainInvalid},
		{ErrDomainChar, ErrDomainInvalid},
		{ErrDomainLabel, ErrDomainInvalid},
		{ErrSingleLabel, ErrDomainInvalid},
		{ErrNumericTLD, ErrDomainInvalid},
	} {
		if !errors.Is(tc.err, tc.parent) {
			t.Errorf("errors.Is(%q, %q) = false", tc.err, tc.parent)
		}
		if errors.Is(tc.parent, tc.err) {
			t.Errorf("errors.Is(%q, %q) = true", tc.parent, tc.err)
		}
	}
	// The IDNA failure keeps the library's detail behind the sentinel.
	_, err := Parse("jane@\u0378x.com")
	if !errors.Is(err, ErrIDNA) || !strings.Contains(err.Error(), "idna") {
		t.Errorf("Parse IDN error = %v; want ErrIDNA with detail", err)
	}
}

func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"jane.doe@example.com", 0},
		{"  jane.doe@example.com\n", 0},
		{"josé@example.com", 0},
		{`"john doe"@example.com`, 0},
		{"Jane.Doe@Example.COM", 1},
		{`"john"@example.com`, 1},
		{`"john\ doe"@example.com`, 1},
		{"jane@example..com", 0},
		{"Jane <jane@example.com>", 0},
		{"jane@example", 0},
	} {
		got := testing.AllocsPerRun(100, func() { _, _ = Parse(tc.in) })
		if got > tc.want {
			t.Errorf("Parse(%q): %v allocations; want at most %v", tc.in, got, tc.want)
		}
	}
}

func TestAddressString(t *testing.T) {
	a, err := Parse("Jane@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.String(); got != "Jane@example.com" {
		t.Errorf("String() = %q", got)
	}
}

func TestTrimSpace(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"   ":           "",
		" a ":           "a",
		"\t\r\na\v\f":   "a",
		"a b":           "a b",
		"\u00a0a\u00a0": "\u00a0a\u00a0", // only ASCII whitespace is trimmed
	} {
		if got := trimSpace(in); got != want {
			t.Errorf("trimSpace(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestIsAtext(t *testing.T) {
	const specials = "!#$%&'*+-/=?^_`{|}~"
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte(specials, b) >= 0
		if got := isAtext(b); got != want {
			t.Errorf("isAtext(%q) = %v; want %v", b, got, want)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct{ in, key string }{
		{"jane@example.com", "jane@example.com"},
		{"Jane.Doe@Example.COM", "jane.doe@example.com"},
		{"JANE@xn--bcher-kva.example", "jane@xn--bcher-kva.example"},
		{"Jane@Bücher.example", "jane@xn--bcher-kva.example"},
		{"ÄNNE@example.com", "änne@example.com"},
		{`"John Doe"@example.com`, `"john doe"@example.com`},
	} {
		a, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got := a.Key(); got != tc.key {
			t.Errorf("Parse(%q).Key() = %q, want %q", tc.in, got, tc.key)
		}
		if b, err := Parse(tc.key); err != nil || b.Key() != tc.key {
			t.Errorf("the key %q is not its own key: %v", tc.key, err)
		}
	}
}

package syntax

import "strings"

// Suggester proposes a correction for a mistyped domain. It compares the
// whole domain with a list of popular mailbox domains, and failing that the
// top-level domain with a list of known TLDs, in the spirit of mailcheck.js.
//
// A Suggester is immutable after construction and safe for concurrent use.
// The zero value and nil suggest nothing.
type Suggester struct {
	domains []candidate // in the caller's order: earlier wins a tie
	known   map[string]struct{}
	tlds    []candidate
	tldSet  map[string]struct{}
}

// candidate is a listed name with its precomputed character set.
type candidate struct {
	name string
	mask uint64
}

// NewSuggester returns a Suggester for the given popular domains and known
// top-level domains (without the leading dot). Entries are trimmed and
// lowercased; empty entries, duplicates and entries longer than 64 octets are
// dropped. Order matters: when two entries are equally close, the earlier one
// is suggested, so list the most popular first. The slices are copied.
func NewSuggester(domains, tlds []string) *Suggester {
	s := &Suggester{
		known:  make(map[string]struct{}, len(domains)),
		tldSet: make(map[string]struct{}, len(tlds)),
	}
	s.domains = appendCandidates(nil, s.known, domains)
	s.tlds = appendCandidates(nil, s.tldSet, tlds)
	return s
}

func appendCandidates(list []candidate, set map[string]struct{}, names []string) []candidate {
	for _, n := range names {
		n = strings.ToLower(strings.Trim(strings.TrimSpace(n), "."))
		if n == "" || len(n) > maxCandidate {
			continue
		}
		if _, dup := set[n]; dup {
			continue
		}
		set[n] = struct{}{}
		list = append(list, candidate{name: n, mask: charMask(n)})
	}
	return list
}

// Suggest returns the corrected domain for a domain that looks mistyped, or
// "" when it has nothing to suggest. domain is expected in the form Parse
// returns (lowercase, A-labels). A listed domain is never corrected.
//
// First the whole domain is compared with the popular domains: gmial.com →
// gmail.com, yaho.com → yahoo.com, gmail.con → gmail.com. Up to one edit is
// allowed for domains shorter than 8 octets and two for longer ones, so that
// short real domains (gmx.at, qq.cn) are not "corrected" into their popular
// neighbours. Failing that, an unknown top-level domain of three or more
// letters one edit away from a known one is corrected: acme.con → acme.com.
// Two-letter TLDs are left alone, because any of them may be a country code
// the list does not carry.
//
// Suggest does not allocate, except to build the result of a TLD correction.
func (s *Suggester) Suggest(domain string) string {
	if s == nil || domain == "" || len(domain) > maxCandidate+2 {
		return ""
	}
	if _, ok := s.known[domain]; ok {
		return ""
	}
	k := 2
	if len(domain) < 8 {
		k = 1
	}
	if best := closest(s.domains, domain, k); best != "" {
		return best
	}

	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 {
		return ""
	}
	tld := domain[dot+1:]
	if len(tld) < 3 {
		return ""
	}
	if _, ok := s.tldSet[tld]; ok {
		return ""
	}
	best := closest(s.tlds, tld, 1)
	if best == "" {
		return ""
	}
	return domain[:dot+1] + best
}

// closest returns the first candidate at the smallest distance from q, if
// that distance is at most k, or "".
func closest(list []candidate, q string, k int) string {
	qmask := charMask(q)
	best, bestDist := "", k+1
	for i := range list {
		c := &list[i]
		d := len(q) - len(c.name)
		if d < 0 {
			d = -d
		}
		// Both bounds are cheap and reject almost every unrelated
		// candidate before the distance is computed.
		if d >= bestDist || maskBound(qmask, c.mask) >= bestDist {
			continue
		}
		if d := distance(q, c.name, bestDist-1); d < bestDist {
			best, bestDist = c.name, d
			if d <= 1 {
				break // 0 is impossible for unlisted names; nothing beats 1
			}
		}
	}
	return best
}

// DefaultSuggester returns a Suggester for widely used mailbox providers and
// top-level domains. It builds new maps on every call: build it once and
// share it.
func DefaultSuggester() *Suggester {
	return NewSuggester(defaultDomains(), defaultTLDs())
}

// defaultDomains lists popular consumer mailbox domains, roughly by how many
// mailboxes they hold, so that the more likely one wins a tie. Real domains
// that sit one edit away from a popular one (mail.com, ymail.com, gmx.net,
// email.com) are listed too, so that they are never "corrected".
func defaultDomains() []string {
	return []string{
		"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com",
		"aol.com", "live.com", "msn.com", "googlemail.com", "me.com", "mac.com",
		"ymail.com", "rocketmail.com", "comcast.net", "verizon.net", "att.net",
		"sbcglobal.net", "cox.net", "charter.net", "protonmail.com", "proton.me",
		"zoho.com", "mail.com", "email.com", "gmx.com", "gmx.de", "gmx.net",
		"web.de", "t-online.de", "freenet.de", "mail.ru", "bk.ru", "list.ru",
		"inbox.ru", "yandex.ru", "yandex.com", "rambler.ru", "qq.com", "163.com",
		"126.com", "naver.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de",
		"hotmail.it", "hotmail.es", "live.co.uk", "outlook.de", "yahoo.co.uk",
		"yahoo.fr", "yahoo.de", "yahoo.co.jp", "yahoo.com.br", "orange.fr",
		"free.fr", "laposte.net", "libero.it", "btinternet.com",
	}
}

// defaultTLDs lists top-level domains that are targets for a correction and
// are themselves never corrected: the generic ones most addresses use, common
// country codes, and real TLDs one edit away from a popular one (cam, ong,
// new, goo), which a smaller list would mistake for typos.
func defaultTLDs() []string {
	return []string{
		"com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name",
		"pro", "mobi", "aero", "coop", "museum", "jobs", "travel", "asia", "tel",
		"io", "co", "me", "tv", "cc", "ai", "app", "dev", "xyz", "online",
		"site", "store", "shop", "tech", "email", "cloud", "live", "blog",
		"news", "club", "space", "website", "agency", "digital", "company",
		"solutions", "services", "network", "systems", "world", "today",
		"design", "studio", "media", "group", "global", "page", "family",
		"life", "work", "works", "team", "top", "vip", "win", "fun", "run",
		"art", "law", "ltd", "llc", "inc", "bio", "bid", "eco", "one", "ong",
		"ngo", "new", "nec", "now", "nyc", "goo", "gop", "got", "god", "cam",
		"car", "cab", "cat", "bar", "bet", "pub", "red", "kim", "men", "moe",
		"mov", "zip", "ovh", "onl", "ooo", "eus", "gal", "nrw", "bzh", "berlin",
		"london", "paris", "tokyo", "swiss", "scot", "wales",
		"uk", "de", "fr", "it", "es", "nl", "be", "ch", "at", "se", "no", "dk",
		"fi", "pl", "ru", "ua", "by", "kz", "cz", "sk", "hu", "ro", "bg", "gr",
		"pt", "ie", "is", "lt", "lv", "ee", "si", "hr", "rs", "ba", "tr", "il",
		"ae", "sa", "qa", "in", "pk", "bd", "lk", "cn", "jp", "kr", "tw", "hk",
		"sg", "my", "id", "th", "vn", "ph", "au", "nz", "ca", "us", "mx", "br",
		"ar", "cl", "pe", "uy", "ve", "za", "ng", "ke", "eg", "ma", "tn", "eu",
		"su", "cm", "om", "ir", "iq", "lu", "li", "mc", "mt", "cy",
	}
}

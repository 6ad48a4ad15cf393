package bounce

import "strings"

// addresses finds the email addresses in s, in order, lower-cased,
// without duplicates. It is a scanner, not a parser: it finds a@b.c in
// header values, angle brackets, DSN fields and running text alike.
func addresses(s string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		a, end := addressAt(s, i)
		if a == "" {
			continue
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
		if end > i {
			i = end - 1
		}
	}
	return out
}

// addressAt reads the address around the '@' at s[at]; it returns "" when
// there is none, and the index after its domain.
func addressAt(s string, at int) (string, int) {
	start := at
	for start > 0 && isLocalChar(s[start-1]) {
		start--
	}
	for start < at && (s[start] == '.' || s[start] == '=') {
		start++
	}
	end := at + 1
	for end < len(s) && isDomainChar(s[end]) {
		end++
	}
	for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') {
		end--
	}
	if start == at || end <= at+1 {
		return "", at + 1
	}
	local, domain := s[start:at], s[at+1:end]
	if !strings.Contains(domain, ".") && !strings.EqualFold(domain, "localhost") {
		return "", end
	}
	if len(local) > 64 || len(domain) > 255 {
		return "", end
	}
	return strings.ToLower(local + "@" + domain), end
}

func isLocalChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '.', '_', '-', '+', '=', '!', '#', '$', '%', '&', '\'', '*', '/', '?', '^', '`', '{', '|', '}', '~':
		return true
	}
	return false
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// isRole tells whether an address belongs to mail software rather than a
// person: such addresses write bounces, they do not fail in them.
func isSystemAddress(a string) bool {
	local, _, _ := strings.Cut(a, "@")
	switch local {
	case "mailer-daemon", "postmaster", "mailerdaemon", "mail-daemon", "bounce", "bounces", "noreply", "no-reply", "root", "daemon":
		return true
	}
	return strings.HasPrefix(local, "mailer-daemon") || strings.HasPrefix(local, "bounce-") || strings.HasPrefix(local, "bounces+") || strings.HasPrefix(local, "prvs=")
}

// Package redact keeps secrets out of logs. Callback URLs carry tokens in
// their query strings, and store and proxy URLs carry passwords in their
// userinfo; both reach log records inside error texts too, such as the
// *url.Error of a failed HTTP request. ReplaceAttr, installed on the
// service's log handler, rewrites every URL in every string and error
// value of a record.
package redact

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces what was removed.
const Mask = "REDACTED"

// urlPattern finds absolute URLs in free text: a scheme, "://", and
// everything up to white space or a quote.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// URL returns raw with its password (or whole userinfo, when it has no
// password: a token), its query values and its fragment masked. Something
// that does not parse as a URL is masked whole after its scheme.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "://"); i >= 0 {
			return raw[:i+3] + Mask
		}
		return Mask
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Mask)
		} else {
			u.User = url.User(Mask)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{Mask}
		}
		u.RawQuery = q.Encode()
	}
	if u.Fragment != "" {
		u.Fragment = Mask
	}
	return u.String()
}

// Text returns s with every URL in it passed through URL.
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlPattern.ReplaceAllStringFunc(s, URL)
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that applies Text to
// string and error values, in groups too.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); strings.Contains(s, "://") {
			a.Value = slog.StringValue(Text(s))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			if s := err.Error(); strings.Contains(s, "://") {
				a.Value = slog.StringValue(Text(s))
			}
		}
	}
	return a
}

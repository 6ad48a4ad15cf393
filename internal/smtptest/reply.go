package smtptest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// Reply is what a fake server answers. Message may hold "\n": the reply is
// then multi-line (RFC 5321 §4.2.1), and, as Gmail and Postfix do (RFC 2034
// §3), every line carries the enhanced code:
//
//	Reply{550, "5.1.1", "The email account that you tried to reach does not exist.\nPlease try ... - gsmtp"}
//
// is written as
//
//	550-5.1.1 The email account that you tried to reach does not exist.
//	550 5.1.1 Please try ... - gsmtp
//
// An empty Enhanced sends no enhanced code at all.
type Reply struct {
	Code     int
	Enhanced string
	Message  string
}

// Lines returns the reply as it goes on the wire, without CRLFs.
func (r Reply) Lines() []string {
	parts := strings.Split(r.Message, "\n")
	out := make([]string, len(parts))
	for i, p := range parts {
		sep := "-"
		if i == len(parts)-1 {
			sep = " "
		}
		if r.Enhanced != "" {
			p = r.Enhanced + " " + p
		}
		out[i] = fmt.Sprintf("%03d%s%s", r.Code, sep, p)
	}
	return out
}

// wire is the reply with CRLFs, ready to write.
func (r Reply) wire() string {
	return strings.Join(r.Lines(), "\r\n") + "\r\n"
}

// smtpError is the reply as go-smtp's error value. go-smtp writes the
// enhanced code on the last line only, so the other lines get it here.
func (r Reply) smtpError() *smtp.SMTPError {
	parts := strings.Split(r.Message, "\n")
	enh := smtp.NoEnhancedCode
	if r.Enhanced != "" {
		enh, _ = parseEnhanced(r.Enhanced)
		for i := range parts[:len(parts)-1] {
			parts[i] = r.Enhanced + " " + parts[i]
		}
	}
	return &smtp.SMTPError{Code: r.Code, EnhancedCode: enh, Message: strings.Join(parts, "\n")}
}

// check fails the test on a reply that cannot be written.
func (r Reply) check(t testing.TB, what string) {
	t.Helper()
	if r.Code < 200 || r.Code > 599 {
		t.Fatalf("smtptest: %s: reply code %d is not 2xx-5xx", what, r.Code)
	}
	if r.Enhanced != "" {
		enh, ok := parseEnhanced(r.Enhanced)
		if !ok || enh[0] != r.Code/100 {
			t.Fatalf("smtptest: %s: enhanced code %q is malformed or does not match %d", what, r.Enhanced, r.Code)
		}
	}
	if strings.ContainsAny(r.Message, "\r") {
		t.Fatalf("smtptest: %s: use \\n, not \\r, to split lines", what)
	}
}

func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	f := strings.Split(s, ".")
	if len(f) != 3 {
		return smtp.EnhancedCode{}, false
	}
	var e smtp.EnhancedCode
	for i, p := range f {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 {
			return smtp.EnhancedCode{}, false
		}
		e[i] = n
	}
	return e, true
}

// Replies that tests use often. They are functions, not variables, so no
// test can change them for another.

// Accept is a plain acceptance.
func Accept() Reply { return Reply{250, "2.1.5", "OK"} }

// UserUnknown is a one-line "no such mailbox".
func UserUnknown() Reply { return Reply{550, "5.1.1", "User unknown"} }

// GmailUserUnknown is the multi-line reply Gmail gives for a mailbox that
// does not exist.
func GmailUserUnknown() Reply {
	return Reply{550, "5.1.1", "The email account that you tried to reach does not exist. Please try\n" +
		"double-checking the recipient's email address for typos or\n" +
		"unnecessary spaces. For more information, go to\n" +
		" https://support.google.com/mail/?p=NoSuchUser a1b2c3d4e5f6g7 - gsmtp"}
}

package reply

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reply
	}{
		{"bare code, enhanced, text", "550 5.1.1 User unknown", Reply{550, "5.1.1", "User unknown"}},
		{"code and text", "550 Requested action not taken: mailbox unavailable", Reply{550, "", "Requested action not taken: mailbox unavailable"}},
		{"enhanced and text", "5.1.1 The email account does not exist", Reply{0, "5.1.1", "The email account does not exist"}},
		{"text only", "user unknown", Reply{0, "", "user unknown"}},
		{"code only", "421", Reply{421, "", ""}},
		{"enhanced only", "4.4.7", Reply{0, "4.4.7", ""}},
		{"empty", "", Reply{}},
		{"Sendmail queue report", "Deferred: 451 4.7.1 Please try again later", Reply{451, "4.7.1", "Deferred: Please try again later"}},
		{"white space", "  \r\n ", Reply{}},
		{"diagnostic smtp;", "smtp; 550 5.1.1 <a@example.com>: Recipient address rejected", Reply{550, "5.1.1", "<a@example.com>: Recipient address rejected"}},
		{"diagnostic SMTP; no space", "SMTP;550 5.7.1 Rejected", Reply{550, "5.7.1", "Rejected"}},
		{"diagnostic X-Postfix", "X-Postfix; unknown user: \"jdoe\"", Reply{0, "", "unknown user: \"jdoe\""}},
		{"diagnostic X-Unix", "X-Unix; 127", Reply{0, "", "127"}},
		{"whole Diagnostic-Code field", "Diagnostic-Code: smtp; 550 5.1.1 unknown", Reply{550, "5.1.1", "unknown"}},
		{"multi-line CRLF", "550-5.1.1 The email account\r\n550-5.1.1 does not exist.\r\n550 5.1.1 - gsmtp", Reply{550, "5.1.1", "The email account does not exist. - gsmtp"}},
		{"multi-line LF, no enhanced", "554-gmx.net Nemesis\n554-No SMTP service\n554 visit postmaster", Reply{554, "", "gmx.net Nemesis No SMTP service visit postmaster"}},
		{"multi-line blank continuation", "250-mx.example.com\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n", Reply{250, "", "mx.example.com PIPELINING SMTPUTF8"}},
		{"folded DSN repeats codes", "smtp; 550-5.1.1 The account does not exist. Please try 550-5.1.1 double-checking. 550 5.1.1 https://x - gsmtp", Reply{550, "5.1.1", "The account does not exist. Please try double-checking. https://x - gsmtp"}},
		{"folded without enhanced", "554-gmx.net Nemesis 554-No SMTP service", Reply{554, "", "gmx.net Nemesis No SMTP service"}},
		{"code with hyphen, one line", "550-5.7.1 Rejected", Reply{550, "5.7.1", "Rejected"}},
		{"mismatched class stays text", "550 4.2.2 mailbox full", Reply{550, "", "4.2.2 mailbox full"}},
		{"three-digit detail", "550 5.7.606 Access denied, banned sending IP", Reply{550, "5.7.606", "Access denied, banned sending IP"}},
		{"embedded after a word", "550 cuda_nsu 5.1.1 <a@b>... User unknown", Reply{550, "5.1.1", "cuda_nsu 5.1.1 <a@b>... User unknown"}},
		{"embedded qmail style", "511 sorry, no mailbox here by that name (#5.1.1)", Reply{511, "5.1.1", "sorry, no mailbox here by that name (#5.1.1)"}},
		{"provider code is not enhanced", "451 Resources temporarily unavailable [#4.16.1].", Reply{451, "", "Resources temporarily unavailable [#4.16.1]."}},
		{"IP address is not enhanced", "550 rejected 5.1.1.9 sent", Reply{550, "", "rejected 5.1.1.9 sent"}},
		{"Postfix said:", "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@b>: User unknown (in reply to RCPT TO command)",
			Reply{550, "5.1.1", "host mx.example.com[192.0.2.1] said: <a@b>: User unknown (in reply to RCPT TO command)"}},
		{"Exim remote server", "SMTP error from remote mail server after RCPT TO:<a@b>: 550 5.1.1 unknown",
			Reply{550, "5.1.1", "SMTP error from remote mail server after RCPT TO:<a@b>: unknown"}},
		{"semicolon in text is kept", "Delivery failed; try later", Reply{0, "", "Delivery failed; try later"}},
		{"number that is not a code", "1234 not a reply", Reply{0, "", "1234 not a reply"}},
		{"code glued to text is not a code", "550abc", Reply{0, "", "550abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.in)
			if got != tt.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

// A single-line reply is parsed without allocating: Text is a substring.
func TestParseSingleLineDoesNotAllocate(t *testing.T) {
	in := "smtp; 550 5.1.1 <jdoe@example.com>: Recipient address rejected: User unknown"
	allocs := testing.AllocsPerRun(100, func() { _ = Parse(in) })
	if allocs != 0 {
		t.Errorf("Parse allocated %.0f times, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() { _ = ClassifyText(in) })
	if allocs != 0 {
		t.Errorf("ClassifyText allocated %.0f times, want 0", allocs)
	}
}

// Parse must never panic, whatever the bytes.
func TestParseOddInput(t *testing.T) {
	inputs := []string{
		"5", "55", "550-", "5.", "5.1", "5.1.", "5.1.1", "5.1.1.", "5.1111.1", "550 5.1.1111",
		";", "smtp;", "a;b;c", "\r\n\r\n", "550\n", "-\n-\n", "said: ", "said: 5", "mail server after : 5",
		strings.Repeat("550-", 1000), strings.Repeat("x", 1<<16), "\xff\xfe\x00 550 5.1.1", " 550-5.1.1",
	}
	for _, in := range inputs {
		r := Parse(in)
		d := Classify(r)
		if d.Class == "" || d.Reason == "" || d.Action == "" || d.Explanation == "" {
			t.Errorf("Classify(Parse(%.40q)) = %+v, want every field set", in, d)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"550 5.1.1 x", "smtp; 550-5.1.1 a 550-5.1.1 b", "said: 550 5.1.1", "(#5.1.1)", "421"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Parse(s)
		if r.Code != 0 && (r.Code < 200 || r.Code > 599) {
			t.Errorf("code %d out of range", r.Code)
		}
		if r.Enhanced != "" && Describe(r.Enhanced) == "" {
			if _, _, _, ok := splitEnhanced(r.Enhanced); !ok {
				t.Errorf("malformed enhanced code %q", r.Enhanced)
			}
		}
		_ = Classify(r)
	})
}

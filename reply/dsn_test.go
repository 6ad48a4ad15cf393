package reply

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/outcome"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/dsn")

func TestParseDSN(t *testing.T) {
	type want struct {
		recipient, action, status, remoteMTA string
		code                                 int
		enhanced                             string
		class                                Class
		reason                               outcome.Reason
		provider, blocklist                  string
	}
	tests := []struct {
		file string
		want []want
	}{
		{"postfix.eml", []want{
			{"jdoe@example.org", "failed", "5.1.1", "mx.example.org", 550, "5.1.1", Hard, outcome.MailboxNotFound, "", ""},
		}},
		{"exchange.eml", []want{
			{"someone@contoso.com", "failed", "5.1.10", "", 550, "5.1.10", Hard, outcome.MailboxNotFound, "microsoft", ""},
		}},
		{"gmail.eml", []want{
			{"nobody.here.123@gmail.com", "failed", "5.1.1", "gmail-smtp-in.l.google.com", 550, "5.1.1", Hard, outcome.MailboxNotFound, "gmail", ""},
		}},
		{"multi.eml", []want{
			{"ghost@example.net", "failed", "5.1.1", "mx1.example.net", 550, "5.1.1", Hard, outcome.MailboxNotFound, "", ""},
			{"full@example.net", "failed", "5.2.2", "mx1.example.net", 552, "5.2.2", Soft, outcome.MailboxFull, "", ""},
			{"someone@example.edu", "failed", "5.7.1", "mx.example.edu", 554, "5.7.1", Block, outcome.Blocked, "", "spamhaus"},
		}},
		{"nested-base64.eml", []want{
			// No Diagnostic-Code: the Status field alone decides.
			{"info@nosuchdomain.example", "failed", "5.1.2", "", 0, "5.1.2", Hard, outcome.DomainNotFound, "", ""},
			// The diagnostic has no code; Status supplies the enhanced one.
			{"slow@example.net", "delayed", "4.4.1", "mx.example.net", 0, "4.4.1", Soft, outcome.Timeout, "", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "dsn", tt.file)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseDSN(f)
			if err != nil {
				t.Fatalf("ParseDSN: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d recipients, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				d := g.Diagnosis
				if g.Recipient != w.recipient || g.Action != w.action || g.Status != w.status || g.RemoteMTA != w.remoteMTA {
					t.Errorf("recipient %d = %q %q %q %q, want %q %q %q %q", i,
						g.Recipient, g.Action, g.Status, g.RemoteMTA, w.recipient, w.action, w.status, w.remoteMTA)
				}
				if d.Code != w.code || d.Enhanced != w.enhanced || d.Class != w.class || d.Reason != w.reason ||
					d.Provider != w.provider || d.Blocklist != w.blocklist {
					t.Errorf("recipient %d diagnosis = %d %q %s/%s provider %q blocklist %q, want %d %q %s/%s %q %q", i,
						d.Code, d.Enhanced, d.Class, d.Reason, d.Provider, d.Blocklist,
						w.code, w.enhanced, w.class, w.reason, w.provider, w.blocklist)
				}
			}
			checkGolden(t, strings.TrimSuffix(path, ".eml")+".golden.json", got)
		})
	}
}

// checkGolden compares the whole result, explanations included, with a
// golden file; go test -run TestParseDSN -update rewrites them.
func checkGolden(t *testing.T, path string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the result:\n%s", path, got)
	}
}

func TestParseDSNDiagnosticUnfolded(t *testing.T) {
	f, err := os.Open("testdata/dsn/gmail.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseDSN(f)
	if err != nil {
		t.Fatal(err)
	}
	dc := rs[0].DiagnosticCode
	if !strings.HasPrefix(dc, "smtp; 550-5.1.1 The email account") || !strings.HasSuffix(dc, "- gsmtp") || strings.Contains(dc, "\n") {
		t.Errorf("DiagnosticCode not unfolded into one line: %q", dc)
	}
}

func TestParseDSNNotDSN(t *testing.T) {
	tests := []struct{ name, in string }{
		{"plain message", mustRead(t, "testdata/dsn/not-a-dsn.eml")},
		{"multipart without status part", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"},
		{"status part without recipients", "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n--b--\r\n"},
		{"multipart without boundary", "Content-Type: multipart/report\r\n\r\nbody\r\n"},
		{"bad content type", "Content-Type: ;;;\r\n\r\nbody\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDSN(strings.NewReader(tt.in))
			if !errors.Is(err, ErrNotDSN) {
				t.Errorf("err = %v, want ErrNotDSN", err)
			}
		})
	}
}

func TestParseDSNBrokenInput(t *testing.T) {
	_, err := ParseDSN(strings.NewReader("not a header line at all"))
	if err == nil || errors.Is(err, ErrNotDSN) {
		t.Errorf("err = %v, want a read error", err)
	}
}

// A recipient group that follows another without a blank line still counts.
func TestParseDSNMissingBlankLine(t *testing.T) {
	in := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Final-Recipient: rfc822; a@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Final-Recipient: rfc822; b@example.com\r\nAction: failed\r\nStatus: 5.2.2\r\n" +
		"--b--\r\n"
	rs, err := ParseDSN(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Recipient != "a@example.com" || rs[1].Recipient != "b@example.com" {
		t.Fatalf("got %+v", rs)
	}
	if rs[0].Diagnosis.Reason != outcome.MailboxNotFound || rs[1].Diagnosis.Reason != outcome.MailboxFull {
		t.Errorf("reasons %s, %s", rs[0].Diagnosis.Reason, rs[1].Diagnosis.Reason)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

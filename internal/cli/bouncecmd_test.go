package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateBounce = flag.Bool("update-bounce", false, "rewrite testdata/bounce golden files")

func TestBounceCommand(t *testing.T) {
	dsn := filepath.Join("testdata", "bounce", "dsn.eml")
	dsnBytes, err := os.ReadFile(dsn)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		// Unquoted words form one reply.
		{"text", []string{"550", "5.7.1", "Service unavailable,", "MailFrom", "domain", "is", "listed", "in", "Spamhaus"}, ""},
		{"text_json", []string{"--json", "smtp;550 5.1.1 The email account that you tried to reach does not exist. - gsmtp"}, ""},
		{"stdin_lines", nil, "452 4.2.2 Mailbox full\n\n550 5.2.0 Message rejected due to DMARC\n421 4.7.0 Try again later, closing connection. - gsmtp\n"},
		{"stdin_lines_json", []string{"--json"}, "452 4.2.2 Mailbox full\n550 rejected\n"},
		{"dsn_file", []string{"--file", dsn}, ""},
		{"dsn_stdin_json", []string{"--json", "--file", "-"}, string(dsnBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), append([]string{"bounce"}, tt.args...), func(string) string { return "" },
				strings.NewReader(tt.stdin), &stdout, &stderr)
			if err != nil {
				t.Fatalf("err = %v; stderr %s", err, stderr.String())
			}
			path := filepath.Join("testdata", "bounce", tt.name+".golden")
			if *updateBounce {
				if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update-bounce to create)", err)
			}
			if !bytes.Equal(stdout.Bytes(), want) {
				t.Fatalf("output differs from %s:\ngot:\n%s\nwant:\n%s", path, stdout.Bytes(), want)
			}
		})
	}
}

func TestBounceCommandErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		usage    bool
		mentions string
	}{
		{"nothing", nil, "\n  \n", true, "no reply given"},
		{"both", []string{"--file", "x.eml", "550"}, "", true, "not both"},
		{"bad flag", []string{"--jsn"}, "", true, "unknown flag"},
		{"not a dsn", []string{"--file", filepath.Join("testdata", "bounce", "not_dsn.eml")}, "", false, "is not a bounce message"},
		{"missing file", []string{"--file", filepath.Join("testdata", "bounce", "absent.eml")}, "", false, "absent.eml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), append([]string{"bounce"}, tt.args...), func(string) string { return "" },
				strings.NewReader(tt.stdin), &stdout, &stderr)
			var u usageError
			if err == nil || errors.As(err, &u) != tt.usage || !strings.Contains(err.Error(), tt.mentions) {
				t.Fatalf("err = %v (usage error: %v); want one mentioning %q, usage %v", err, errors.As(err, &u), tt.mentions, tt.usage)
			}
		})
	}
}

// corpusMail is a real bounce message from the bounce package's corpus.
func corpusMail(name string) string {
	return filepath.Join("..", "..", "bounce", "testdata", "eml", name)
}

// TestBounceFileFormats: --file reads layouts other than RFC 3464 and
// prints one JSON line per recipient, in the message's order, in the
// shape of POST /v1/bounces/classify.
func TestBounceFileFormats(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"bounce", "--json", "--file", corpusMail("lhost-qmail-16.eml")}, getenv(nil), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var d struct{ Recipient, Format, Class, Reason string }
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if d.Format != "qmail" || d.Class != "hard" || d.Recipient == "" {
		t.Errorf("qmail bounce read as %+v", d)
	}
	out.Reset()
	if err := Run(context.Background(), []string{"bounce", "--json", "--file", corpusMail("lhost-postfix-02.eml")}, getenv(nil), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(out.String()), "\n") + 1; n != 2 {
		t.Errorf("%d lines for a two-recipient bounce:\n%s", n, out.String())
	}
}

// TestBounceIngest: --ingest of a Maildir with a hard bounce, a complaint
// and an auto-reply suppresses the bounced address and the complainer,
// nothing for the auto-reply, and a second run changes nothing.
func TestBounceIngest(t *testing.T) {
	dir := t.TempDir()
	maildir := filepath.Join(dir, "bounces")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"lhost-qmail-16.eml", "arf-01.eml", "rfc3834-02.eml"} {
		b, err := os.ReadFile(corpusMail(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(maildir, "new", fmt.Sprintf("17000000%02d.M1P1.test", i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"PREFLIGHT_STORE_URL": "sqlite://" + filepath.Join(dir, "p.db")}
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"bounce", "--ingest", maildir}, getenv(env), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 messages", "suppressed       2", "complaints       1", "not bounces      1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("first run lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := Run(context.Background(), []string{"bounce", "--ingest", maildir}, getenv(env), nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "suppressed       0") || !strings.Contains(out.String(), "already seen     2") {
		t.Errorf("second run of the same mail:\n%s", out.String())
	}
}

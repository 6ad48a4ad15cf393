package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
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
		{"not a dsn", []string{"--file", filepath.Join("testdata", "bounce", "not_dsn.eml")}, "", false, "is not a delivery status notification"},
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

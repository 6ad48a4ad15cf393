package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, name, str string
		public        string
	}{
		{"203.0.113.7", "203.0.113.7", "203.0.113.7", "203.0.113.7"},
		{"127.0.0.3", "127.0.0.3", "127.0.0.3", ""},
		{"2001:db8::25 helo=probe6.example.com", "2001:db8::25", "2001:db8::25 helo=probe6.example.com", "2001:db8::25"},
		{"10.0.0.9 public_ip=198.51.100.9", "10.0.0.9", "10.0.0.9 public_ip=198.51.100.9", "198.51.100.9"},
		{"socks5://user:pa55@127.0.0.4:1080 public_ip=198.51.100.4 helo=probe2.example.com", "socks5://127.0.0.4:1080",
			"socks5://user:REDACTED@127.0.0.4:1080 helo=probe2.example.com public_ip=198.51.100.4", "198.51.100.4"},
	}
	for _, tt := range tests {
		r, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if r.Name() != tt.name || r.String() != tt.str {
			t.Errorf("Parse(%q): name %q, string %q; want %q, %q", tt.in, r.Name(), r.String(), tt.name, tt.str)
		}
		want := netip.Addr{}
		if tt.public != "" {
			want = netip.MustParseAddr(tt.public)
		}
		if r.PublicIP != want {
			t.Errorf("Parse(%q): public IP %v, want %v", tt.in, r.PublicIP, want)
		}
	}
	for _, bad := range []string{"", "probe.example.com", "http://127.0.0.1:8080", "socks5://127.0.0.4", "127.0.0.2 helo=localhost", "127.0.0.2 color=blue", "127.0.0.2 public_ip=nope"} {
		if _, err := Parse(bad); !errors.Is(err, ErrRoute) {
			t.Errorf("Parse(%q): %v, want ErrRoute", bad, err)
		}
	}
	if _, err := Parse("socks5://user:s3cr3t@proxy"); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("an invalid proxy URL's error must not carry its password: %v", err)
	}
	rs, err := ParseAll(nil)
	if err != nil || len(rs) != 1 || rs[0].Name() != "default" {
		t.Errorf("ParseAll(nil) = %v, %v; want the default route", rs, err)
	}
}

package dnstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	zone, err := os.ReadFile("testdata/zone.txt")
	if err != nil {
		t.Fatal(err)
	}
	return NewServer(t, string(zone))
}

// ask sends one query with RD set; udpSize > 0 adds an EDNS0 OPT record.
func ask(t *testing.T, s *Server, network, name string, qtype uint16, udpSize uint16) *dns.Msg {
	t.Helper()
	in, err := exchange(s, network, name, qtype, udpSize, 5*time.Second)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.TypeToString[qtype], name, network, err)
	}
	return in
}

func exchange(s *Server, network, name string, qtype uint16, udpSize uint16, timeout time.Duration) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if udpSize > 0 {
		m.SetEdns0(udpSize, false)
	}
	c := dns.Client{Net: network, Timeout: timeout}
	in, _, err := c.Exchange(m, s.Addr)
	return in, err
}

// brief renders a record as "owner ttl type rdata", without the class and
// with single spaces, to keep the tables short.
func brief(rr dns.RR) string {
	f := strings.Fields(rr.String())
	if len(f) < 4 {
		return rr.String()
	}
	return strings.Join(append([]string{f[0], f[1]}, f[3:]...), " ")
}

func briefAll(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, brief(rr))
	}
	return out
}

func TestAnswers(t *testing.T) {
	s := newTestServer(t)
	loop := make([]string, maxChase)
	for i := range loop {
		if i%2 == 0 {
			loop[i] = "loop1.example.test. 300 CNAME loop2.example.test."
		} else {
			loop[i] = "loop2.example.test. 300 CNAME loop1.example.test."
		}
	}
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answer  []string
		ns      []string // authority section
		comment string
	}{
		{
			name: "A", qname: "mail.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess,
			answer: []string{"mail.example.test. 300 A 192.0.2.1"},
		},
		{
			name: "MX at apex", qname: "example.test.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess,
			answer: []string{"example.test. 300 MX 10 mail.example.test."},
		},
		{
			name: "question case does not matter", qname: "MAIL.Example.TEST.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess,
			answer: []string{"mail.example.test. 300 AAAA 2001:db8::1"},
		},
		{
			name: "in-zone CNAME chain is followed", qname: "www.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess,
			answer: []string{
				"www.example.test. 300 CNAME web.example.test.",
				"web.example.test. 300 CNAME mail.example.test.",
				"mail.example.test. 300 A 192.0.2.1",
			},
		},
		{
			name: "CNAME asked for is not followed", qname: "www.example.test.", qtype: dns.TypeCNAME, rcode: dns.RcodeSuccess,
			answer: []string{"www.example.test. 300 CNAME web.example.test."},
		},
		{
			name: "CNAME into another zone is left to the client", qname: "away.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess,
			answer: []string{"away.example.test. 300 CNAME host.other.test."},
		},
		{
			name: "CNAME to a missing name: NXDOMAIN for the target (RFC 6604)", qname: "dangle.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			answer: []string{"dangle.example.test. 300 CNAME gone.example.test."},
			ns:     []string{"example.test. 60 SOA ns.example.test. hostmaster.example.test. 1 7200 900 1209600 60"},
		},
		{
			name: "CNAME loop stops after maxChase", qname: "loop1.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess,
			answer: loop,
		},
		{
			name: "NXDOMAIN with SOA, TTL capped by MINIMUM", qname: "nosuch.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			ns: []string{"example.test. 60 SOA ns.example.test. hostmaster.example.test. 1 7200 900 1209600 60"},
		},
		{
			name: "NODATA with SOA", qname: "mail.example.test.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess,
			ns: []string{"example.test. 60 SOA ns.example.test. hostmaster.example.test. 1 7200 900 1209600 60"},
		},
		{
			name: "empty non-terminal is NODATA (RFC 8020)", qname: "b.example.test.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess,
			ns: []string{"example.test. 60 SOA ns.example.test. hostmaster.example.test. 1 7200 900 1209600 60"},
		},
		{
			name: "second zone has its own SOA", qname: "nosuch.other.test.", qtype: dns.TypeMX, rcode: dns.RcodeNameError,
			ns: []string{"other.test. 30 SOA ns.other.test. hostmaster.other.test. 1 7200 900 1209600 30"},
		},
		{
			name: "name outside every zone: NXDOMAIN without SOA", qname: "mail.example.invalid.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, network := range []string{"udp", "tcp"} {
				in := ask(t, s, network, tc.qname, tc.qtype, 1232)
				if in.Rcode != tc.rcode {
					t.Errorf("%s: rcode %s, want %s", network, dns.RcodeToString[in.Rcode], dns.RcodeToString[tc.rcode])
				}
				if !in.Authoritative || !in.RecursionAvailable {
					t.Errorf("%s: AA=%v RA=%v, want both set", network, in.Authoritative, in.RecursionAvailable)
				}
				if got := briefAll(in.Answer); !slices.Equal(got, tc.answer) {
					t.Errorf("%s: answer\n%s\nwant\n%s", network, strings.Join(got, "\n"), strings.Join(tc.answer, "\n"))
				}
				if got := briefAll(in.Ns); !slices.Equal(got, tc.ns) {
					t.Errorf("%s: authority %q, want %q", network, got, tc.ns)
				}
			}
		})
	}
}

func TestUDPSizeLimit(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		network string
		udpSize uint16
		wantTC  bool
	}{
		{"udp", 0, true},    // 512 bytes without EDNS0 (RFC 1035 §4.2.1)
		{"udp", 1232, true}, // 40 records do not fit 1232 bytes either
		{"udp", 4096, false},
		{"tcp", 0, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.network, tc.udpSize), func(t *testing.T) {
			in := ask(t, s, tc.network, "big.example.test.", dns.TypeTXT, tc.udpSize)
			if in.Truncated != tc.wantTC {
				t.Errorf("TC=%v, want %v", in.Truncated, tc.wantTC)
			}
			if tc.wantTC && len(in.Answer) >= 40 {
				t.Errorf("truncated reply has all %d records", len(in.Answer))
			}
			if !tc.wantTC && len(in.Answer) != 40 {
				t.Errorf("got %d records, want 40", len(in.Answer))
			}
		})
	}
}

func TestSetRcode(t *testing.T) {
	s := newTestServer(t)
	s.SetRcode("Mail.Example.Test", dns.RcodeServerFailure) // any case, with or without the dot
	for _, qtype := range []uint16{dns.TypeA, dns.TypeMX} {
		in := ask(t, s, "udp", "mail.example.test.", qtype, 0)
		if in.Rcode != dns.RcodeServerFailure || len(in.Answer) != 0 {
			t.Errorf("%s: rcode %s with %d answers, want SERVFAIL and none",
				dns.TypeToString[qtype], dns.RcodeToString[in.Rcode], len(in.Answer))
		}
	}
	if in := ask(t, s, "udp", "example.test.", dns.TypeMX, 0); in.Rcode != dns.RcodeSuccess {
		t.Errorf("other name: rcode %s, want NOERROR", dns.RcodeToString[in.Rcode])
	}
	s.SetRcode("mail.example.test.", dns.RcodeSuccess)
	if in := ask(t, s, "udp", "mail.example.test.", dns.TypeA, 0); in.Rcode != dns.RcodeSuccess || len(in.Answer) != 1 {
		t.Errorf("after reset: rcode %s with %d answers, want NOERROR and 1", dns.RcodeToString[in.Rcode], len(in.Answer))
	}
}

func TestSetTruncate(t *testing.T) {
	s := newTestServer(t)
	s.SetTruncate("mail.example.test", true)
	in := ask(t, s, "udp", "mail.example.test.", dns.TypeA, 1232)
	if !in.Truncated || len(in.Answer) != 0 {
		t.Errorf("udp: TC=%v with %d answers, want TC and none", in.Truncated, len(in.Answer))
	}
	in = ask(t, s, "tcp", "mail.example.test.", dns.TypeA, 1232)
	if in.Truncated || len(in.Answer) != 1 {
		t.Errorf("tcp: TC=%v with %d answers, want no TC and 1", in.Truncated, len(in.Answer))
	}
	s.SetTruncate("mail.example.test", false)
	in = ask(t, s, "udp", "mail.example.test.", dns.TypeA, 1232)
	if in.Truncated || len(in.Answer) != 1 {
		t.Errorf("udp after reset: TC=%v with %d answers, want no TC and 1", in.Truncated, len(in.Answer))
	}
}

func TestSetDrop(t *testing.T) {
	s := newTestServer(t)
	s.SetDrop("mail.example.test.", true)
	for _, network := range []string{"udp", "tcp"} {
		_, err := exchange(s, network, "mail.example.test.", dns.TypeA, 0, 100*time.Millisecond)
		var nerr net.Error
		if !errors.As(err, &nerr) || !nerr.Timeout() {
			t.Errorf("%s: err %v, want a timeout", network, err)
		}
	}
	if got := s.Queries(); got != 2 {
		t.Errorf("Queries() = %d, want the 2 dropped queries counted", got)
	}
	s.SetDrop("mail.example.test.", false)
	ask(t, s, "udp", "mail.example.test.", dns.TypeA, 0)
}

func TestHold(t *testing.T) {
	s := newTestServer(t)
	release := s.Hold("mail.example.test.")
	type result struct {
		in  *dns.Msg
		err error
	}
	res := make(chan result, 1)
	go func() {
		in, err := exchange(s, "udp", "mail.example.test.", dns.TypeA, 0, 10*time.Second)
		res <- result{in, err}
	}()
	for s.Queries() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The query has arrived and waits on the hold, so no reply can exist yet.
	select {
	case r := <-res:
		t.Fatalf("reply before release: %v %v", r.in, r.err)
	default:
	}
	release()
	release() // harmless
	r := <-res
	if r.err != nil || len(r.in.Answer) != 1 {
		t.Fatalf("after release: %v, %v; want one answer", r.in, r.err)
	}
	// Other names are never held.
	ask(t, s, "udp", "example.test.", dns.TypeMX, 0)
}

func TestLog(t *testing.T) {
	s := newTestServer(t)
	ask(t, s, "udp", "Example.Test.", dns.TypeMX, 1232)
	ask(t, s, "tcp", "mail.example.test.", dns.TypeAAAA, 0)
	want := []Query{
		{Name: "example.test.", Type: dns.TypeMX, Net: "udp", RecursionDesired: true, UDPSize: 1232},
		{Name: "mail.example.test.", Type: dns.TypeAAAA, Net: "tcp", RecursionDesired: true},
	}
	if got := s.Log(); !slices.Equal(got, want) {
		t.Errorf("Log() = %+v, want %+v", got, want)
	}
	if got := s.Queries(); got != 2 {
		t.Errorf("Queries() = %d, want 2", got)
	}
}

// fatalTB records Fatalf instead of stopping the test, to check that bad
// input fails the test that passed it.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestNewServerBadZone(t *testing.T) {
	tests := []struct {
		name string
		zone string
	}{
		{"relative name without $ORIGIN", "mail IN A 192.0.2.1\n"},
		{"bad address", "mail.example.test. IN A 192.0.2.300\n"},
		{"unknown type", "mail.example.test. IN NOPE 1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := &fatalTB{TB: t}
			if s := NewServer(tb, tc.zone); s != nil {
				t.Errorf("NewServer returned a server for a bad zone")
			}
			if !strings.Contains(tb.msg, "parse zone") {
				t.Errorf("Fatalf message %q, want a parse error", tb.msg)
			}
		})
	}
}

func TestDefaultTTL(t *testing.T) {
	s := NewServer(t, "mail.example.test. IN A 192.0.2.1\n")
	in := ask(t, s, "udp", "mail.example.test.", dns.TypeA, 0)
	if got := briefAll(in.Answer); !slices.Equal(got, []string{"mail.example.test. 3600 A 192.0.2.1"}) {
		t.Errorf("answer %q, want the 3600 default TTL", got)
	}
}

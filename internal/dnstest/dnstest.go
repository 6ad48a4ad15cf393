// Package dnstest runs a small DNS server on 127.0.0.1 for tests, so that no
// test ever needs a real resolver.
//
// The server answers from a zone written in RFC 1035 master-file text. It
// plays the part of the recursive resolver a program is pointed at, but it
// only knows the zones it was given:
//
//   - Every answer is authoritative (AA) and has RA set, since clients send
//     RD and expect a resolver.
//   - A name with records of the asked type gets them (NOERROR).
//   - A name that exists but has no records of the asked type gets
//     NOERROR with an empty answer (NODATA). A name that only has
//     descendants (an empty non-terminal) exists too (RFC 8020).
//   - A name that does not exist gets NXDOMAIN.
//   - Negative answers (NXDOMAIN and NODATA) carry the SOA of the closest
//     enclosing zone in the authority section when the zone text has one.
//     Its TTL is the smaller of the SOA's own TTL and its MINIMUM field, so a
//     client can cache the answer for that long (RFC 2308 §3 and §5).
//   - A CNAME is returned for any other asked type. The server follows the
//     chain itself, adding each target's records to the same answer, as long
//     as the target lies in the same zone (the same closest enclosing SOA).
//     This is what an authoritative server does (RFC 1034 §4.3.2, step 3a).
//     A target in another zone is left for the client to chase, so a zone
//     text with two SOAs lets a test check that the client chases CNAMEs
//     itself. After a CNAME, the RCODE and SOA describe the last name of the
//     chain (RFC 6604).
//   - Over UDP the reply is cut to the client's EDNS0 buffer size, or 512
//     bytes without EDNS0, with TC set when records had to be left out
//     (RFC 1035 §4.2.1, RFC 6891 §6.2.5). Over TCP nothing is cut.
//
// Wildcards, DNAME, DNSSEC and zone transfers are not supported.
//
// Tests change the server's behaviour per name with SetRcode, SetTruncate,
// SetDrop and Hold, and read what it received with Queries and Log. All of
// them are safe to call while queries are served.
package dnstest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size the server advertises in its own OPT
// record: the value DNS Flag Day 2020 settled on to avoid IP fragmentation.
const ednsSize = 1232

// maxChase bounds how many in-zone CNAMEs the server follows for one query, so
// a CNAME loop in a test zone ends.
const maxChase = 16

// Query is one query the server received.
type Query struct {
	Name             string // the question name, lowercased and fully qualified
	Type             uint16 // the question type, e.g. dns.TypeMX
	Net              string // "udp" or "tcp"
	RecursionDesired bool   // the RD bit
	UDPSize          uint16 // the EDNS0 buffer size the client offered; 0 without an OPT record (RFC 6891 §6.2.3)
}

// Server is a DNS server on 127.0.0.1 that serves one zone text over UDP and
// TCP on the same port. Create it with NewServer; its zero value is not
// usable.
type Server struct {
	// Addr is the address both listeners share, "127.0.0.1:port".
	Addr string

	// The zone data never changes after NewServer, so it needs no lock.
	records map[string][]dns.RR // lowercased owner name -> records, in file order
	exists  map[string]bool     // owner names and their empty non-terminal ancestors
	soas    map[string]*dns.SOA // lowercased zone apex -> its SOA

	closing chan struct{} // closed when the test ends, to release held queries

	mu       sync.Mutex
	rcodes   map[string]int
	truncate map[string]bool
	drop     map[string]bool
	holds    map[string]chan struct{}
	log      []Query
}

// NewServer parses zone, starts a server for it on 127.0.0.1 over UDP and TCP
// and stops the server when the test ends (t.Cleanup). It fails the test if
// the zone does not parse or the server cannot start.
//
// zone is RFC 1035 master-file text. $ORIGIN and $TTL are supported; owner
// names must be absolute or follow an $ORIGIN. A record without a TTL and no
// $TTL before it gets 3600. $INCLUDE is refused.
func NewServer(t testing.TB, zone string) *Server {
	t.Helper()
	s := &Server{
		records:  make(map[string][]dns.RR),
		exists:   make(map[string]bool),
		soas:     make(map[string]*dns.SOA),
		closing:  make(chan struct{}),
		rcodes:   make(map[string]int),
		truncate: make(map[string]bool),
		drop:     make(map[string]bool),
		holds:    make(map[string]chan struct{}),
	}
	if err := s.load(zone); err != nil {
		t.Fatalf("dnstest: %v", err)
		return nil
	}

	pc, l, err := listen()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
		return nil
	}
	s.Addr = pc.LocalAddr().String()

	handler := dns.HandlerFunc(s.serve)
	up := make(chan struct{}, 2)
	started := func() { up <- struct{}{} }
	servers := []*dns.Server{
		{PacketConn: pc, Handler: handler, UDPSize: dns.MaxMsgSize, NotifyStartedFunc: started},
		{Listener: l, Handler: handler, NotifyStartedFunc: started},
	}
	done := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { done <- srv.ActivateAndServe() }()
	}
	stopped := 0 // servers whose ActivateAndServe returned during start-up

	t.Cleanup(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			// A server that failed to start reports "server not started";
			// its error already reached the test below.
			_ = srv.ShutdownContext(ctx)
		}
		for range len(servers) - stopped {
			select {
			case <-done:
			case <-ctx.Done():
				t.Errorf("dnstest: server %s did not stop", s.Addr)
				return
			}
		}
	})

	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for range servers {
		select {
		case <-up:
		case err := <-done:
			stopped++
			t.Fatalf("dnstest: serve %s: %v", s.Addr, err)
			return nil
		case <-timer.C:
			t.Fatalf("dnstest: server %s did not start", s.Addr)
			return nil
		}
	}
	return s
}

// listen opens a UDP socket and a TCP listener on the same 127.0.0.1 port. The
// kernel picks the UDP port; the TCP port of that number may be taken, so a few
// ports are tried.
func listen() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("no free UDP+TCP port pair: %w", lastErr)
}

// load parses the zone text into the server's maps.
func (s *Server) load(zone string) error {
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "zone")
	zp.SetDefaultTTL(3600)
	var owners []string
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		owner := strings.ToLower(rr.Header().Name)
		if _, seen := s.records[owner]; !seen {
			owners = append(owners, owner)
		}
		s.records[owner] = append(s.records[owner], rr)
		if soa, ok := rr.(*dns.SOA); ok {
			s.soas[owner] = soa
		}
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("parse zone: %w", err)
	}
	// A name exists if it owns records or has a descendant that does, up to
	// the apex of its zone (RFC 8020: an empty non-terminal is NODATA, not
	// NXDOMAIN). Without an enclosing SOA every ancestor exists.
	for _, owner := range owners {
		apex := s.apex(owner)
		for name := owner; ; {
			s.exists[name] = true
			if name == apex || name == "." {
				break
			}
			name = parent(name)
		}
	}
	return nil
}

// parent returns the name with its first label removed.
func parent(name string) string {
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}

// apex returns the closest enclosing zone apex of name (a lowercased FQDN):
// the longest ancestor-or-self that owns an SOA, or "" when none does.
func (s *Server) apex(name string) string {
	for {
		if _, ok := s.soas[name]; ok {
			return name
		}
		if name == "." {
			return ""
		}
		name = parent(name)
	}
}

// canonical lowercases name and makes it fully qualified, so "Example.com"
// and "example.com." set the same behaviour.
func canonical(name string) string { return dns.CanonicalName(name) }

// SetRcode makes the server answer every query for name, of any type, with
// rcode and no records, e.g. dns.RcodeServerFailure or dns.RcodeRefused.
// dns.RcodeSuccess removes the override.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rcode == dns.RcodeSuccess {
		delete(s.rcodes, canonical(name))
		return
	}
	s.rcodes[canonical(name)] = rcode
}

// SetTruncate makes UDP answers for name carry TC and no records, so a client
// must retry over TCP (RFC 7766 §5). TCP answers are unchanged.
func (s *Server) SetTruncate(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.truncate[canonical(name)] = true
		return
	}
	delete(s.truncate, canonical(name))
}

// SetDrop makes the server read queries for name and never answer them, over
// UDP and TCP, so a client times out. Dropped queries still count in Queries
// and Log.
func (s *Server) SetDrop(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.drop[canonical(name)] = true
		return
	}
	delete(s.drop, canonical(name))
}

// Hold makes queries for name wait, unanswered, until release is called; then
// they are answered as usual. Tests use it to keep a lookup in flight while
// they start others. Queries still waiting when the test ends are dropped.
// Calling release more than once is harmless. Holding a name that is already
// held replaces the hold; queries waiting on the old one stay held until its
// release is called.
func (s *Server) Hold(name string) (release func()) {
	ch := make(chan struct{})
	key := canonical(name)
	s.mu.Lock()
	s.holds[key] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.holds[key] == ch {
				delete(s.holds, key)
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Queries returns how many queries the server has received, answered or
// not.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// Log returns a copy of every query received so far, oldest first.
func (s *Server) Log() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

// serve is the dns.Handler for both listeners.
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	network := w.LocalAddr().Network()
	if len(req.Question) != 1 {
		// The server's accept function already refuses this; keep the
		// handler safe on its own.
		m := new(dns.Msg)
		m.SetRcodeFormatError(req)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canonical(q.Name)

	rec := Query{Name: name, Type: q.Qtype, Net: network, RecursionDesired: req.RecursionDesired}
	if opt := req.IsEdns0(); opt != nil {
		rec.UDPSize = opt.UDPSize()
	}
	s.mu.Lock()
	s.log = append(s.log, rec)
	rcode, override := s.rcodes[name]
	truncate := s.truncate[name] && network == "udp"
	drop := s.drop[name]
	hold := s.holds[name]
	s.mu.Unlock()

	if drop {
		return
	}
	if hold != nil {
		select {
		case <-hold:
		case <-s.closing:
			return
		}
	}

	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	switch {
	case override:
		m.Rcode = rcode
	case truncate:
		m.Truncated = true
	default:
		s.answer(m, name, q.Qtype)
	}

	if req.IsEdns0() != nil {
		m.SetEdns0(ednsSize, false)
	}
	if network == "udp" {
		size := dns.MinMsgSize
		if rec.UDPSize > dns.MinMsgSize {
			size = int(rec.UDPSize)
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// answer fills m with the zone's answer for name and qtype, following
// in-zone CNAMEs (RFC 1034 §4.3.2).
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) {
	for range maxChase {
		var cname *dns.CNAME
		found := false
		for _, rr := range s.records[name] {
			h := rr.Header()
			if h.Rrtype == qtype || qtype == dns.TypeANY {
				// Copy: the message is packed and cut per query, and the
				// zone is shared by concurrent handlers.
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			}
			if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if found {
			return
		}
		if cname == nil || qtype == dns.TypeCNAME {
			s.negative(m, name)
			return
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		target := canonical(cname.Target)
		if s.apex(target) != s.apex(name) {
			// Another zone: the client asks again for the target.
			return
		}
		name = target
	}
}

// negative makes m a NODATA or NXDOMAIN answer for name, with the SOA of its
// zone in the authority section, its TTL capped by MINIMUM (RFC 2308 §3).
func (s *Server) negative(m *dns.Msg, name string) {
	if !s.exists[name] {
		m.Rcode = dns.RcodeNameError
	}
	soa, ok := s.soas[s.apex(name)]
	if !ok {
		return
	}
	c := dns.Copy(soa).(*dns.SOA)
	c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
	m.Ns = append(m.Ns, c)
}

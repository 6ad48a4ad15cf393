// Command fakemx runs a fake DNS server and a fake MX on loopback, so that
// preflight can be tried by hand without the internet:
//
//	go run ./internal/cmd/fakemx &
//	PREFLIGHT_DNS_RESOLVERS=127.0.0.1:5353 PREFLIGHT_PROBE_ALLOW_PRIVATE=true \
//	PREFLIGHT_PROBE_PORT=2525 go run . verify --json anna@shop.test bob@shop.test
//
// Zone: shop.test (MX mx.shop.test → 127.0.0.1; anna@ and info@ exist,
// everyone else gets 550 5.1.1), catchall.test (accepts every recipient),
// full.test (452 4.2.2), grey.test (451 4.7.1), blocked.test (550 5.7.1
// Spamhaus), nullmx.test (null MX, RFC 7505) and implicit.test (A record
// only). Any other name is NXDOMAIN. It listens on loopback only and refuses
// DATA: it never takes a message.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

const zone = `
$ORIGIN test.
$TTL 60
@            IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
shop         IN MX 10 mx.shop.test.
catchall     IN MX 10 mx.shop.test.
full         IN MX 10 mx.shop.test.
grey         IN MX 10 mx.shop.test.
blocked      IN MX 10 mx.shop.test.
mx.shop      IN A  127.0.0.1
nullmx       IN MX 0 .
implicit     IN A  127.0.0.1
`

func main() {
	dnsAddr := flag.String("dns", "127.0.0.1:5353", "DNS listen address (loopback only)")
	smtpAddr := flag.String("smtp", "127.0.0.1:2525", "SMTP listen address (loopback only)")
	flag.Parse()
	for _, a := range []string{*dnsAddr, *smtpAddr} {
		host, _, err := net.SplitHostPort(a)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			log.Fatalf("fakemx: %s is not a loopback host:port", a)
		}
	}
	records, err := parseZone(zone)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	mux := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { answer(w, r, records) })
	for _, netw := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: *dnsAddr, Net: netw, Handler: mux}
		go func() {
			if err := srv.ListenAndServe(); err != nil {
				log.Fatalf("fakemx: dns %s: %v", netw, err)
			}
		}()
		defer srv.Shutdown()
	}

	s := smtp.NewServer(backend{})
	s.Addr, s.Domain = *smtpAddr, "mx.shop.test"
	s.AllowInsecureAuth = true
	go func() {
		if err := s.ListenAndServe(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			log.Fatalf("fakemx: smtp: %v", err)
		}
	}()
	defer s.Close()
	fmt.Printf("fakemx: DNS on %s, SMTP on %s (Ctrl-C to stop)\n", *dnsAddr, *smtpAddr)
	<-ctx.Done()
}

func parseZone(text string) (map[string][]dns.RR, error) {
	out := map[string][]dns.RR{}
	zp := dns.NewZoneParser(strings.NewReader(text), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := strings.ToLower(rr.Header().Name)
		out[name] = append(out[name], rr)
	}
	return out, zp.Err()
}

func answer(w dns.ResponseWriter, r *dns.Msg, records map[string][]dns.RR) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative, m.RecursionAvailable = true, true
	if len(r.Question) == 1 {
		q := r.Question[0]
		rrs, exists := records[strings.ToLower(q.Name)]
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		if len(m.Answer) == 0 {
			m.Ns = append(m.Ns, records["test."]...)
		}
	}
	w.WriteMsg(m)
}

type backend struct{}

func (backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{}, nil }

type session struct{}

func (*session) AuthPlain(string, string) error            { return smtp.ErrAuthUnsupported }
func (*session) Mail(string, *smtp.MailOptions) error      { return nil }
func (*session) Reset()                                    {}
func (*session) Logout() error                             { return nil }
func (*session) Rcpt(to string, _ *smtp.RcptOptions) error { return rcpt(strings.ToLower(to)) }

// Data refuses every message: a verifier must never get this far.
func (*session) Data(io.Reader) error {
	log.Print("fakemx: a client sent DATA; a verifier must never do that")
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "DATA refused: this is a fake MX"}
}

func rcpt(to string) error {
	_, domain, _ := strings.Cut(to, "@")
	switch {
	case domain == "catchall.test", to == "anna@shop.test", to == "info@shop.test", to == "anna@implicit.test":
		return nil
	case domain == "full.test":
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
	case domain == "grey.test":
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, please try again later"}
	case domain == "blocked.test":
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Service unavailable, client host blocked using zen.spamhaus.org"}
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"}
}

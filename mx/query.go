package mx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size offered in EDNS0 (RFC 6891): 1232 bytes
// fits the IPv6 minimum MTU without fragmentation (DNS Flag Day 2020).
const ednsSize = 1232

// maxCNAME bounds a CNAME chain. RFC 1034 §3.6.2 discourages chains at all;
// real ones are short, and a loop must end.
const maxCNAME = 8

// answerKind says what one name/type lookup found.
type answerKind int

const (
	answerFound    answerKind = iota // records of the type, at the end of any CNAME chain
	answerNoData                     // the name exists without records of the type (RFC 2308 §2.2)
	answerNXDomain                   // the name does not exist (RFC 2308 §2.1)
	answerTemp                       // no usable answer for now
)

// rrAnswer is the outcome of resolve.
type rrAnswer struct {
	kind answerKind
	rrs  []dns.RR // for answerFound: the records of the asked type
	// ttl is the smallest TTL of the records and CNAMEs used. For negative
	// answers it includes the SOA-derived negative TTL (RFC 2308 §5), or 0
	// when the reply had no SOA: RFC 2308 §5 says not to cache such an
	// answer, and the callers' floor (MinTTL) applies.
	ttl    uint32
	detail string // for answerTemp and answerNXDomain
}

// resolve looks up name (normalized: lowercase, no trailing dot) and qtype,
// following CNAMEs.
// The error is non-nil only when ctx is done.
//
// When a reply ends its CNAME chain without an answer, the last target is
// asked again: a resolver has followed the chain and gives the same negative
// answer, but an authoritative server stops at its zone's edge (RFC 1034
// §4.3.2), so only asking tells NODATA or NXDOMAIN for the target apart from
// "not followed".
func (r *Resolver) resolve(ctx context.Context, name string, qtype uint16) (rrAnswer, error) {
	qt := dns.TypeToString[qtype]
	show := name
	target := dns.Fqdn(name)
	ttl := uint32(math.MaxUint32)
	hops := 0
	for {
		msg, from, err := r.query(ctx, target, qtype)
		if err != nil {
			return rrAnswer{}, err
		}
		if msg == nil {
			return rrAnswer{kind: answerTemp, detail: describe(qt, show, target, from)}, nil
		}
		followed := false
		for {
			// Records are matched by owner, not position: RFC 1034 §4.3.2
			// lists the CNAME first, but not every server keeps that order.
			var rrs []dns.RR
			var cname *dns.CNAME
			for _, rr := range msg.Answer {
				h := rr.Header()
				if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, target) {
					continue
				}
				if h.Rrtype == qtype {
					rrs = append(rrs, rr)
				} else if c, ok := rr.(*dns.CNAME); ok {
					cname = c
				}
			}
			if len(rrs) > 0 {
				for _, rr := range rrs {
					ttl = min(ttl, rr.Header().Ttl)
				}
				return rrAnswer{kind: answerFound, rrs: rrs, ttl: ttl}, nil
			}
			if cname == nil {
				break
			}
			hops++
			if hops > maxCNAME {
				return rrAnswer{
					kind:   answerTemp,
					detail: fmt.Sprintf("%s %s: CNAME chain loops or is longer than %d", qt, show, maxCNAME),
				}, nil
			}
			ttl = min(ttl, cname.Hdr.Ttl)
			target = strings.ToLower(dns.Fqdn(cname.Target))
			followed = true
		}
		if followed {
			continue
		}
		ttl = min(ttl, negativeSOATTL(msg))
		if msg.Rcode == dns.RcodeNameError {
			return rrAnswer{kind: answerNXDomain, ttl: ttl, detail: describe(qt, show, target, "NXDOMAIN from "+from)}, nil
		}
		return rrAnswer{kind: answerNoData, ttl: ttl}, nil
	}
}

// negativeSOATTL returns how long a negative reply may be cached: the smaller
// of the TTL of the SOA in its authority section and the SOA's MINIMUM field
// (RFC 2308 §5), or 0 without an SOA.
func negativeSOATTL(msg *dns.Msg) uint32 {
	for _, rr := range msg.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl)
		}
	}
	return 0
}

// describe says what happened to a query for name that reached target
// through CNAMEs, e.g. "MX a.example: at CNAME target b.example: SERVFAIL from
// 127.0.0.1:53".
func describe(qtype, name, target, what string) string {
	if t := strings.TrimSuffix(target, "."); t != name {
		return fmt.Sprintf("%s %s: at CNAME target %s: %s", qtype, name, t, what)
	}
	return fmt.Sprintf("%s %s: %s", qtype, name, what)
}

// query asks the resolvers for name and qtype until one answers NOERROR or
// NXDOMAIN, and returns that reply and the server that sent it. When none
// does, the reply is nil and the string says what went wrong with each. The error
// is non-nil only when ctx is done.
//
// Like the stub resolvers of glibc and Go, it goes round the resolvers in
// order, Attempts times, so a dead first resolver costs one timeout, not
// Attempts of them. Only a timeout earns a resolver another try: SERVFAIL and
// REFUSED are the resolver's considered answer (RFC 9520 has resolvers cache
// failures), and a refused connection means nothing listens.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true // we talk to recursive resolvers (RFC 1035 §4.1.1)
	m.SetEdns0(ednsSize, false)

	var fails []string
	done := make([]bool, len(r.servers))
	for range r.attempts {
		for i, server := range r.servers {
			if done[i] {
				continue
			}
			in, err := r.exchange(ctx, server, m)
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			var fail string
			switch {
			case errors.Is(err, errTimeout):
				fail = "timeout from " + server
			case errors.Is(err, syscall.ECONNREFUSED):
				fail = "connection refused by " + server
				done[i] = true
			case err != nil:
				fail = fmt.Sprintf("%v (%s)", err, server)
				done[i] = true
			case in.Rcode == dns.RcodeSuccess || in.Rcode == dns.RcodeNameError:
				return in, server, nil
			default:
				fail = fmt.Sprintf("%s from %s", dns.RcodeToString[in.Rcode], server)
				done[i] = true
			}
			r.log.DebugContext(ctx, "dns query failed",
				"name", name, "type", dns.TypeToString[qtype], "server", server, "failure", fail)
			if !slices.Contains(fails, fail) {
				fails = append(fails, fail)
			}
		}
	}
	return nil, strings.Join(fails, "; "), nil
}

// errTimeout marks an attempt that got no reply within Config.Timeout.
var errTimeout = errors.New("timeout")

// errMismatch marks a reply to some other question.
var errMismatch = errors.New("reply to another question")

// exchange sends m to server over UDP and, when the reply is truncated, again
// over TCP (RFC 1035 §4.2.1, RFC 7766 §5). Each transport gets its own
// Config.Timeout.
func (r *Resolver) exchange(ctx context.Context, server string, m *dns.Msg) (*dns.Msg, error) {
	in, err := r.exchangeNet(ctx, "udp", server, m)
	if err == nil && in.Truncated {
		in, err = r.exchangeNet(ctx, "tcp", server, m)
	}
	return in, err
}

func (r *Resolver) exchangeNet(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := dns.Client{Net: network, Timeout: r.timeout}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer conn.Close()
	// miekg/dns reads until the deadline; closing the connection makes a
	// cancellation take effect at once.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	in, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return nil, classify(ctx, err)
	}
	q := m.Question[0]
	// miekg/dns checks the ID; also check the question, when the reply has
	// one, so that a confused server's answer is not cached for this name.
	if len(in.Question) > 0 && (in.Question[0].Qtype != q.Qtype || !strings.EqualFold(in.Question[0].Name, q.Name)) {
		return nil, errMismatch
	}
	return in, nil
}

// classify turns the error of an exchange into errTimeout when the attempt ran
// out of time. Closing the connection on timeout races with the read
// deadline, so the context decides, not only the error.
func classify(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errTimeout
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return errTimeout
	}
	return err
}

// Package mx finds the mail servers of a domain: its MX hosts in the order a
// sending MTA would try them, with their addresses, or a verdict that there is
// nowhere to deliver to.
//
// It asks the configured recursive resolvers directly with miekg/dns, so that
// it can tell NXDOMAIN, NODATA, null MX and temporary failures apart, which
// the standard library's resolver folds together. Answers are cached for their
// TTL and concurrent lookups of one name share a single query.
package mx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for the zero fields of Config.
const (
	DefaultTimeout    = 2 * time.Second
	DefaultAttempts   = 2
	DefaultMaxHosts   = 5
	DefaultCacheSize  = 100_000
	DefaultResolvConf = "/etc/resolv.conf"
)

// Cache lifetimes. Positive and negative TTLs are clamped to these bounds;
// temporary failures always get TempFailTTL.
const (
	// MinTTL is the shortest time any answer is cached, even with TTL 0
	// (RFC 1035 §3.2.1 would not cache it). A bulk job checks thousands of
	// addresses at one domain within seconds; without a floor each would
	// query again.
	MinTTL = 5 * time.Second
	// MaxTTL caps positive answers, so a changed MX set is seen within a day.
	MaxTTL = 24 * time.Hour
	// MaxNegativeTTL caps NXDOMAIN and NODATA answers, as RFC 2308 §5
	// suggests (one to three hours).
	MaxNegativeTTL = time.Hour
	// TempFailTTL is how long a SERVFAIL, REFUSED or timeout is remembered:
	// long enough that a storm of checks for a broken domain does not hammer
	// the resolver, short enough to retry soon (RFC 9520 §3.2 asks resolvers
	// for at least 1 second).
	TempFailTTL = 5 * time.Second
)

// Sentinel errors. Lookup and LookupAddrs return an error only for the
// caller's own failures; the verdicts about a domain are in Result.
var (
	// ErrConfig wraps every problem found by New.
	ErrConfig = errors.New("mx: invalid config")
	// ErrDomain means the name given to Lookup or LookupAddrs cannot be a
	// DNS name (empty, a label over 63 octets, over 255 octets in all).
	ErrDomain = errors.New("mx: invalid domain name")
	// ErrTempFail is returned by LookupAddrs when the addresses could not be
	// found out for now (SERVFAIL, REFUSED, timeouts). Lookup reports the
	// same condition as StatusTempFail instead.
	ErrTempFail = errors.New("mx: temporary DNS failure")
)

// Config holds the knobs of a Resolver. The zero value is usable: it reads
// the resolvers from /etc/resolv.conf and uses the defaults above.
type Config struct {
	// Resolvers are recursive resolvers as "ip:port", asked in order. When
	// empty, the nameserver lines of ResolvConf are used with port 53.
	Resolvers []string
	// ResolvConf is the resolv.conf(5) file read when Resolvers is empty
	// (default /etc/resolv.conf). Only its nameserver lines are used: the
	// names looked up are absolute, so search and ndots do not apply.
	ResolvConf string
	// Timeout bounds each query attempt (default 2s). A TCP retry after a
	// truncated reply gets its own Timeout.
	Timeout time.Duration
	// Attempts is how many times each resolver is tried for one query
	// (default 2). Only timeouts are retried; a resolver that answers
	// SERVFAIL or REFUSED, or that cannot be reached, is not asked again
	// for that query.
	Attempts int
	// MaxHosts is how many MX hosts, in preference order, get their
	// addresses resolved (default 5).
	MaxHosts int
	// CacheSize bounds the number of cached domains, and separately the
	// number of cached host addresses (default 100000 each).
	CacheSize int
	// Shuffle reorders hosts of equal preference; it is called with each run
	// of two or more such hosts. Nil uses math/rand/v2.
	Shuffle func([]Host)
	// Now is the clock for cache expiry (default time.Now). Network
	// timeouts always use the real clock.
	Now func() time.Time
	// Logger receives debug records about failed queries (default: none).
	Logger *slog.Logger
	// Shared, when set, is a second level behind the domain cache that a
	// fleet of instances shares (Redis): read on a local miss, written
	// through with the answer's own TTL, negative and temporary ones
	// included.
	Shared SharedCache
}

// SharedCache is a cache shared by a fleet of instances. Get is asked only
// after a local miss and gives the value's expiry; LocalHit counts a
// lookup the local cache answered. A failed Get is a miss, a failed Set is
// forgotten.
type SharedCache interface {
	Get(ctx context.Context, key string) (val []byte, expires time.Time, ok bool)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration)
	LocalHit()
}

// Status is the verdict of a Lookup.
type Status string

// Statuses.
const (
	// StatusOK: the domain has MX records and at least one MX host has an
	// address. Result.Hosts lists those hosts.
	StatusOK Status = "ok"
	// StatusImplicit: the domain has no MX records but has A or AAAA
	// records, so it is its own mail host with preference 0 (RFC 5321 §5.1).
	StatusImplicit Status = "implicit"
	// StatusNullMX: the domain says it accepts no mail (RFC 7505).
	StatusNullMX Status = "null_mx"
	// StatusNXDomain: the domain does not exist.
	StatusNXDomain Status = "nxdomain"
	// StatusNoMailServer: the domain exists but there is nowhere to deliver:
	// no MX and no address, or no MX host has an address.
	StatusNoMailServer Status = "no_mail_server"
	// StatusTempFail: the resolvers could not answer for now (SERVFAIL,
	// REFUSED, timeouts). Nothing is known about the domain.
	StatusTempFail Status = "temp_fail"
)

// Host is a mail host to connect to.
type Host struct {
	Name  string       // lowercase, no trailing dot
	Pref  uint16       // MX preference; lower is tried first
	Addrs []netip.Addr // IPv4 addresses first, then IPv6
}

// Result is the outcome of a Lookup. Hosts is set for StatusOK and
// StatusImplicit, in the order to try them.
type Result struct {
	Status Status
	Hosts  []Host
	// Detail says in words what was found, e.g. "MX example.com: SERVFAIL
	// from 127.0.0.1:53". It is for logs and support, not for matching.
	Detail string
}

// Resolver looks up mail servers. It is safe for concurrent use; make one and
// share it, so that its cache is shared.
type Resolver struct {
	servers  []string
	timeout  time.Duration
	attempts int
	maxHosts int
	shuffle  func([]Host)
	now      func() time.Time
	log      *slog.Logger
	shared   SharedCache

	domains     *cache[Result]
	hosts       *cache[hostAddrs]
	domainCalls group[Result]
	hostCalls   group[hostAddrs]
}

// New checks cfg, fills in defaults and returns a Resolver. Errors wrap
// ErrConfig, or come from reading cfg.ResolvConf.
func New(cfg Config) (*Resolver, error) {
	if cfg.Timeout < 0 || cfg.Attempts < 0 || cfg.MaxHosts < 0 || cfg.CacheSize < 0 {
		return nil, fmt.Errorf("%w: Timeout, Attempts, MaxHosts and CacheSize must not be negative", ErrConfig)
	}
	r := &Resolver{
		timeout:  cmp.Or(cfg.Timeout, DefaultTimeout),
		attempts: cmp.Or(cfg.Attempts, DefaultAttempts),
		maxHosts: cmp.Or(cfg.MaxHosts, DefaultMaxHosts),
		shuffle:  cfg.Shuffle,
		now:      cfg.Now,
		log:      cfg.Logger,
		shared:   cfg.Shared,
	}
	if r.shuffle == nil {
		r.shuffle = shuffleHosts
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	size := cmp.Or(cfg.CacheSize, DefaultCacheSize)
	r.domains = newCache[Result](size)
	r.hosts = newCache[hostAddrs](size)

	servers := cfg.Resolvers
	if len(servers) == 0 {
		path := cmp.Or(cfg.ResolvConf, DefaultResolvConf)
		cc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("mx: read resolvers: %w", err)
		}
		if len(cc.Servers) == 0 {
			return nil, fmt.Errorf("%w: no nameserver in %s", ErrConfig, path)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, "53"))
		}
	}
	for _, s := range servers {
		// An IP literal is required: a host name would need a resolver to
		// find the resolver.
		if _, err := netip.ParseAddrPort(s); err != nil {
			return nil, fmt.Errorf("%w: resolver %q is not ip:port", ErrConfig, s)
		}
	}
	r.servers = slices.Clone(servers)
	return r, nil
}

// shuffleHosts is the default Config.Shuffle. math/rand/v2's top-level
// functions are safe for concurrent use.
func shuffleHosts(h []Host) {
	rand.Shuffle(len(h), func(i, j int) { h[i], h[j] = h[j], h[i] })
}

// Lookup finds where mail for domain goes. domain is an ASCII (A-label),
// lowercase name without a trailing dot; other case and a trailing dot are
// tolerated.
//
// Every answer about the domain, including NXDOMAIN and failures of the
// resolvers, is a Result with a nil error. The error is non-nil only when ctx
// is done before the answer (it wraps ctx.Err()) or domain cannot be a DNS
// name (ErrDomain).
//
// The Result is the caller's to keep and modify. Hosts of equal preference are
// shuffled anew on every call, also for cached answers (RFC 5321 §5.1).
//
// A caller that gives up does not stop the lookup while other callers wait
// for the same domain; its answer still reaches them and the cache.
func (r *Resolver) Lookup(ctx context.Context, domain string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("mx: lookup %s: %w", domain, err)
	}
	name, err := normalize(domain)
	if err != nil {
		return Result{}, err
	}
	if res, _, ok := r.domains.get(name, r.now()); ok {
		if r.shared != nil {
			r.shared.LocalHit()
		}
		return r.present(res), nil
	}
	e, err := r.domainCalls.do(ctx, name, func(ctx context.Context) (entry[Result], error) {
		if e, ok := r.sharedGet(ctx, name); ok {
			r.domains.put(name, e)
			return e, nil
		}
		e, err := r.lookup(ctx, name)
		if err == nil {
			r.domains.put(name, e)
			r.sharedSet(ctx, name, e)
		}
		return e, err
	})
	if err != nil {
		return Result{}, fmt.Errorf("mx: lookup %s: %w", domain, err)
	}
	return r.present(e.val), nil
}

// LookupAddrs returns the IPv4 and IPv6 addresses of host, following CNAMEs,
// IPv4 first. A host without addresses (NXDOMAIN or NODATA) gives an empty
// slice and a nil error. A temporary failure gives an error wrapping
// ErrTempFail, since there is no Result to carry it. Other errors are as for
// Lookup. Answers share the cache that Lookup uses for MX hosts.
func (r *Resolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mx: lookup %s: %w", host, err)
	}
	name, err := normalize(host)
	if err != nil {
		return nil, err
	}
	e, err := r.hostAddrs(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("mx: lookup %s: %w", host, err)
	}
	if e.val.temp {
		return nil, fmt.Errorf("%w: %s", ErrTempFail, e.val.detail)
	}
	return slices.Clone(e.val.addrs), nil
}

// normalize returns domain lowercased without a trailing dot, the form of
// every name inside the package and of the cache keys, or ErrDomain. It does
// not allocate for a name already in that form.
func normalize(domain string) (string, error) {
	name := strings.TrimSuffix(strings.ToLower(domain), ".")
	if name == "" || strings.HasSuffix(name, ".") {
		return "", fmt.Errorf("%w: %q", ErrDomain, domain)
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", fmt.Errorf("%w: %q", ErrDomain, domain)
	}
	return name, nil
}

// present copies a cached result for one caller and shuffles its runs of
// equal preference (RFC 5321 §5.1: senders MUST randomize them to spread the
// load). Hosts and all their addresses are copied in two allocations.
func (r *Resolver) present(res Result) Result {
	if len(res.Hosts) == 0 {
		return res
	}
	n := 0
	for _, h := range res.Hosts {
		n += len(h.Addrs)
	}
	hosts := slices.Clone(res.Hosts)
	addrs := make([]netip.Addr, 0, n)
	for i := range hosts {
		start := len(addrs)
		addrs = append(addrs, hosts[i].Addrs...)
		// A full slice expression, so an append by the caller to one
		// host's addresses cannot overwrite the next host's.
		hosts[i].Addrs = addrs[start:len(addrs):len(addrs)]
	}
	shuffleRuns(hosts, r.shuffle)
	res.Hosts = hosts
	return res
}

// shuffleRuns calls shuffle on each run of two or more hosts of equal
// preference. hosts must be sorted by preference.
func shuffleRuns(hosts []Host, shuffle func([]Host)) {
	for i := 0; i < len(hosts); {
		j := i + 1
		for j < len(hosts) && hosts[j].Pref == hosts[i].Pref {
			j++
		}
		if j-i > 1 {
			shuffle(hosts[i:j])
		}
		i = j
	}
}

// lookup resolves domain without the domain cache.
func (r *Resolver) lookup(ctx context.Context, domain string) (entry[Result], error) {
	now := r.now()
	mx, err := r.resolve(ctx, domain, dns.TypeMX)
	if err != nil {
		return entry[Result]{}, err
	}
	switch mx.kind {
	case answerTemp:
		return entry[Result]{
			val:     Result{Status: StatusTempFail, Detail: mx.detail},
			expires: now.Add(TempFailTTL),
		}, nil
	case answerNXDomain:
		return entry[Result]{
			val:     Result{Status: StatusNXDomain, Detail: mx.detail},
			expires: now.Add(negativeTTL(mx.ttl)),
		}, nil
	case answerNoData:
		return r.implicit(ctx, domain, mx, now)
	}

	// Collect the exchanges. A target of "." is the null MX (RFC 7505 §3);
	// the same host listed twice keeps its lowest preference.
	var hosts []Host
	null := false
	for _, rr := range mx.rrs {
		m := rr.(*dns.MX)
		target := strings.ToLower(m.Mx)
		if target == "." {
			null = null || m.Preference == 0
			continue
		}
		name := strings.TrimSuffix(target, ".")
		if i := slices.IndexFunc(hosts, func(h Host) bool { return h.Name == name }); i >= 0 {
			hosts[i].Pref = min(hosts[i].Pref, m.Preference)
			continue
		}
		hosts = append(hosts, Host{Name: name, Pref: m.Preference})
	}
	ttl := positiveTTL(mx.ttl)
	switch {
	case null && len(hosts) == 0:
		// RFC 7505 §3: "0 ." is the only MX; the domain accepts no mail.
		return entry[Result]{
			val:     Result{Status: StatusNullMX, Detail: fmt.Sprintf("MX %s: null MX (RFC 7505)", domain)},
			expires: now.Add(ttl),
		}, nil
	case len(hosts) == 0:
		// Only "." targets, none at preference 0: not a null MX by RFC 7505
		// §3, but nothing to connect to either.
		return entry[Result]{
			val:     Result{Status: StatusNoMailServer, Detail: fmt.Sprintf("MX %s: no usable target", domain)},
			expires: now.Add(ttl),
		}, nil
	}
	// RFC 7505 §3 forbids a null MX next to other MX records; when a domain
	// has both anyway, the real hosts are used and "." is ignored.

	// Lower preference first (RFC 5321 §5.1); names break ties so that the
	// cached order is stable and only the per-call shuffle reorders.
	slices.SortFunc(hosts, func(a, b Host) int {
		return cmp.Or(cmp.Compare(a.Pref, b.Pref), strings.Compare(a.Name, b.Name))
	})
	if len(hosts) > r.maxHosts {
		// When the cut falls inside a run of equal preference, which members
		// are kept is left to Shuffle, so that no host of the run is always
		// left out.
		cut := hosts[r.maxHosts-1].Pref
		lo, hi := r.maxHosts-1, r.maxHosts
		for lo > 0 && hosts[lo-1].Pref == cut {
			lo--
		}
		for hi < len(hosts) && hosts[hi].Pref == cut {
			hi++
		}
		if hi > r.maxHosts {
			r.shuffle(hosts[lo:hi])
		}
		hosts = hosts[:r.maxHosts]
	}

	answers := r.resolveHosts(ctx, hosts)
	var (
		kept    []Host
		notes   []string
		anyTemp bool
	)
	for i, a := range answers {
		if a.err != nil {
			return entry[Result]{}, a.err
		}
		ttl = min(ttl, a.expires.Sub(now))
		switch {
		case len(a.val.addrs) > 0:
			hosts[i].Addrs = a.val.addrs
			kept = append(kept, hosts[i])
		case a.val.temp:
			anyTemp = true
			notes = append(notes, a.val.detail)
		default:
			notes = append(notes, a.val.detail)
		}
	}
	detail := strings.Join(notes, "; ")
	switch {
	case len(kept) > 0:
		return entry[Result]{val: Result{Status: StatusOK, Hosts: kept, Detail: detail}, expires: now.Add(max(ttl, MinTTL))}, nil
	case anyTemp:
		return entry[Result]{val: Result{Status: StatusTempFail, Detail: detail}, expires: now.Add(TempFailTTL)}, nil
	default:
		// RFC 5321 §5.1: MX records that are all unusable are an error, not
		// a reason to fall back to the implicit MX.
		return entry[Result]{val: Result{Status: StatusNoMailServer, Detail: detail}, expires: now.Add(max(ttl, MinTTL))}, nil
	}
}

// implicit handles a domain without MX records: RFC 5321 §5.1 makes the
// domain its own mail host, with preference 0, when it has an address.
func (r *Resolver) implicit(ctx context.Context, domain string, mx rrAnswer, now time.Time) (entry[Result], error) {
	a, err := r.hostAddrs(ctx, domain)
	if err != nil {
		return entry[Result]{}, err
	}
	ttl := min(negativeTTL(mx.ttl), a.expires.Sub(now))
	switch {
	case len(a.val.addrs) > 0:
		return entry[Result]{
			val: Result{
				Status: StatusImplicit,
				Hosts:  []Host{{Name: domain, Pref: 0, Addrs: a.val.addrs}},
				Detail: fmt.Sprintf("MX %s: none; implicit MX from its address (RFC 5321 §5.1)", domain),
			},
			expires: now.Add(max(ttl, MinTTL)),
		}, nil
	case a.val.temp:
		return entry[Result]{val: Result{Status: StatusTempFail, Detail: a.val.detail}, expires: now.Add(TempFailTTL)}, nil
	default:
		return entry[Result]{
			val:     Result{Status: StatusNoMailServer, Detail: fmt.Sprintf("MX %s: none, and no A or AAAA", domain)},
			expires: now.Add(max(ttl, MinTTL)),
		}, nil
	}
}

// positiveTTL clamps the TTL of records found.
func positiveTTL(ttl uint32) time.Duration {
	return min(max(time.Duration(ttl)*time.Second, MinTTL), MaxTTL)
}

// negativeTTL clamps the TTL of a negative answer (RFC 2308 §5).
func negativeTTL(ttl uint32) time.Duration {
	return min(max(time.Duration(ttl)*time.Second, MinTTL), MaxNegativeTTL)
}

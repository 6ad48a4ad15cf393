package probe

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/preflight-email/preflight/egress"
	"github.com/preflight-email/preflight/internal/netguard"
	"github.com/preflight-email/preflight/outcome"
)

// route is one way out (egress.Route) with its guarded dialer. Receiving
// servers judge and rate-limit the client IP, so each route has its own
// dispatchers, limiters, session caps and back-off per host.
type route struct {
	r       egress.Route
	dialer  *netguard.Dialer
	refused *atomic.Uint64 // sender-side refusals this route got
}

func newRoutes(cfg Config) ([]route, error) {
	rs := cfg.Routes
	if len(rs) == 0 {
		rs = []egress.Route{egress.Default}
	}
	out := make([]route, 0, len(rs))
	for _, r := range rs {
		d, err := r.Dialer(cfg.ConnectTimeout)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		out = append(out, route{r: r, refused: new(atomic.Uint64),
			dialer: &netguard.Dialer{AllowPrivate: cfg.AllowPrivate, Timeout: cfg.ConnectTimeout, Dial: d.DialContext}})
	}
	return out, nil
}

// gateID keys the limits of one receiving address (IPv6: /64) as seen
// from one route.
type gateID struct {
	route  int
	prefix netip.Prefix
}

func dispatcherKey(route int, host string) string {
	return fmt.Sprintf("%d|%s", route, host)
}

// helo is the name d's sessions greet with: the route's, else probe.helo.
func (d *dispatcher) helo() string {
	if h := d.e.routes[d.route].r.HELO; h != "" {
		return h
	}
	return d.e.cfg.HELO
}

// benchKey is a route benched for one host.
type benchKey struct {
	route int
	host  string
}

// routeOrder lists the routes to try for host: the healthy ones, in an
// order fixed per host (rendezvous hashing), so that a host sticks to its
// route and keeps warm sessions while different hosts spread over the
// routes. A route that has used up its RCPT budget at the host's address
// for now (its limiter is empty) goes after the routes that have some
// left: a big list's host then spreads over the routes, each under its
// own per-IP limits, while light traffic stays on one. Routes benched for
// host come last, in case every route is: they are then still tried once.
func (e *Engine) routeOrder(host string, addr netip.Addr) []int {
	n := len(e.routes)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if n == 1 {
		return order
	}
	weight := func(i int) uint64 {
		h := fnv.New64a()
		h.Write([]byte(e.routes[i].r.Name()))
		h.Write([]byte{0})
		h.Write([]byte(host))
		return h.Sum64()
	}
	// busy is 1 for a route whose RCPT limiter at the host's address is
	// empty now.
	busy := make([]int, n)
	if addr.IsValid() {
		e.gateMu.Lock()
		for i := range n {
			if g := e.gates[gateID{route: i, prefix: gateKey(addr)}]; g != nil && g.rcpt.Tokens() < 1 {
				busy[i] = 1
			}
		}
		e.gateMu.Unlock()
	}
	now := time.Now()
	e.benchMu.Lock()
	benched := func(i int) bool { return now.Before(e.benched[benchKey{i, host}]) }
	slices.SortFunc(order, func(a, b int) int {
		if ba, bb := benched(a), benched(b); ba != bb {
			if ba {
				return 1
			}
			return -1
		}
		if busy[a] != busy[b] {
			return busy[a] - busy[b]
		}
		wa, wb := weight(a), weight(b)
		switch {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return 0
	})
	e.benchMu.Unlock()
	return order
}

// RouteRefusals returns, per route name, the sender-side refusals (a
// blocklist, reputation or PTR refusal of the route's IP) it got: the
// block signal an operator watches for each egress IP.
func (e *Engine) RouteRefusals() map[string]uint64 {
	out := make(map[string]uint64, len(e.routes))
	for _, r := range e.routes {
		out[r.r.Name()] = r.refused.Load()
	}
	return out
}

// bench takes route ri off host for Config.RouteCooldown: the host
// refused the route's IP (a blocklist, a reputation or PTR refusal).
func (e *Engine) bench(ri int, host string) {
	if len(e.routes) == 1 {
		return // nowhere else to go: keep asking, and answering blocked
	}
	e.benchMu.Lock()
	e.benched[benchKey{ri, host}] = time.Now().Add(e.cfg.RouteCooldown)
	// Forget benches that ran out, so that the map stays small.
	for k, t := range e.benched {
		if time.Now().After(t) {
			delete(e.benched, k)
		}
	}
	e.benchMu.Unlock()
	e.stats.routeBenches.Add(1)
	e.log.Warn("probe: route refused by a host; benched", "route", e.routes[ri].r.Name(), "host", host, "for", e.cfg.RouteCooldown)
}

// senderRefusal reports whether res is a refusal of us, not of the
// address: a blocklist or reputation refusal (5.7.x), a missing PTR, a
// 421 that names our IP. reply.Classify and the probe's reasons already
// call those blocked.
func senderRefusal(res Result) bool {
	return res.Reason == outcome.Blocked
}

// allRefused is the answer when every route was refused: blocked, naming
// each route and what it was told.
func allRefused(host string, tried []string) Result {
	return Result{Reason: outcome.Blocked, Host: host,
		Message: "every route was refused: " + strings.Join(tried, "; ")}
}

// refusal is one sender-side refusal of a route by a receiving host.
type refusal struct {
	route, provider string
	at              time.Time
}

// maxRefusals bounds the refusals kept for RouteSignals: a day of them at
// most, and never more than this many.
const maxRefusals = 10000

// noteRefusal remembers that host refused route ri now.
func (e *Engine) noteRefusal(ri int, host string) {
	e.routes[ri].refused.Add(1)
	e.benchMu.Lock()
	defer e.benchMu.Unlock()
	e.refusals = append(e.refusals, refusal{route: e.routes[ri].r.Name(), provider: provider(host), at: time.Now()})
	if len(e.refusals) > maxRefusals {
		e.refusals = slices.Delete(e.refusals, 0, len(e.refusals)-maxRefusals)
	}
}

// provider names a receiving host by its last two labels
// (mx1.mail.outlook.com → outlook.com): close enough to the provider for
// an operator's eye.
func provider(host string) string {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(labels) <= 2 {
		return strings.Join(labels, ".")
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

// RouteSignal counts the sender-side refusals of one route by one
// receiving provider over the last hour and day, and says when they began.
type RouteSignal struct {
	Route    string    `json:"route"`
	Provider string    `json:"provider"`
	LastHour int       `json:"last_hour"`
	LastDay  int       `json:"last_day"`
	Since    time.Time `json:"since"` // the first refusal of the day
}

// RouteSignals returns the refusals of the last day per route and
// provider, most recent first: "Microsoft started refusing 203.0.113.7 at
// 14:02" before the answers degrade.
func (e *Engine) RouteSignals(now time.Time) []RouteSignal {
	e.benchMu.Lock()
	defer e.benchMu.Unlock()
	type key struct{ route, provider string }
	by := map[key]*RouteSignal{}
	var order []key
	for i := len(e.refusals) - 1; i >= 0; i-- {
		r := e.refusals[i]
		age := now.Sub(r.at)
		if age > 24*time.Hour {
			break
		}
		k := key{r.route, r.provider}
		s := by[k]
		if s == nil {
			s = &RouteSignal{Route: r.route, Provider: r.provider}
			by[k] = s
			order = append(order, k)
		}
		s.LastDay++
		if age <= time.Hour {
			s.LastHour++
		}
		s.Since = r.at.UTC()
	}
	out := make([]RouteSignal, 0, len(order))
	for _, k := range order {
		out = append(out, *by[k])
	}
	return out
}

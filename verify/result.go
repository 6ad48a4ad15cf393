package verify

import (
	"time"

	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/scoring"
	"github.com/preflight-email/preflight/syntax"
)

// Result is the answer for one address. Its JSON field names are the stable
// contract of docs/design.md ("Result").
type Result struct {
	Email      string          `json:"email"`
	Normalized string          `json:"normalized"`
	Verdict    outcome.Verdict `json:"verdict"`
	Risk       int             `json:"risk"`
	Reason     outcome.Reason  `json:"reason"`
	Suggestion string          `json:"suggestion"`
	Flags      Flags           `json:"flags"`
	MX         []string        `json:"mx"`
	SMTP       *SMTP           `json:"smtp"`
	DurationMS int64           `json:"duration_ms"`
	// Timings split DurationMS for troubleshooting; a cached answer has
	// none.
	Timings Timings `json:"timings_ms"`
	// Detail says in words what went wrong, for example which syntax rule
	// failed. It is empty for a plain answer.
	Detail string `json:"detail,omitempty"`
	// Suppression says when and why a suppressed address was suppressed.
	Suppression *Suppression `json:"suppression,omitempty"`
}

// Suppression is the suppression-list entry behind reason "suppressed".
type Suppression struct {
	At         time.Time      `json:"at"`
	Reason     outcome.Reason `json:"reason"` // the bounce's reason, e.g. mailbox_not_found
	Class      string         `json:"class"`  // hard, or soft after repeated soft bounces
	Diagnostic string         `json:"diagnostic"`
	Source     string         `json:"source"`
}

// Timings are where a check's time went, in milliseconds: the DNS stage,
// and at the MX host that answered the TCP connection, STARTTLS, and the
// rest of the SMTP exchange (waits for a session or a turn included).
// Connect and TLS are 0 when a session was already open.
type Timings struct {
	DNS     int64 `json:"dns"`
	Connect int64 `json:"connect"`
	TLS     int64 `json:"tls"`
	SMTP    int64 `json:"smtp"`
}

// Flags are the list and protocol facts about an address.
type Flags struct {
	Role       bool `json:"role"`
	Disposable bool `json:"disposable"`
	Free       bool `json:"free"`
	CatchAll   bool `json:"catch_all"`
	SMTPUTF8   bool `json:"smtputf8"`
}

// SMTP is the reply the MX host gave to the real RCPT TO.
type SMTP struct {
	Host     string `json:"host"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced"`
	Message  string `json:"message"`
	TLS      bool   `json:"tls"`
	// Route is the egress route that asked (probe.egress), when several
	// are configured.
	Route string `json:"route,omitempty"`
}

// assessment is the evidence the stages collect about one address.
type assessment struct {
	input       string
	start       time.Time
	fresh       bool // skip the cache
	addr        syntax.Address
	key         string // addr.Key(), once asked for: see mailboxKey
	ev          scoring.Evidence
	suggestion  string
	detail      string
	mx          mx.Result
	dnsTook     time.Duration
	probe       *probe.Result
	cached      *Result
	suppression *Suppression
	// interrupted means our own deadline cut the pipeline short, so the
	// result must not be cached.
	interrupted bool
}

// mailboxKey is addr.Key(), computed once: the caches, the suppression
// list and the probe all key on it, and the offline path needs none.
func (a *assessment) mailboxKey() string {
	if a.key == "" {
		a.key = a.addr.Key()
	}
	return a.key
}

// setProbe records the probe's answer as evidence.
func (a *assessment) setProbe(res probe.Result, failed bool) {
	a.probe = &res
	a.ev.SMTP = res.Reason
	a.ev.CatchAll = catchAll(res.CatchAll)
	if res.NoSMTPUTF8 {
		a.ev.NoSMTPUTF8 = true
		a.detail = "the address has a non-ASCII local part and the receiving server does not support SMTPUTF8 (RFC 6531): a message to it bounces (5.6.7)"
	}
	a.interrupted = a.interrupted || failed
}

// timeDNS records the DNS stage's time; defer it with the stage's start.
func (a *assessment) timeDNS(start time.Time) { a.dnsTook = time.Since(start) }

func (a *assessment) cacheable() bool {
	return a.ev.SyntaxValid && !a.interrupted && !a.ev.Disposable && !a.ev.Suppressed
}

var noMX = []string{}

func (a *assessment) result() Result {
	s := scoring.Score(a.ev)
	r := Result{
		Email:      a.input,
		Normalized: a.addr.Normalized,
		Verdict:    s.Verdict,
		Risk:       s.Risk,
		Reason:     s.Reason,
		Suggestion: a.suggestion,
		Flags: Flags{
			Role:       a.ev.Role,
			Disposable: a.ev.Disposable,
			Free:       a.ev.Free,
			CatchAll:   a.ev.CatchAll == scoring.CatchAllYes,
			SMTPUTF8:   a.addr.SMTPUTF8,
		},
		MX:          noMX,
		Detail:      a.detail,
		Suppression: a.suppression,
	}
	if len(a.mx.Hosts) > 0 {
		r.MX = make([]string, len(a.mx.Hosts))
		for i, h := range a.mx.Hosts {
			r.MX[i] = h.Name
		}
	}
	r.Timings.DNS = a.dnsTook.Milliseconds()
	if p := a.probe; p != nil {
		r.Timings.Connect = p.Timings.Connect.Milliseconds()
		r.Timings.TLS = p.Timings.TLS.Milliseconds()
		r.Timings.SMTP = p.Timings.SMTP.Milliseconds()
	}
	if p := a.probe; p != nil && p.Code != 0 {
		r.SMTP = &SMTP{Host: p.Host, Code: p.Code, Enhanced: p.Enhanced, Message: p.Message, TLS: p.TLS}
		if p.Route != "default" {
			r.SMTP.Route = p.Route
		}
	}
	if p := a.probe; p != nil && r.Detail == "" && p.Code == 0 {
		r.Detail = p.Message
	}
	return r
}

// Package suppression keeps the suppression list: the addresses that must
// not be mailed again because they bounced. It ingests bounce events (our
// own JSON, Postmark's bounce webhook, Amazon SES notifications),
// classifies each with package reply, applies the Policy, and summarises
// recent events as sender health.
//
// The list lives in the same database as the jobs (package store) and owns
// its tables. Suppression is about the recipient: a hard bounce suppresses
// at once, so does a spam complaint (reason complained, from an ARF
// report), repeated soft bounces suppress, and a block never does, because
// a block is the receiving server refusing the sender (docs/design.md "Reading
// SMTP replies"); blocks show up in Health instead.
package suppression

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/syntax"
)

// Errors.
var (
	// ErrInvalidAddress reports an address that cannot be normalised.
	ErrInvalidAddress = errors.New("invalid email address")
	// ErrReasonRequired reports a manual un-suppress without a reason; the
	// reason is kept in the audit trail.
	ErrReasonRequired = errors.New("a reason is required to un-suppress an address")
)

// Policy decides when bounces suppress an address.
//
// A hard bounce suppresses at once. A soft bounce counts: SoftLimit soft
// bounces that all fall within SoftWindow suppress the address. The
// boundary is inclusive: bounces exactly SoftWindow apart are within it.
// Only soft bounces that say something about the recipient count: a
// rate_limited reply (the receiver throttling the sender) and a soft
// bounce the classifier sends to review (a message too large) do not. A
// block never suppresses, and neither does an unknown reply.
type Policy struct {
	SoftLimit  int           // default 3
	SoftWindow time.Duration // default 30 days
}

// Defaults of Policy.
const (
	DefaultSoftLimit  = 3
	DefaultSoftWindow = 30 * 24 * time.Hour
)

func (p Policy) withDefaults() Policy {
	if p.SoftLimit <= 0 {
		p.SoftLimit = DefaultSoftLimit
	}
	if p.SoftWindow <= 0 {
		p.SoftWindow = DefaultSoftWindow
	}
	return p
}

// Event is one bounce to ingest, as ParseEvents reads it from a webhook.
type Event struct {
	Email   string    // the recipient that bounced
	Message string    // the receiving server's reply or DSN diagnostic, e.g. "smtp; 550 5.1.1 ..."
	Status  string    // an enhanced status code reported beside Message (SES "status"); used when Message has none
	At      time.Time // when it bounced; zero means when it is ingested
	Source  string    // SourceAPI, SourcePostmark, SourceSES
	ID      string    // the sender's idempotency key, unique within Source; "" derives one
	Kind    string    // the ESP's own bounce type ("HardBounce", "Permanent/General"), used when Message says nothing definite
	// Diagnosis, when set, is the event's classification, made by the
	// caller from more than Message: package bounce reads a whole bounce
	// message (its format, DSN fields and texts) and passes what it found.
	// Ingest then uses it instead of reading Message.
	Diagnosis *reply.Diagnosis `json:"-"`
}

// Applied is what ingesting one event did.
type Applied struct {
	Email       string         `json:"email"` // normalised
	At          time.Time      `json:"at"`
	Class       reply.Class    `json:"class"`
	Reason      outcome.Reason `json:"reason"`
	Code        int            `json:"code"`
	Enhanced    string         `json:"enhanced"`
	Action      reply.Action   `json:"action"`
	Explanation string         `json:"explanation"`
	Provider    string         `json:"provider"`
	Blocklist   string         `json:"blocklist"`
	// Suppressed tells whether the address is on the list after this
	// event (suppressed by it or before it).
	Suppressed bool `json:"suppressed"`
	// Duplicate marks an event already ingested (same source and ID): it
	// was not counted again.
	Duplicate bool `json:"duplicate"`
	// SoftCount is the address's soft bounces since its last manual
	// un-suppress, this one included.
	SoftCount int `json:"soft_count"`
}

// Entry is a suppressed address.
type Entry struct {
	Email       string         `json:"email"`
	Reason      outcome.Reason `json:"reason"` // the bounce's reason, e.g. mailbox_not_found
	Class       reply.Class    `json:"class"`  // hard, or soft when the soft limit was reached
	Code        int            `json:"code"`
	Enhanced    string         `json:"enhanced"`
	Diagnostic  string         `json:"diagnostic"` // the receiving server's words
	Explanation string         `json:"explanation"`
	// SuppressedAt is when the suppressing bounce happened (its event
	// time, not when it was ingested).
	SuppressedAt time.Time `json:"suppressed_at"`
	FirstEventAt time.Time `json:"first_event_at"` // the first bounce that led to suppression
	LastEventAt  time.Time `json:"last_event_at"`  // the latest bounce seen for the address
	SoftCount    int       `json:"soft_count"`
	Source       string    `json:"source"`
}

// List is the suppression list. It is safe for concurrent use.
type List struct {
	st     storage
	policy Policy
	log    *slog.Logger
	now    func() time.Time
	// hits remembers recent lookups, since every /v1/verify call asks.
	// Every write through this List purges it; lookupTTL bounds how stale
	// it can be when another instance writes to a shared store.
	hits *lru.Cache[string, cachedLookup]
	// gen changes after every write, so that a lookup that raced a write
	// does not cache what it read before the write.
	gen atomic.Uint64
}

type cachedLookup struct {
	entry   Entry
	found   bool
	expires time.Time
}

// lookupTTL and lookupCacheSize bound the lookup cache.
const (
	lookupTTL       = 5 * time.Second
	lookupCacheSize = 8192
)

// New opens the list in db, whose schema store.Open made.
func New(ctx context.Context, db *store.DB, p Policy, logger *slog.Logger) (*List, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st, err := newSQL(ctx, db)
	if err != nil {
		return nil, err
	}
	hits, err := lru.New[string, cachedLookup](lookupCacheSize)
	if err != nil {
		return nil, err
	}
	return &List{st: st, policy: p.withDefaults(), log: logger, now: time.Now, hits: hits}, nil
}

// Close releases the list's prepared statements; the database stays open.
func (l *List) Close() error { return l.st.close() }

// Policy returns the policy in force, defaults filled in.
func (l *List) Policy() Policy { return l.policy }

// maxDiagnostic caps the diagnostic text kept per event.
const maxDiagnostic = 1000

// Ingest classifies and records events and applies the policy, in order,
// in one transaction. An event already ingested (same Source and ID) is
// reported as a duplicate and not counted again. An event whose address
// cannot be normalised fails the whole call with ErrInvalidAddress, before
// anything is written.
func (l *List) Ingest(ctx context.Context, events []Event) ([]Applied, error) {
	now := l.now().UTC()
	recs := make([]eventRow, len(events))
	for i, e := range events {
		email, domain, err := normalize(e.Email)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		at := e.At
		if at.IsZero() {
			at = now
		}
		at = at.UTC().Truncate(time.Millisecond)
		var d reply.Diagnosis
		if e.Diagnosis != nil {
			d = *e.Diagnosis
		} else {
			d = diagnose(e)
		}
		provider := d.Provider
		if provider == "" {
			provider = domain
		}
		source := e.Source
		if source == "" {
			source = SourceAPI
		}
		diag := strings.TrimSpace(e.Message)
		if diag == "" {
			diag = e.Status // SES gives a status code without a diagnostic when the DSN had none
		}
		if len(diag) > maxDiagnostic {
			diag = diag[:maxDiagnostic]
		}
		recs[i] = eventRow{
			key:      eventKey(source, e.ID, email, at, e.Message),
			email:    email,
			domain:   domain,
			d:        d,
			diag:     diag,
			provider: provider,
			signal:   signalOf(d, e.Message),
			source:   source,
			kind:     e.Kind,
			soft:     countsAsSoft(d),
			occurred: at,
			received: now,
		}
	}
	out := make([]Applied, len(recs))
	defer l.invalidate()
	err := l.st.write(ctx, func(tx writer) error {
		for i := range recs {
			a, err := l.apply(ctx, tx, &recs[i])
			if err != nil {
				return err
			}
			out[i] = a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest bounce events: %w", err)
	}
	return out, nil
}

// countsAsSoft tells whether a diagnosis counts toward the soft limit: a
// soft bounce to retry, except rate limiting, which is about the sender's
// pace, not the recipient (docs/design.md: "421 and 4.7.0 rate texts").
func countsAsSoft(d reply.Diagnosis) bool {
	return d.Class == reply.Soft && d.Action == reply.Retry && d.Reason != outcome.RateLimited
}

// apply records one event and applies the policy.
func (l *List) apply(ctx context.Context, tx writer, r *eventRow) (Applied, error) {
	a := Applied{
		Email: r.email, At: r.occurred, Class: r.d.Class, Reason: r.d.Reason, Code: r.d.Code,
		Enhanced: r.d.Enhanced, Action: r.d.Action, Explanation: r.d.Explanation,
		Provider: r.d.Provider, Blocklist: r.d.Blocklist,
	}
	inserted, err := tx.addEvent(ctx, r)
	if err != nil {
		return a, err
	}
	soft, err := tx.softCount(ctx, r.email)
	if err != nil {
		return a, err
	}
	a.SoftCount = soft
	ent, suppressed, err := tx.entry(ctx, r.email)
	if err != nil {
		return a, err
	}
	if !inserted {
		a.Duplicate, a.Suppressed = true, suppressed
		return a, nil
	}

	switch {
	case suppressed:
		// Already on the list: keep when and why it was suppressed, but
		// let a hard bounce replace a soft reason (it says more).
		ent.LastEventAt = later(ent.LastEventAt, r.occurred)
		ent.SoftCount = soft
		if r.d.Class == reply.Hard && ent.Class != reply.Hard && ent.Reason != outcome.Complained {
			fillEntry(&ent, r)
		}
	case r.d.Class == reply.Hard || r.d.Reason == outcome.Complained:
		// A complaint (RFC 5965 feedback report) suppresses at once too:
		// the recipient asked not to get this mail (docs/design.md, reason
		// complained), though the address itself works.
		ent = Entry{Email: r.email, SuppressedAt: r.occurred, FirstEventAt: r.occurred, LastEventAt: r.occurred, SoftCount: soft}
		fillEntry(&ent, r)
	case r.soft:
		w := l.policy.SoftWindow
		times, err := tx.softTimes(ctx, r.email, r.occurred.Add(-w), r.occurred.Add(w))
		if err != nil {
			return a, err
		}
		first, reached, ok := windowHit(times, r.occurred, w, l.policy.SoftLimit)
		if !ok {
			return a, nil
		}
		ent = Entry{Email: r.email, SuppressedAt: reached, FirstEventAt: first, LastEventAt: later(reached, r.occurred), SoftCount: soft}
		fillEntry(&ent, r)
	default:
		// A block or an unknown reply never suppresses.
		return a, nil
	}
	if err := tx.putEntry(ctx, ent, r.id); err != nil {
		return a, err
	}
	if !suppressed {
		l.log.Debug("address suppressed", "domain", r.domain, "class", ent.Class, "reason", ent.Reason)
	}
	a.Suppressed = true
	return a, nil
}

func fillEntry(e *Entry, r *eventRow) {
	e.Reason, e.Class, e.Code, e.Enhanced = r.d.Reason, r.d.Class, r.d.Code, r.d.Enhanced
	e.Diagnostic, e.Explanation, e.Source = r.diag, r.d.Explanation, r.source
}

// windowHit looks, in the sorted times of counted soft bounces, for limit
// of them within one window of length w (inclusive) that also covers at.
// It returns the window's first bounce and the one that reached the limit.
// Checking windows around at, rather than only the one ending at it, keeps
// the policy right when webhooks arrive out of order.
func windowHit(times []time.Time, at time.Time, w time.Duration, limit int) (first, reached time.Time, ok bool) {
	for i, t := range times {
		if t.After(at) {
			break
		}
		if at.Sub(t) > w {
			continue
		}
		j := i + limit - 1
		if j < len(times) && times[j].Sub(t) <= w {
			return t, times[j], true
		}
	}
	return time.Time{}, time.Time{}, false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// eventKey is an event's idempotency key. Without an ID from the sender it
// hashes the address, the time and the text, so a redelivered body counts
// once; an event without "at" gets its ingest time and is never a
// duplicate, so senders should send "id" or "at".
func eventKey(source, id, email string, at time.Time, message string) string {
	if id != "" {
		return source + ":" + id
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s", email, at.UnixMilli(), message)
	return source + ":sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// normalize returns the list's key for an address, and its domain: the
// address's identity as syntax.Address.Key defines it (local part
// lower-cased, domain in ASCII), after removing what bounce reports wrap
// around it: a DSN address type "rfc822;" (RFC 3464 §2.3.2), angle
// brackets and a final dot on the domain. Anything syntax.Parse refuses
// is ErrInvalidAddress: no message could be sent to it.
func normalize(s string) (email, domain string, err error) {
	s = strings.TrimSpace(s)
	if len(s) > 7 && strings.EqualFold(s[:7], "rfc822;") {
		s = strings.TrimSpace(s[7:])
	}
	s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">"), ".")
	a, err := syntax.Parse(s)
	if err != nil {
		return "", "", ErrInvalidAddress
	}
	return a.Key(), a.Domain, nil
}

// Lookup returns the entry of a suppressed address. It is one primary-key
// read, cheap enough for every verification.
func (l *List) Lookup(ctx context.Context, email string) (Entry, bool, error) {
	now, gen := l.now(), l.gen.Load()
	if c, ok := l.hits.Get(email); ok && now.Before(c.expires) {
		return c.entry, c.found, nil
	}
	e, _, err := normalize(email)
	if err != nil {
		return Entry{}, false, err
	}
	// A busy store is tried again briefly; a lookup that still fails is
	// an error, and the pipeline answers unknown for the address.
	var ent Entry
	var ok bool
	err = store.Retry(ctx, 3, 5*time.Millisecond, func() (err error) {
		ent, ok, err = l.st.lookup(ctx, e)
		return err
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("suppression lookup: %w", err)
	}
	if l.gen.Load() == gen {
		l.hits.Add(email, cachedLookup{entry: ent, found: ok, expires: now.Add(lookupTTL)})
	}
	return ent, ok, nil
}

// invalidate forgets cached lookups after a write.
func (l *List) invalidate() {
	l.gen.Add(1)
	l.hits.Purge()
}

// Remove un-suppresses an address by hand and keeps the reason in the
// audit table. It reports false when the address was not suppressed. Soft
// bounces recorded before the removal no longer count; any new hard
// bounce, or enough new soft ones, suppress the address again.
func (l *List) Remove(ctx context.Context, email, reason string) (bool, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return false, ErrReasonRequired
	}
	e, domain, err := normalize(email)
	if err != nil {
		return false, err
	}
	defer l.invalidate()
	ok, err := l.st.remove(ctx, e, reason, l.now().UTC())
	if err != nil {
		return false, fmt.Errorf("suppression remove: %w", err)
	}
	if ok {
		l.log.Info("address un-suppressed by hand", "domain", domain, "reason", reason)
	}
	return ok, nil
}

// exportHeader is the CSV export's header row.
var exportHeader = []string{"email", "reason", "class", "suppressed_at", "soft_count", "source", "diagnostic"}

// Export writes the list as CSV, ordered by address, with a header row.
// Cells that a spreadsheet would run as a formula (starting with = + - @,
// tab or carriage return) are prefixed with a single quote.
func (l *List) Export(ctx context.Context, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportHeader); err != nil {
		return err
	}
	row := make([]string, len(exportHeader))
	err := l.st.each(ctx, func(e Entry) error {
		row[0], row[1], row[2] = e.Email, string(e.Reason), string(e.Class)
		row[3] = e.SuppressedAt.UTC().Format(time.RFC3339)
		row[4], row[5], row[6] = strconv.Itoa(e.SoftCount), e.Source, e.Diagnostic
		for i := range row {
			row[i] = neutralize(row[i])
		}
		return cw.Write(row)
	})
	if err != nil {
		return fmt.Errorf("suppression export: %w", err)
	}
	cw.Flush()
	return cw.Error()
}

// neutralize defuses a CSV cell that a spreadsheet would read as a
// formula (OWASP "CSV injection").
func neutralize(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

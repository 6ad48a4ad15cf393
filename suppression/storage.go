package suppression

import (
	"context"
	"time"

	"github.com/preflight-email/preflight/reply"
)

// storage is everything the list needs from a database. sqlStore
// implements it on SQLite and PostgreSQL. The policy itself stays in Go
// (List.apply), so both stores decide alike.
type storage interface {
	// write runs fn in one write transaction, committed when fn returns
	// nil and rolled back otherwise.
	write(ctx context.Context, fn func(tx writer) error) error
	// lookup reads the entry of a normalised address.
	lookup(ctx context.Context, email string) (Entry, bool, error)
	// remove deletes an entry and records the removal in the audit table,
	// with the newest event ID as the cut-off for soft counting. It
	// reports whether there was an entry.
	remove(ctx context.Context, email, reason string, at time.Time) (bool, error)
	// each calls fn for every entry, ordered by address.
	each(ctx context.Context, fn func(Entry) error) error
	// tally groups the events that happened in [from, to].
	tally(ctx context.Context, from, to time.Time) ([]tally, error)
	// suppressedIn counts the entries suppressed in [from, to].
	suppressedIn(ctx context.Context, from, to time.Time) (int, error)
	close() error
}

// writer is the part of storage used inside a write transaction.
type writer interface {
	// addEvent stores r unless an event with its key exists, sets r.id,
	// and reports whether it was new.
	addEvent(ctx context.Context, r *eventRow) (bool, error)
	// softCount counts the address's soft bounces that count toward the
	// limit, recorded after its last manual removal.
	softCount(ctx context.Context, email string) (int, error)
	// softTimes returns the times, in order, of those soft bounces that
	// happened in [from, to].
	softTimes(ctx context.Context, email string, from, to time.Time) ([]time.Time, error)
	// entry reads the address's entry.
	entry(ctx context.Context, email string) (Entry, bool, error)
	// putEntry creates or replaces the address's entry; eventID is the
	// event that last changed it.
	putEntry(ctx context.Context, e Entry, eventID int64) error
}

// eventRow is one classified event as stored.
type eventRow struct {
	id       int64
	key      string // idempotency key, unique
	email    string // normalised
	domain   string
	d        reply.Diagnosis
	diag     string // the diagnostic text as received, capped
	provider string // the diagnosis's provider, else the recipient domain
	signal   string // "kind" or "kind:name", "" when the event says nothing about the sender
	source   string
	kind     string // the ESP's own type
	soft     bool   // counts toward the soft limit
	occurred time.Time
	received time.Time
}

// tally is one group of events.
type tally struct {
	class    reply.Class
	reason   string
	provider string
	signal   string
	count    int
	last     time.Time
}

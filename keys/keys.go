// Package keys keeps Preflight's API keys and what each key has used.
//
// A key is shown once, when it is made; the store keeps only its SHA-256
// digest. API keys are 32 random bytes, so a fast digest is enough: there
// is nothing to brute-force, which is what bcrypt is for (passwords). A
// key carries its own public id, so a check reads one row by id and
// compares digests in constant time (crypto/subtle): neither the answer
// nor its timing tells whether an id exists.
//
// Keys live in the service's database, in tables of their own, so that
// `preflight keys create|list|revoke` work while `serve` runs on the same
// store. serve reads a key again after CacheTTL, so a revocation takes
// effect within that time.
package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preflight-email/preflight/store"
)

// Kind is what a key may be used for.
type Kind string

const (
	// Secret keys (sk_…) are for servers: every endpoint.
	Secret Kind = "secret"
	// Publishable keys (pk_…) are for browsers: verify only, from the
	// key's origins, rate-limited per client IP too.
	Publishable Kind = "publishable"
)

// Key is a stored key, without its secret.
type Key struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    Kind     `json:"kind"`
	Test    bool     `json:"test"`
	Origins []string `json:"origins,omitempty"`
	// DailyQuota is the most calls a day (UTC); 0 is no limit.
	DailyQuota int64 `json:"daily_quota"`
	// Rate is the most calls a second; 0 is no limit.
	Rate      float64    `json:"rate"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the key is not revoked.
func (k Key) Active() bool { return k.RevokedAt == nil }

// AllowsOrigin reports whether a browser page at origin may use the key.
func (k Key) AllowsOrigin(origin string) bool {
	for _, o := range k.Origins {
		if o == origin {
			return true
		}
	}
	return false
}

// Spec describes a key to make.
type Spec struct {
	Name       string
	Kind       Kind
	Test       bool
	Origins    []string
	DailyQuota int64
	Rate       float64
}

// Errors a caller can act on.
var (
	// ErrUnauthorized means the token is malformed, unknown or revoked:
	// one error for all, so that callers cannot tell them apart either.
	ErrUnauthorized = errors.New("keys: invalid API key")
	// ErrNotFound means there is no key with that id.
	ErrNotFound = errors.New("keys: no such key")
	// ErrSpec means a Spec is unusable.
	ErrSpec = errors.New("keys: invalid key spec")
)

const (
	idBytes     = 6  // 12 hex digits: public, names the row
	secretBytes = 32 // 256 bits of secret
)

// CacheTTL is how long serve trusts what it read about a key.
const CacheTTL = 2 * time.Second

// Store keeps keys and usage in the database.
type Store struct {
	st  storage
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cached // by id; missing ids too
	// origins is the union of the active publishable keys' origins, for
	// CORS preflight requests, which carry no key.
	origins   map[string]bool
	originsAt time.Time

	usage usage
	day   atomic.Pointer[dayName]
}

type cached struct {
	rec record
	ok  bool // false: no such id
	at  time.Time
}

// record is a key's row.
type record struct {
	Key
	digest []byte
}

// New returns the keys of db, whose schema store.Open made.
func New(ctx context.Context, db *store.DB, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := newSQL(db)
	if err != nil {
		return nil, err
	}
	s := &Store{st: st, log: log, now: time.Now, cache: map[string]cached{}}
	s.usage.init()
	return s, nil
}

// Create makes a key and returns it with its plaintext token, which is
// never stored and cannot be shown again.
func (s *Store) Create(ctx context.Context, spec Spec) (Key, string, error) {
	if err := spec.validate(); err != nil {
		return Key{}, "", err
	}
	idb := make([]byte, idBytes)
	sec := make([]byte, secretBytes)
	if _, err := rand.Read(idb); err != nil {
		return Key{}, "", err
	}
	if _, err := rand.Read(sec); err != nil {
		return Key{}, "", err
	}
	k := Key{
		ID:         hex.EncodeToString(idb),
		Name:       spec.Name,
		Kind:       spec.Kind,
		Test:       spec.Test,
		Origins:    spec.Origins,
		DailyQuota: spec.DailyQuota,
		Rate:       spec.Rate,
		CreatedAt:  s.now().UTC().Truncate(time.Millisecond),
	}
	token := prefix(k.Kind, k.Test) + k.ID + "_" + base64.RawURLEncoding.EncodeToString(sec)
	d := sha256.Sum256([]byte(token))
	if err := s.st.insert(ctx, record{Key: k, digest: d[:]}); err != nil {
		return Key{}, "", fmt.Errorf("keys: store key: %w", err)
	}
	s.mu.Lock()
	delete(s.cache, k.ID)
	s.originsAt = time.Time{}
	s.mu.Unlock()
	return k, token, nil
}

func (sp Spec) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrSpec, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(sp.Name) == "" {
		return bad("a name is required")
	}
	if len(sp.Name) > 100 {
		return bad("the name is longer than 100 characters")
	}
	switch sp.Kind {
	case Secret:
		if len(sp.Origins) > 0 {
			return bad("origins are for publishable keys")
		}
	case Publishable:
		if len(sp.Origins) == 0 {
			return bad("a publishable key needs the origins that may use it")
		}
	default:
		return bad("kind must be secret or publishable")
	}
	for _, o := range sp.Origins {
		if err := checkOrigin(o); err != nil {
			return bad("%v", err)
		}
	}
	if sp.DailyQuota < 0 {
		return bad("the daily quota must not be negative")
	}
	if sp.Rate < 0 {
		return bad("the rate must not be negative")
	}
	return nil
}

// checkOrigin accepts an origin as browsers send it (RFC 6454 §6.1):
// scheme://host[:port], without a path.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("origin %q must look like https://shop.example.com", o)
	}
	if strings.HasSuffix(o, "/") {
		return fmt.Errorf("origin %q must not end with a slash", o)
	}
	return nil
}

func prefix(k Kind, test bool) string {
	p := "sk_"
	if k == Publishable {
		p = "pk_"
	}
	if test {
		p += "test_"
	}
	return p
}

// parse splits a token into its kind, test flag and id.
func parse(token string) (kind Kind, test bool, id string, ok bool) {
	switch {
	case strings.HasPrefix(token, "sk_"):
		kind = Secret
	case strings.HasPrefix(token, "pk_"):
		kind = Publishable
	default:
		return "", false, "", false
	}
	rest := token[3:]
	if strings.HasPrefix(rest, "test_") {
		test, rest = true, rest[5:]
	}
	if len(rest) != 2*idBytes+1+base64.RawURLEncoding.EncodedLen(secretBytes) || rest[2*idBytes] != '_' {
		return "", false, "", false
	}
	id = rest[:2*idBytes]
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false, "", false
		}
	}
	return kind, test, id, true
}

// dummy is compared against when a token names no key, so that an unknown
// id costs the same work as a known one.
var dummy = sha256.Sum256([]byte("preflight: no such key"))

// Authenticate returns the active key that token is. Every failure is
// ErrUnauthorized; a store failure is returned as itself.
func (s *Store) Authenticate(ctx context.Context, token string) (Key, error) {
	d := sha256.Sum256([]byte(token))
	kind, test, id, ok := parse(token)
	if !ok {
		subtle.ConstantTimeCompare(d[:], dummy[:])
		return Key{}, ErrUnauthorized
	}
	rec, found, err := s.lookup(ctx, id)
	if err != nil {
		return Key{}, err
	}
	want := dummy[:]
	if found {
		want = rec.digest
	}
	match := subtle.ConstantTimeCompare(d[:], want) == 1
	if !found || !match || !rec.Active() || rec.Kind != kind || rec.Test != test {
		return Key{}, ErrUnauthorized
	}
	return rec.Key, nil
}

func (s *Store) lookup(ctx context.Context, id string) (record, bool, error) {
	now := s.now()
	s.mu.Lock()
	c, hit := s.cache[id]
	s.mu.Unlock()
	if hit && now.Sub(c.at) < CacheTTL {
		return c.rec, c.ok, nil
	}
	rec, err := s.st.byID(ctx, id)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return record{}, false, fmt.Errorf("keys: read key: %w", err)
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache) // unknown ids must not grow it without bound
	}
	s.cache[id] = cached{rec: rec, ok: found, at: now}
	s.mu.Unlock()
	return rec, found, nil
}

// List returns every key, revoked ones too, oldest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	recs, err := s.st.all(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	out := make([]Key, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	return out, nil
}

// Active counts the keys that are not revoked.
func (s *Store) Active(ctx context.Context) (int, error) {
	ks, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range ks {
		if k.Active() {
			n++
		}
	}
	return n, nil
}

// Revoke ends a key at once in this process and, in a serve running on
// the same store, within CacheTTL.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if err := s.st.revoke(ctx, id, s.now()); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.cache, id)
	s.originsAt = time.Time{}
	s.mu.Unlock()
	return nil
}

// OriginAllowed reports whether any active publishable key lists origin.
// It answers CORS preflight requests, which browsers send without the key;
// the real request is then held to its own key's origins.
func (s *Store) OriginAllowed(ctx context.Context, origin string) bool {
	now := s.now()
	s.mu.Lock()
	fresh := now.Sub(s.originsAt) < CacheTTL
	allowed := s.origins[origin]
	s.mu.Unlock()
	if fresh {
		return allowed
	}
	recs, err := s.st.all(ctx)
	if err != nil {
		s.log.Error("reading key origins", "err", err)
		return false
	}
	m := map[string]bool{}
	for _, r := range recs {
		if r.Active() && r.Kind == Publishable {
			for _, o := range r.Origins {
				m[o] = true
			}
		}
	}
	s.mu.Lock()
	s.origins, s.originsAt = m, now
	s.mu.Unlock()
	return m[origin]
}

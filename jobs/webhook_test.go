package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/testworld"

	"github.com/preflight-email/preflight/outcome"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// hookServer records the callbacks it receives and fails the first
// failFirst of them.
type hookServer struct {
	*httptest.Server
	failFirst int
	mu        sync.Mutex
	calls     int
	bodies    [][]byte
	sigs      []string
	got       chan struct{}
}

func newHookServer(t *testing.T, failFirst int) *hookServer {
	h := &hookServer{failFirst: failFirst, got: make(chan struct{}, 10)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.calls++
		n := h.calls
		h.bodies = append(h.bodies, body)
		h.sigs = append(h.sigs, r.Header.Get(SignatureHeader))
		h.mu.Unlock()
		if n <= h.failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		h.got <- struct{}{}
	}))
	t.Cleanup(h.Close)
	return h
}

// TestWebhook: the finished job's summary is POSTed, signed, and retried
// after failures; the delivery is recorded so a restart does not repeat it.
func TestWebhook(t *testing.T) { storetest.Each(t, testWebhook) }

func testWebhook(t *testing.T, engine store.Dialect) {
	hook := newHookServer(t, 2)
	db, _ := openDB(t, engine)
	const secret = "s3cret"
	m := newManager(t, db, Config{WebhookSecret: secret, WebhookAllowPrivate: true, WebhookBackoff: time.Millisecond, WebhookAttempts: 4}, newRuleVerifier())
	st, err := m.Create(context.Background(), strings.NewReader("email\nok@hook.example\nbad@hook.example\n"), CreateOptions{CallbackURL: hook.URL + "/done?x=1"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-hook.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no successful callback")
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.calls != 3 {
		t.Errorf("%d calls, want 3 (two failures, then success)", hook.calls)
	}
	body := hook.bodies[len(hook.bodies)-1]
	sig := hook.sigs[len(hook.sigs)-1]
	if err := Verify(secret, sig, body, 5*time.Minute, time.Now()); err != nil {
		t.Errorf("signature %q: %v", sig, err)
	}
	// A replay: the same callback an hour later is refused, and a changed
	// body or timestamp never verifies.
	if err := Verify(secret, sig, body, 5*time.Minute, time.Now().Add(time.Hour)); !errors.Is(err, ErrStale) {
		t.Errorf("replayed an hour later: %v, want ErrStale", err)
	}
	if err := Verify(secret, sig, append([]byte(" "), body...), 5*time.Minute, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed body: %v, want ErrBadSignature", err)
	}
	var ts int64
	fmt.Sscanf(sig, "t=%d,", &ts)
	forged := strings.Replace(sig, fmt.Sprintf("t=%d", ts), fmt.Sprintf("t=%d", time.Now().Unix()+1), 1)
	if err := Verify(secret, forged, body, time.Hour, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("moved timestamp: %v, want ErrBadSignature", err)
	}
	if !strings.HasPrefix(sig, "t=") || !strings.Contains(sig, ",v1=") {
		t.Errorf("signature format %q", sig)
	}
	var s Status
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != st.ID || s.Status != Done || s.Processed != 2 || s.Counts[outcome.Undeliverable] != 1 || s.SafeToSend == nil {
		t.Errorf("summary %+v", s)
	}
	waitWebhook(t, m, st.ID, webhookSent)
	final, err := m.Status(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cb := final.Callback; cb == nil || cb.State != "sent" || cb.Attempts != 3 || cb.LastStatus != 204 || cb.LastAt == nil || cb.LastError != "" {
		t.Errorf("callback status %+v, want sent after 3 attempts, last 204", final.Callback)
	}
}

// TestWebhookFailureKeepsSecrets: a callback URL's query holds the
// receiver's token. When delivery fails, neither the logs nor the job's
// status carry the token.
func TestWebhookFailureKeepsSecrets(t *testing.T) { storetest.Each(t, testWebhookFailureKeepsSecrets) }

func testWebhookFailureKeepsSecrets(t *testing.T, engine store.Dialect) {
	const secret = "tok-7f3a9c-never-logged"
	// Nothing listens on 127.0.0.1:9: every delivery fails at once.
	var logs testworld.SyncBuffer
	db, _ := openDB(t, engine)
	m, err := New(context.Background(), Config{WebhookAllowPrivate: true, WebhookBackoff: time.Millisecond, WebhookAttempts: 2}, db,
		Deps{Verifier: newRuleVerifier(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.Create(context.Background(), strings.NewReader("email\nok@x.example\n"), CreateOptions{CallbackURL: "http://127.0.0.1:9/hook?token=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	waitWebhook(t, m, st.ID, webhookFailed)
	final, err := m.Status(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Callback == nil || final.Callback.State != "failed" || final.Callback.Attempts != 2 || final.Callback.LastError == "" {
		t.Errorf("callback status %+v, want failed after 2 attempts with the error", final.Callback)
	}
	b, _ := json.Marshal(final)
	if strings.Contains(string(b), secret) {
		t.Errorf("the job's status carries the callback's token: %s", b)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the logs carry the callback's token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "callback failed") {
		t.Errorf("the failure was not logged:\n%s", logs.String())
	}
}

func waitWebhook(t *testing.T, m *Manager, id string, want webhookState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, _, err := m.st.job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.webhook == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook state %q, want %q", j.webhook, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeResolver maps host names to addresses, so the SSRF guard can be
// tested without DNS.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupAddrs(_ context.Context, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestWebhookRefusesPrivate: with the guard on, a callback host that
// resolves to a private or loopback address is never contacted, even when
// only one of its addresses is private.
func TestWebhookRefusesPrivate(t *testing.T) {
	hook := newHookServer(t, 0)
	_, port, _ := net.SplitHostPort(hook.Listener.Addr().String())
	res := fakeResolver{
		"hooks.internal.example": {netip.MustParseAddr("127.0.0.1")},
		"mixed.example":          {netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.0.0.7")},
	}
	for _, host := range []string{"hooks.internal.example", "mixed.example"} {
		t.Run(host, func(t *testing.T) {
			db, _ := openDB(t, store.SQLite)
			m, err := New(context.Background(), Config{WebhookBackoff: time.Millisecond}, db, Deps{Verifier: newRuleVerifier(), Resolver: res})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			st, err := m.Create(context.Background(), strings.NewReader("email\nok@x.example\n"), CreateOptions{CallbackURL: "http://" + net.JoinHostPort(host, port) + "/hook"})
			if err != nil {
				t.Fatal(err)
			}
			waitState(t, m, st.ID, Done)
			waitWebhook(t, m, st.ID, webhookFailed)
		})
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.calls != 0 {
		t.Errorf("the guarded server got %d calls", hook.calls)
	}
}

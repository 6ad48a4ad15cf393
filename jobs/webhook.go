package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/preflight-email/preflight/internal/netguard"
	"github.com/preflight-email/preflight/internal/redact"
)

// SignatureHeader carries a callback's signature, "t=TIMESTAMP,v1=HEX":
// TIMESTAMP is when it was sent, in Unix seconds, and HEX the lowercase
// hex HMAC-SHA256, keyed with Config.WebhookSecret, of TIMESTAMP, a dot
// and the body. The timestamp is signed too, so a receiver that refuses
// old timestamps (Verify does, past its tolerance) cannot be fed a
// captured callback again.
const SignatureHeader = "X-Preflight-Signature"

// Errors of Verify.
var (
	ErrBadSignature = errors.New("jobs: callback signature does not match")
	ErrStale        = errors.New("jobs: callback timestamp outside the tolerance (a replay?)")
)

// ErrForbiddenTarget means a callback host resolves to an address the SSRF
// guard refuses. It is netguard.ErrForbidden, the one guard's error.
var ErrForbiddenTarget = netguard.ErrForbidden

// Sign returns the X-Preflight-Signature value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a callback as its receiver should: header is its
// X-Preflight-Signature, body the raw body, and the timestamp must be
// within tolerance of now (5 minutes is usual). It compares in constant
// time.
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// webhook delivers completion callbacks.
type webhook struct {
	cfg    Config
	dialer *netguard.Dialer
	client *http.Client
}

func newWebhook(cfg Config, res Resolver) *webhook {
	// The guarded dialer resolves the callback host itself, refuses it if
	// any of its addresses is not public, and dials the addresses it
	// checked: never the name, which could resolve differently a second
	// time (DNS rebinding).
	h := &webhook{cfg: cfg, dialer: &netguard.Dialer{
		Resolver:     res,
		AllowPrivate: cfg.WebhookAllowPrivate,
		Timeout:      cfg.WebhookTimeout,
	}}
	h.client = &http.Client{
		Timeout: cfg.WebhookTimeout,
		Transport: &http.Transport{
			// No proxy: a proxy would dial the target itself, past the
			// guard.
			Proxy:       nil,
			DialContext: h.dialer.DialContext,
			// Every connection is checked, so keep-alive is harmless; one
			// callback per job needs no pool.
			DisableKeepAlives:     true,
			TLSHandshakeTimeout:   cfg.WebhookTimeout,
			ResponseHeaderTimeout: cfg.WebhookTimeout,
		},
		// A redirect is a failed delivery: following it would let a
		// public host bounce us to an internal one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h
}

// allowedHost checks a literal-address host at job creation; names are
// checked when dialled.
func (h *webhook) allowedHost(host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		return h.dialer.Check(ip)
	}
	return nil
}

// send POSTs body once and returns the HTTP status (0 without a reply);
// nil means a 2xx reply.
func (h *webhook) send(ctx context.Context, url, jobID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "preflight-webhook")
	req.Header.Set("X-Preflight-Job", jobID)
	if h.cfg.WebhookSecret != "" {
		req.Header.Set(SignatureHeader, Sign(h.cfg.WebhookSecret, time.Now(), body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("callback answered %s", strconv.Itoa(resp.StatusCode))
	}
	return resp.StatusCode, nil
}

// deliver sends the job's summary to its callback URL, retrying with
// exponential backoff up to Config.WebhookAttempts times, and records the
// outcome so that a restart neither loses nor repeats a delivery that
// finished.
func (m *Manager) deliver(ctx context.Context, j jobRecord) {
	s, err := m.Status(ctx, j.id)
	if err != nil {
		if !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
			m.log.Error("callback: reading job", "job", j.id, "err", err)
		}
		return
	}
	body, err := json.Marshal(s)
	if err != nil {
		return
	}
	wait := m.cfg.WebhookBackoff
	for attempt := 1; ; attempt++ {
		code, err := m.hook.send(ctx, j.callbackURL, j.id, body)
		if err == nil {
			m.log.Info("callback delivered", "job", j.id, "attempt", attempt)
			m.recordWebhook(ctx, j, webhookSent, callbackAttempt{code: code})
			return
		}
		if ctx.Err() != nil {
			return // shutting down: the next Start delivers it
		}
		// The error names the URL, whose query may hold the receiver's
		// secret: it is redacted for the log and for the job's status.
		msg := redact.Text(err.Error())
		m.log.Warn("callback failed", "job", j.id, "attempt", attempt, "err", msg)
		if attempt >= m.cfg.WebhookAttempts || errors.Is(err, ErrForbiddenTarget) {
			m.recordWebhook(ctx, j, webhookFailed, callbackAttempt{code: code, err: msg})
			return
		}
		m.recordWebhook(ctx, j, webhookPending, callbackAttempt{code: code, err: msg})
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		wait = min(2*wait, m.cfg.WebhookBackoffMax)
	}
}

// callbackAttempt is one delivery's outcome: the HTTP status (0 without
// a reply) and the error, redacted.
type callbackAttempt struct {
	code int
	err  string
}

func (m *Manager) recordWebhook(ctx context.Context, j jobRecord, st webhookState, a callbackAttempt) {
	if err := m.st.setWebhook(context.WithoutCancel(ctx), j.pk, st, a, time.Now()); err != nil {
		m.log.Error("callback: recording delivery", "job", j.id, "err", err)
	}
}

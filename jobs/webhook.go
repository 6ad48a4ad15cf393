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
	"time"

	"github.com/preflight-email/preflight/internal/netguard"
)

// SignatureHeader carries the HMAC-SHA256 of a callback's body, keyed with
// Config.WebhookSecret, as "sha256=" and lowercase hex.
const SignatureHeader = "X-Preflight-Signature"

// ErrForbiddenTarget means a callback host resolves to an address the SSRF
// guard refuses. It is netguard.ErrForbidden, the one guard's error.
var ErrForbiddenTarget = netguard.ErrForbidden

// Sign returns the X-Preflight-Signature value of body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
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

// send POSTs body once; nil means a 2xx reply.
func (h *webhook) send(ctx context.Context, url, jobID string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "preflight-webhook")
	req.Header.Set("X-Preflight-Job", jobID)
	if h.cfg.WebhookSecret != "" {
		req.Header.Set(SignatureHeader, Sign(h.cfg.WebhookSecret, body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("callback answered %s", strconv.Itoa(resp.StatusCode))
	}
	return nil
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
		err = m.hook.send(ctx, j.callbackURL, j.id, body)
		if err == nil {
			m.log.Info("callback delivered", "job", j.id, "attempt", attempt)
			m.recordWebhook(ctx, j, webhookSent)
			return
		}
		if ctx.Err() != nil {
			return // shutting down: the next Start delivers it
		}
		m.log.Warn("callback failed", "job", j.id, "attempt", attempt, "err", err)
		if attempt >= m.cfg.WebhookAttempts || errors.Is(err, ErrForbiddenTarget) {
			m.recordWebhook(ctx, j, webhookFailed)
			return
		}
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

func (m *Manager) recordWebhook(ctx context.Context, j jobRecord, st webhookState) {
	if err := m.st.setWebhook(context.WithoutCancel(ctx), j.pk, st); err != nil {
		m.log.Error("callback: recording delivery", "job", j.id, "err", err)
	}
}

// Package client is a small typed Go client for Preflight's HTTP API
// (openapi.json, served at /openapi.json). Clients in other languages can
// be generated from that document.
//
// The zero Client works against http://localhost:8080 without a key; set
// Key to a secret key (sk_…) for every endpoint.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one Preflight server. Its fields are plain knobs.
type Client struct {
	// BaseURL is the server, as https://preflight.example.com; empty means
	// http://localhost:8080.
	BaseURL string
	// Key is sent as Authorization: Bearer Key when set.
	Key string
	// HTTPClient makes the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Error is an answer other than success, with the server's error code
// (invalid_api_key, quota_exceeded, …) and message.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the server's Retry-After on a 429; zero otherwise.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("preflight: %d %s: %s", e.Status, e.Code, e.Message)
}

// ErrRateLimited matches (errors.Is) an *Error with status 429.
var ErrRateLimited = errors.New("preflight: rate limited")

// Is makes errors.Is(err, ErrRateLimited) true for a 429.
func (e *Error) Is(target error) bool {
	return target == ErrRateLimited && e.Status == http.StatusTooManyRequests
}

// Result is one address's verdict (docs/design.md "Result").
type Result struct {
	Email      string   `json:"email"`
	Normalized string   `json:"normalized"`
	Verdict    string   `json:"verdict"` // deliverable, undeliverable, risky, unknown
	Risk       int      `json:"risk"`    // 0-100
	Reason     string   `json:"reason"`
	Suggestion string   `json:"suggestion"`
	Flags      Flags    `json:"flags"`
	MX         []string `json:"mx"`
	SMTP       *SMTP    `json:"smtp"`
	DurationMS int64    `json:"duration_ms"`
	Detail     string   `json:"detail,omitempty"`
}

// Flags are the list and protocol facts about an address.
type Flags struct {
	Role       bool `json:"role"`
	Disposable bool `json:"disposable"`
	Free       bool `json:"free"`
	CatchAll   bool `json:"catch_all"`
	SMTPUTF8   bool `json:"smtputf8"`
}

// SMTP is the reply to the real RCPT TO.
type SMTP struct {
	Host     string `json:"host"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced"`
	Message  string `json:"message"`
	TLS      bool   `json:"tls"`
}

// Job is a bulk job's progress and summary.
type Job struct {
	ID                  string           `json:"id"`
	Status              string           `json:"status"` // queued, running, done, failed, canceled
	CreatedAt           time.Time        `json:"created_at"`
	Total               int64            `json:"total"`
	Processed           int64            `json:"processed"`
	Counts              map[string]int64 `json:"counts"`
	Reasons             map[string]int64 `json:"reasons"`
	ETASeconds          *int64           `json:"eta_seconds"`
	ProjectedBounceRate *float64         `json:"projected_bounce_rate"`
	SafeToSend          *bool            `json:"safe_to_send"`
	Advice              string           `json:"advice"`
	Error               string           `json:"error,omitempty"`
}

// JobPage is one page of the caller's jobs, newest first.
type JobPage struct {
	Jobs []Job `json:"jobs"`
	Next *int  `json:"next"` // offset of the next page; nil on the last
}

// Usage is the calling key's use per UTC day, newest first.
type Usage struct {
	Key struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		Kind       string  `json:"kind"`
		Test       bool    `json:"test"`
		DailyQuota int64   `json:"daily_quota"`
		Rate       float64 `json:"rate"`
	} `json:"key"`
	Days []struct {
		Date     string           `json:"date"`
		Calls    int64            `json:"calls"`
		Verdicts map[string]int64 `json:"verdicts"`
	} `json:"days"`
}

// Verify checks one address. ctx bounds the whole call; the server's own
// budget is its verify.timeout.
func (c *Client) Verify(ctx context.Context, email string) (*Result, error) {
	var r Result
	err := c.do(ctx, http.MethodPost, "/v1/verify", nil, "application/json", jsonBody(map[string]string{"email": email}), &r)
	return &r, err
}

// VerifyBatch checks up to the server's verify.batch_max addresses; the
// results are in the order of emails.
func (c *Client) VerifyBatch(ctx context.Context, emails []string) ([]Result, error) {
	var out struct {
		Results []Result `json:"results"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/verify/batch", nil, "application/json", jsonBody(map[string][]string{"emails": emails}), &out)
	return out.Results, err
}

// JobOptions are the optional settings of CreateJob.
type JobOptions struct {
	Column      string // the email column, by header or 1-based number; empty: detected
	CallbackURL string // POSTed the summary when the job finishes
}

// CreateJob uploads a CSV list (optionally gzipped) and returns the queued
// job.
func (c *Client) CreateJob(ctx context.Context, csv io.Reader, opts JobOptions) (*Job, error) {
	q := url.Values{}
	if opts.Column != "" {
		q.Set("column", opts.Column)
	}
	if opts.CallbackURL != "" {
		q.Set("callback_url", opts.CallbackURL)
	}
	var j Job
	err := c.do(ctx, http.MethodPost, "/v1/jobs", q, "text/csv", csv, &j)
	return &j, err
}

// Job reports a job's progress and, once done, its summary.
func (c *Client) Job(ctx context.Context, id string) (*Job, error) {
	var j Job
	err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, "", nil, &j)
	return &j, err
}

// Jobs lists the caller's jobs, newest first, limit (1-100) from offset.
func (c *Client) Jobs(ctx context.Context, limit, offset int) (*JobPage, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
	var p JobPage
	err := c.do(ctx, http.MethodGet, "/v1/jobs", q, "", nil, &p)
	return &p, err
}

// Results writes a done job's rows as CSV to w, with the preflight_*
// columns appended; verdicts, when given, keep only those rows.
func (c *Client) Results(ctx context.Context, id string, verdicts []string, w io.Writer) error {
	q := url.Values{}
	if len(verdicts) > 0 {
		q.Set("verdict", strings.Join(verdicts, ","))
	}
	return c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/results", q, "", nil, w)
}

// DeleteJob cancels a job and removes its data.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/jobs/"+url.PathEscape(id), nil, "", nil, nil)
}

// Usage returns the calling key's use over the last days days.
func (c *Client) Usage(ctx context.Context, days int) (*Usage, error) {
	var u Usage
	err := c.do(ctx, http.MethodGet, "/v1/usage", url.Values{"days": {strconv.Itoa(days)}}, "", nil, &u)
	return &u, err
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v) // maps of strings always marshal
	return bytes.NewReader(b)
}

// do sends one request; out is a pointer to decode JSON into, an
// io.Writer to copy the body to, or nil.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, contentType string, body io.Reader, out any) error {
	base := c.BaseURL
	if base == "" {
		base = "http://localhost:8080"
	}
	u := strings.TrimSuffix(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("preflight: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		var b struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&b) == nil {
			e.Code, e.Message = b.Error.Code, b.Error.Message
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	switch o := out.(type) {
	case nil:
		return nil
	case io.Writer:
		_, err := io.Copy(o, resp.Body)
		return err
	default:
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("preflight: %s %s: reading the answer: %w", method, path, err)
		}
		return nil
	}
}

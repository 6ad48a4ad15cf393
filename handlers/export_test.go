package handlers

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/jobs"
)

// writeThenFail writes a CSV header and rows, then fails as a store would.
func writeThenFail(w io.Writer, rows int) error {
	if _, err := io.WriteString(w, "email,reason\n"); err != nil {
		return err
	}
	for range rows {
		if _, err := io.WriteString(w, "someone@example.com,mailbox_not_found\n"); err != nil {
			return err
		}
	}
	return errors.New("disk I/O error")
}

// brokenSuppressions is a suppression list whose export fails after its
// first rows.
type brokenSuppressions struct {
	Bounces
	rows int
}

func (b brokenSuppressions) Export(_ context.Context, w io.Writer) error {
	return writeThenFail(w, b.rows)
}

// brokenJobs has one done job whose export fails after its first rows.
type brokenJobs struct {
	Jobs
	rows int
}

func (brokenJobs) Status(_ context.Context, id string) (jobs.Status, error) {
	return jobs.Status{ID: id, Status: jobs.Done}, nil
}

func (b brokenJobs) Export(_ context.Context, _ string, w io.Writer, _ jobs.ExportOptions) error {
	return writeThenFail(w, b.rows)
}

// TestExportCutOnError: a download that fails once bytes have left breaks
// the connection, so the client sees an error rather than a CSV that looks
// complete, whether the bytes were still buffered or already sent.
func TestExportCutOnError(t *testing.T) {
	for _, tt := range []struct {
		name, path string
		deps       Deps
	}{
		{"suppressions small", "/v1/suppressions", Deps{Bounces: brokenSuppressions{rows: 3}}},
		{"suppressions large", "/v1/suppressions", Deps{Bounces: brokenSuppressions{rows: 5000}}},
		{"job small", "/v1/jobs/abc/results", Deps{Jobs: brokenJobs{rows: 3}}},
		{"job large", "/v1/jobs/abc/results", Deps{Jobs: brokenJobs{rows: 5000}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(New(Config{DefaultTimeout: time.Second, MaxTimeout: time.Second}, tt.deps))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + tt.path)
			if err != nil {
				return // cut before the headers: also not a complete file
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("status %d: the truncated export (%d bytes) read as complete", resp.StatusCode, len(body))
			}
			if strings.Contains(string(body), "disk") {
				t.Errorf("internal error in the body")
			}
		})
	}
}

package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// bigCSV is n rows of distinct addresses with some padding, so that the
// file grows by megabytes.
func bigCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("email,note\n")
	pad := strings.Repeat("x", 200)
	for i := range n {
		fmt.Fprintf(&b, "user%d@d%d.example,%s\n", i, i%50, pad)
	}
	return b.Bytes()
}

// TestRetentionDeletesAndReclaims: a job finished longer ago than the
// retention is deleted with its rows by the sweeper, and a SQLite file
// shrinks (incremental vacuum), while a recent job stays.
func TestRetentionDeletesAndReclaims(t *testing.T) {
	storetest.Each(t, testRetentionDeletesAndReclaims)
}

func testRetentionDeletesAndReclaims(t *testing.T, engine store.Dialect) {
	db, url := openDB(t, engine)
	sqlite := engine == store.SQLite
	m := newManager(t, db, Config{}, newRuleVerifier())
	old, err := m.Create(context.Background(), bytes.NewReader(bigCSV(5000)), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitStateFor(t, m, old.ID, Done, 5*time.Minute)
	recent, err := m.Create(context.Background(), strings.NewReader("email\na@x.example\n"), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, recent.ID, Done)
	// Age the first job past a 30-day retention.
	if _, err := db.Exec(db.Rebind(`UPDATE jobs SET finished_at = ? WHERE id = ?`), ms(time.Now().Add(-31*24*time.Hour)), old.ID); err != nil {
		t.Fatal(err)
	}
	var before int64
	if sqlite {
		before = fileSize(t, db, url)
	}

	m.expireOnce(context.Background())

	if _, err := m.Status(context.Background(), old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired job: %v, want ErrNotFound", err)
	}
	if _, err := m.Status(context.Background(), recent.ID); err != nil {
		t.Errorf("recent job: %v", err)
	}
	counts := tableCounts(t, db)
	if counts["job_rows"] != 1 || counts["job_addresses"] != 1 {
		t.Errorf("rows left after expiry: %v", counts)
	}
	if !sqlite {
		return // PostgreSQL's autovacuum makes the space reusable (reclaim)
	}
	after := fileSize(t, db, url)
	if after > before/2 {
		t.Errorf("database file %d bytes before expiry, %d after: space not reclaimed", before, after)
	}
	t.Logf("database file: %d bytes before, %d after", before, after)
}

// fileSize checkpoints the SQLite database at url and returns the size of
// its file.
func fileSize(t *testing.T, db *store.DB, url string) int64 {
	t.Helper()
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(strings.TrimPrefix(url, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestUploadCaps: uploads beyond MaxConcurrentUploads get ErrBusy, and an
// upload that would pass MaxStoredRows gets ErrFull and leaves nothing.
func TestUploadCaps(t *testing.T) { storetest.Each(t, testUploadCaps) }

func testUploadCaps(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{MaxConcurrentUploads: 1, MaxStoredRows: 5}, newRuleVerifier())

	// An upload whose body blocks holds the only upload slot.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := m.Create(context.Background(), pr, CreateOptions{})
		done <- err
	}()
	pw.Write([]byte("email\na@x.example\n"))
	deadline := time.Now().Add(10 * time.Second)
	for len(m.uploads) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first upload did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := m.Create(context.Background(), strings.NewReader("email\nb@x.example\n"), CreateOptions{}); !errors.Is(err, ErrBusy) {
		t.Errorf("second concurrent upload: %v, want ErrBusy", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// 1 row stored, room for 4 more: a 6-row upload is refused whole.
	if _, err := m.Create(context.Background(), strings.NewReader("email\nc@x.example\nd@x.example\ne@x.example\nf@x.example\ng@x.example\nh@x.example\n"), CreateOptions{}); !errors.Is(err, ErrFull) {
		t.Errorf("upload past MaxStoredRows: %v, want ErrFull", err)
	}
	if n := tableCounts(t, db)["job_rows"]; n != 1 {
		t.Errorf("%d rows stored after the refused upload, want 1", n)
	}
	if _, err := m.Create(context.Background(), strings.NewReader("email\nc@x.example\n"), CreateOptions{}); err != nil {
		t.Errorf("an upload that fits: %v", err)
	}
}

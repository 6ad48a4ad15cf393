package jobs

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// chunkRecorder notes the estimated size of every chunk of rows stored.
type chunkRecorder struct {
	storage
	mu    sync.Mutex
	sizes []int
}

func (c *chunkRecorder) appendRows(ctx context.Context, pk int64, rows []row) error {
	n := 0
	for _, r := range rows {
		n += rowBytes(r.fields)
	}
	c.mu.Lock()
	c.sizes = append(c.sizes, n)
	c.mu.Unlock()
	return c.storage.appendRows(ctx, pk, rows)
}

// TestUploadChunkBytes: rows of half a MiB are stored in chunks of a few
// MiB, not 2,000 rows at a time, so that an upload of wide rows is never
// held in memory in bulk.
func TestUploadChunkBytes(t *testing.T) { storetest.Each(t, testUploadChunkBytes) }

func testUploadChunkBytes(t *testing.T, engine store.Dialect) {
	db, _ := openDB(t, engine)
	m, err := New(context.Background(), Config{}, db, Deps{Verifier: newRuleVerifier(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	rec := &chunkRecorder{storage: m.st}
	m.st = rec
	const rows, notes = 24, 512 << 10
	var b bytes.Buffer
	b.WriteString("email,notes\n")
	pad := strings.Repeat("n", notes)
	for i := range rows {
		fmt.Fprintf(&b, "u%d@example.com,%s\n", i, pad)
	}
	st, err := m.Create(context.Background(), &b, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != rows {
		t.Fatalf("total %d, want %d", st.Total, rows)
	}
	rowSize := rowBytes([]string{"u10@example.com", pad})
	total := 0
	for i, n := range rec.sizes {
		total += n
		if n > uploadChunkBytes+rowSize {
			t.Errorf("chunk %d holds %d bytes; want at most %d", i, n, uploadChunkBytes+rowSize)
		}
	}
	if len(rec.sizes) < 3 || total < rows*notes {
		t.Errorf("%d chunks of %v bytes for %d rows of %d bytes", len(rec.sizes), rec.sizes, rows, notes)
	}
}

package handlers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSlidingNeedsBytes: the deadline is set once at the start and pushed
// again only for every min bytes moved; calls that move little earn
// nothing, however many.
func TestSlidingNeedsBytes(t *testing.T) {
	var sets []time.Time
	s := sliding{set: func(d time.Time) error { sets = append(sets, d); return nil }, idle: time.Hour, min: 100}
	s.begin()
	s.begin()
	if len(sets) != 1 {
		t.Fatalf("%d deadlines after begin, want 1", len(sets))
	}
	for range 99 {
		s.progress(1)
		s.progress(0)
	}
	if len(sets) != 1 {
		t.Fatalf("%d deadlines after 99 bytes in 198 calls, want 1", len(sets))
	}
	s.progress(1)
	if len(sets) != 2 {
		t.Fatalf("%d deadlines after 100 bytes, want 2", len(sets))
	}
	s.progress(250)
	s.progress(10)
	if len(sets) != 3 {
		t.Errorf("%d deadlines after 360 bytes, want 3", len(sets))
	}
	if time.Until(sets[len(sets)-1]) < 59*time.Minute {
		t.Errorf("deadline %v is not idle from now", sets[len(sets)-1])
	}
}

// TestSlidingReaderCutsTrickle runs uploads through a real server on
// 127.0.0.1 with a short idle period: a client that trickles a byte now
// and then is cut off, while one that keeps sending enough bytes outlives
// several idle periods.
func TestSlidingReaderCutsTrickle(t *testing.T) {
	const idle, least = 300 * time.Millisecond, 1024
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := &slidingReader{ReadCloser: r.Body, s: sliding{set: http.NewResponseController(w).SetReadDeadline, idle: idle, min: least}}
		n, err := io.Copy(io.Discard, body)
		got <- result{n, err}
	}))
	defer srv.Close()

	tests := []struct {
		name  string
		chunk int           // bytes per write
		every time.Duration // pause between writes
		total int
		cut   bool
	}{
		// 1 byte every 20 ms: 15 bytes per idle period, far short of least.
		{"trickle", 1, 20 * time.Millisecond, 100, true},
		// 2 KiB every 20 ms for 800 ms: well over least per idle period.
		{"steady", 2048, 20 * time.Millisecond, 80 << 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n", tt.total)
			chunk := []byte(strings.Repeat("x", tt.chunk))
			sent := 0
			for sent < tt.total {
				if _, err := conn.Write(chunk[:min(tt.chunk, tt.total-sent)]); err != nil {
					break // the server hung up
				}
				sent += min(tt.chunk, tt.total-sent)
				select {
				case res := <-got:
					checkCut(t, res.n, res.err, tt.total, tt.cut)
					return
				case <-time.After(tt.every):
				}
			}
			select {
			case res := <-got:
				checkCut(t, res.n, res.err, tt.total, tt.cut)
			case <-time.After(10 * time.Second):
				t.Fatal("the handler never finished")
			}
			if !tt.cut {
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}

func checkCut(t *testing.T, n int64, err error, total int, cut bool) {
	t.Helper()
	if cut {
		if !errors.Is(err, os.ErrDeadlineExceeded) || n >= int64(total) {
			t.Errorf("read %d of %d bytes, err %v; want cut off by the deadline", n, total, err)
		}
		return
	}
	if err != nil || n != int64(total) {
		t.Errorf("read %d of %d bytes, err %v; want all", n, total, err)
	}
}

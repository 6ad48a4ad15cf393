package connlimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestCapPerClient: the third connection of a client capped at two gets a
// 429 and is closed; once one closes, a new one is served.
func TestCapPerClient(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, 2)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn) string {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Status + " " + string(b)
	}
	a, b := dial(), dial()
	if got := get(a); !strings.HasPrefix(got, "200") {
		t.Fatalf("first connection: %s", got)
	}
	if got := get(b); !strings.HasPrefix(got, "200") {
		t.Fatalf("second connection: %s", got)
	}
	third := get(dial())
	if !strings.HasPrefix(third, "429") || !strings.HasSuffix(third, "from this address\"}}") {
		t.Fatalf("third connection: %s, want 429", third)
	}
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open(netip.MustParseAddr("127.0.0.1")) > 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := get(dial()); !strings.HasPrefix(got, "200") {
		t.Fatalf("after one closed: %s", got)
	}
}

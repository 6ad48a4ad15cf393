package smtptest

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"time"
)

// linkConn simulates the network between the fake and its client: every
// byte the server writes reaches the client RTT later. Commands arrive at
// once, so a flight of pipelined commands (RFC 2920) costs one round trip
// and commands sent one after the other cost one each, as on a real
// network. The TCP and TLS handshakes pay it too: the banner and every
// flight of the server's handshake are delayed.
type linkConn struct {
	net.Conn
	rtt       time.Duration
	delivered func([]byte) // called with each chunk once it reached the client

	mu     sync.Mutex
	closed bool
	ch     chan delayed
	done   chan struct{}
}

type delayed struct {
	at time.Time
	b  []byte
}

func newLinkConn(c net.Conn, rtt time.Duration, delivered func([]byte)) *linkConn {
	l := &linkConn{Conn: c, rtt: rtt, delivered: delivered, ch: make(chan delayed, 4096), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *linkConn) run() {
	defer close(l.done)
	defer l.Conn.Close()
	for d := range l.ch {
		if w := time.Until(d.at); w > 0 {
			time.Sleep(w)
		}
		// Counted before it is written: once written, the client may
		// answer before this goroutine runs again.
		l.delivered(d.b)
		l.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := l.Conn.Write(d.b); err != nil {
			for range l.ch {
			}
			return
		}
	}
}

// Write queues b for delivery RTT from now and returns at once, as a
// kernel's send buffer would.
func (l *linkConn) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, net.ErrClosed
	}
	l.ch <- delayed{at: time.Now().Add(l.rtt), b: bytes.Clone(b)}
	return len(b), nil
}

// Close lets what was written reach the client (a 421 before the hang-up,
// say), then closes.
func (l *linkConn) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
	return nil
}

// SetWriteDeadline is the delivery goroutine's business.
func (l *linkConn) SetWriteDeadline(time.Time) error { return nil }

func (l *linkConn) SetDeadline(t time.Time) error { return l.Conn.SetReadDeadline(t) }

// flight is the pipelining tripwire's view of one plain-text session
// (RFC 2920): commands received whose replies the client has not been
// given yet, and whether PIPELINING was advertised. A command that arrives
// while an earlier reply is outstanding was pipelined.
type flight struct {
	mu          sync.Mutex
	outstanding []string // verbs awaiting their reply, oldest first; "" is the banner
	pipelining  bool     // the last EHLO reply advertised PIPELINING
	replyLine   []byte
}

// groupEnding reports the verbs that must be the last of a flight (RFC
// 2920 §3.1; STARTTLS, RFC 3207 §4.2): the client must wait for their
// reply before it sends anything else.
func groupEnding(verb string) bool {
	switch verb {
	case "", "EHLO", "HELO", "STARTTLS", "NOOP", "QUIT", "DATA", "BDAT", "VRFY", "EXPN", "TURN", "AUTH":
		return true
	}
	return false
}

// command notes a command; it returns why it breaks RFC 2920, or "", and
// whether it came in a flight after another.
func (f *flight) command(verb string) (bad string, pipelined bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.outstanding); n > 0 {
		pipelined = true
		last := f.outstanding[n-1]
		switch {
		case groupEnding(last):
			name := last
			if name == "" {
				name = "the banner"
			}
			bad = verb + " sent before the reply to " + name + ", which ends a group (RFC 2920 §3.1)"
		case !f.pipelining:
			bad = verb + " pipelined without the PIPELINING extension (RFC 2920)"
		}
	}
	if verb == "EHLO" || verb == "HELO" {
		// What the server offers now is all that counts (RFC 5321
		// §4.1.4): PIPELINING holds again once this EHLO's reply says so.
		f.pipelining = false
	}
	f.outstanding = append(f.outstanding, verb)
	return bad, pipelined
}

// delivered counts the final lines of replies that reached the client.
func (f *flight) delivered(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			f.replyLine = append(f.replyLine, b...)
			return
		}
		line := append(f.replyLine, b[:i]...)
		f.replyLine = f.replyLine[:0]
		b = b[i+1:]
		if len(f.outstanding) > 0 && f.outstanding[0] == "EHLO" {
			if strings.Contains(strings.ToUpper(string(line)), "PIPELINING") {
				f.pipelining = true
			}
		}
		line = bytes.TrimRight(line, "\r")
		if (len(line) == 3 || len(line) >= 4 && line[3] != '-') && len(f.outstanding) > 0 {
			f.outstanding = f.outstanding[1:]
		}
	}
}

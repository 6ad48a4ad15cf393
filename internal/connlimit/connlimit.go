// Package connlimit caps the connections one client IP holds open at once
// on a listener, so that one client (or one attacker) cannot take every
// file descriptor and goroutine of the server. A connection over the cap
// gets a short HTTP 429 answer and is closed.
package connlimit

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// refusal is what a connection over the cap is told before it is closed:
// an HTTP client sees a 429 with the usual JSON error body.
const refusalBody = `{"error":{"code":"too_many_connections","message":"too many open connections from this address"}}`

var refusal = "HTTP/1.1 429 Too Many Requests\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"Content-Length: " + strconv.Itoa(len(refusalBody)) + "\r\n\r\n" + refusalBody

// Listener wraps a net.Listener. Per is the most connections one client IP
// (an IPv6 /64) may hold open.
type Listener struct {
	net.Listener
	Per int

	mu   sync.Mutex
	open map[netip.Prefix]int
}

// New caps inner at per connections per client IP.
func New(inner net.Listener, per int) *Listener {
	return &Listener{Listener: inner, Per: per, open: make(map[netip.Prefix]int)}
}

// Accept returns the next connection whose client is under its cap, and
// answers and closes the others.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := clientKey(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		l.mu.Lock()
		if l.open[key] >= l.Per {
			l.mu.Unlock()
			go refuse(c)
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &conn{Conn: c, l: l, key: key}, nil
	}
}

// Open returns the connections held by the client of addr now.
func (l *Listener) Open(addr netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[prefix(addr)]
}

func (l *Listener) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// refuse answers 429 without reading the request and closes; a client
// that does not read is cut off after a second.
func refuse(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte(refusal))
	c.Close()
}

func clientKey(a net.Addr) (netip.Prefix, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	return prefix(ip), true
}

// prefix is the unit one client is counted by: its IPv4 address, or its
// IPv6 /64, which one host usually has whole.
func prefix(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

type conn struct {
	net.Conn
	l    *Listener
	key  netip.Prefix
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

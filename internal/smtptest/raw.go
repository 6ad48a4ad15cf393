package smtptest

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Behavior is what a RawServer does to its clients.
type Behavior int

// Behaviours of RawServer.
const (
	// Tarpit accepts connections and never sends a banner.
	Tarpit Behavior = iota + 1
	// BannerReject greets with RawOptions.Banner (default 421 4.7.0) and
	// hangs up.
	BannerReject
	// DropAfterEHLO greets, reads EHLO or HELO, and hangs up without a reply.
	DropAfterEHLO
	// HELOOnly is an old server: 502 5.5.1 to EHLO, then HELO, MAIL, RCPT
	// (with RawOptions.Replies and Default), RSET, NOOP and QUIT.
	HELOOnly
	// EndlessLines answers EHLO with "250-" lines that never end.
	EndlessLines
	// EndlessLine answers EHLO with one line that never ends.
	EndlessLine
	// ExtraReply is an ESMTP server out of step with its client: it
	// answers EHLO, MAIL, RCPT (with RawOptions.Replies and Default), RSET,
	// NOOP and QUIT, but writes one more, unsolicited "250 2.0.0 OK" right
	// after every RCPT reply, in the same write. A client that does not
	// notice takes it for the answer to its next command, and every later
	// answer is one behind.
	ExtraReply
)

// RawOptions shape a RawServer.
type RawOptions struct {
	Behavior Behavior
	// Banner is the greeting of BannerReject (default 421 4.7.0).
	Banner Reply
	// Replies and Default answer RCPT in HELOOnly and ExtraReply, as in
	// Options.
	Replies map[string]Reply
	Default Reply
}

// RawServer is a fake MX that writes its replies by hand, for behaviours
// go-smtp will not produce. It too fails the test on DATA or BDAT.
type RawServer struct {
	Addr string
	Port int

	t   testing.TB
	opt RawOptions
	ln  net.Listener
	wg  sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	accepted int
	closedN  int
	commands []string
	changed  chan struct{} // closed and replaced on every change
	stopped  bool
}

// maxFlood bounds what an Endless* server writes to one client, in case a
// client reads forever: the fake must not be the one that never stops.
const maxFlood = 256 << 20

// StartRaw runs a raw fake on addr, a loopback host:port.
func StartRaw(t testing.TB, addr string, opt RawOptions) *RawServer {
	t.Helper()
	return ServeRaw(t, listen(t, addr), opt)
}

// ServeRaw runs a raw fake on ln, which must listen on loopback; the
// server owns ln from now on.
func ServeRaw(t testing.TB, ln net.Listener, opt RawOptions) *RawServer {
	t.Helper()
	listenerLoopback(t, ln)
	if opt.Behavior < Tarpit || opt.Behavior > ExtraReply {
		t.Fatalf("smtptest: unknown Behavior %d", opt.Behavior)
	}
	if opt.Banner.Code == 0 {
		opt.Banner = Reply{421, "4.7.0", "Too many connections, try again later"}
	}
	opt.Banner.check(t, "Banner")
	if opt.Default.Code == 0 {
		opt.Default = UserUnknown()
	}
	opt.Default.check(t, "Default")
	lower := make(map[string]Reply, len(opt.Replies))
	for k, v := range opt.Replies {
		v.check(t, "Replies["+k+"]")
		lower[strings.ToLower(k)] = v
	}
	opt.Replies = lower
	ta := ln.Addr().(*net.TCPAddr)
	s := &RawServer{
		Addr: ta.String(), Port: ta.Port, t: t, opt: opt, ln: ln,
		conns: make(map[net.Conn]struct{}), changed: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, drops its connections and waits for its
// goroutines.
func (s *RawServer) Close() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Conns is the number of connections accepted.
func (s *RawServer) Conns() int { s.mu.Lock(); defer s.mu.Unlock(); return s.accepted }

// Closed is the number of connections that have ended.
func (s *RawServer) Closed() int { s.mu.Lock(); defer s.mu.Unlock(); return s.closedN }

// Commands lists the command lines received, in order, over all
// connections.
func (s *RawServer) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// WaitClosed waits until n connections have ended, or ctx is done.
func (s *RawServer) WaitClosed(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		done, ch := s.closedN >= n, s.changed
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *RawServer) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *RawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.accepted++
		s.notifyLocked()
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *RawServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.closedN++
		s.notifyLocked()
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	w := func(lines ...string) bool {
		for _, l := range lines {
			if _, err := io.WriteString(c, l+"\r\n"); err != nil {
				return false
			}
		}
		return true
	}
	switch s.opt.Behavior {
	case Tarpit:
		// Say nothing; wait for the client to give up.
		io.Copy(io.Discard, c)
		return
	case BannerReject:
		w(s.opt.Banner.Lines()...)
		return
	}
	if !w("220 raw.smtptest.invalid ESMTP") {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.commands = append(s.commands, line)
		s.notifyLocked()
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if r.Buffered() > 0 {
			// More came before this command's reply: a flight, and a
			// RawServer never offers PIPELINING (RFC 2920).
			s.t.Errorf("fake SMTP server: command after %s pipelined without the PIPELINING extension (RFC 2920)", verb)
		}
		if verb == "DATA" || verb == "BDAT" {
			s.t.Errorf("fake SMTP server received DATA (command %s)", verb)
			w("554 5.7.1 smtptest: this fake never takes DATA")
			continue
		}
		if verb == "EHLO" || verb == "HELO" {
			switch s.opt.Behavior {
			case DropAfterEHLO:
				return
			case EndlessLines:
				s.flood(c, "250-"+strings.Repeat("x", 70)+"\r\n")
				return
			case EndlessLine:
				if _, err := io.WriteString(c, "250-"); err != nil {
					return
				}
				s.flood(c, strings.Repeat("y", 4096))
				return
			}
		}
		var ok bool
		switch verb {
		case "EHLO":
			if s.opt.Behavior == ExtraReply {
				ok = w("250-raw.smtptest.invalid", "250 ENHANCEDSTATUSCODES")
				break
			}
			ok = w("502 5.5.1 Command not implemented")
		case "HELO":
			ok = w("250 raw.smtptest.invalid")
		case "MAIL", "RSET", "NOOP":
			ok = w("250 2.0.0 OK")
		case "RCPT":
			lines := s.rcptReply(arg).Lines()
			if s.opt.Behavior == ExtraReply {
				// One write, so that both replies reach the client together.
				lines = []string{strings.Join(append(lines, "250 2.0.0 OK"), "\r\n")}
			}
			ok = w(lines...)
		case "QUIT":
			w("221 2.0.0 Bye")
			return
		default:
			ok = w("500 5.5.2 Command unrecognized")
		}
		if !ok {
			return
		}
	}
}

// rcptReply answers "TO:<addr>" in HELOOnly.
func (s *RawServer) rcptReply(arg string) Reply {
	addr := arg
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		addr = arg[i+1:]
		if j := strings.IndexByte(addr, '>'); j >= 0 {
			addr = addr[:j]
		}
	}
	if r, ok := s.opt.Replies[strings.ToLower(addr)]; ok {
		return r
	}
	return s.opt.Default
}

// flood writes chunk until the client hangs up or maxFlood bytes went out.
func (s *RawServer) flood(c net.Conn, chunk string) {
	buf := []byte(strings.Repeat(chunk, max(1, 16384/len(chunk))))
	for sent := 0; sent < maxFlood; sent += len(buf) {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

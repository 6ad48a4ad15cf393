package smtptest

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/time/rate"
)

// Options shape a fake Server. The zero value is a server without TLS that
// refuses every recipient with 550 5.1.1.
type Options struct {
	// Domain is the name in the greeting (default "mx.smtptest.invalid").
	Domain string
	// Replies maps a recipient, lowercased, to its RCPT reply. Recipients
	// not in it get Default.
	Replies map[string]Reply
	// Default answers every other recipient; its zero value means
	// 550 5.1.1 User unknown. Set it to Accept() for a catch-all domain.
	Default Reply
	// Rcpt, when set, is asked first about every recipient (as given, not
	// lowercased); ok=false falls back to Replies and Default. It may keep
	// state, for scripts like "421 on the first RCPT, then accept"; it is
	// called from the server's goroutines, so guard that state.
	Rcpt func(rcpt string) (r Reply, ok bool)
	// Mail, when set, answers MAIL FROM (default 250).
	Mail *Reply
	// RcptDelay is slept before each RCPT reply.
	RcptDelay time.Duration
	// Greylist answers the first RCPT of each (MAIL FROM, recipient) pair
	// with 451 4.7.1, as triplet greylisting does (the third part, the
	// client's IP, is always loopback here); later RCPTs of the pair get
	// their normal reply. A client that asks about a new random local part
	// every time is greylisted every time.
	Greylist bool

	// TLS offers STARTTLS with a self-signed certificate made for this
	// server. BrokenTLS offers STARTTLS but fails every handshake.
	TLS       bool
	BrokenTLS bool
	// EnableSMTPUTF8 advertises SMTPUTF8 (RFC 6531) and accepts its MAIL
	// parameter; without it, MAIL FROM ... SMTPUTF8 gets 504 5.5.4.
	EnableSMTPUTF8 bool

	// MaxRcptPerSession limits RCPTs per transaction: it is advertised as
	// LIMITS RCPTMAX (RFC 9422) and RCPTs past it get 452 4.5.3.
	MaxRcptPerSession int
	// RcptsPerTransaction is a limit that is not advertised, as on servers
	// without LIMITS: the RCPTs of one transaction past it, accepted or
	// not, get "452 4.5.3 Too many recipients" (RFC 5321 §4.5.3.1.10).
	RcptsPerTransaction int
	// RcptsPerSession is a limit per connection, over all its
	// transactions, as on Outlook-like servers: every RCPT past it gets
	// "452 4.5.3 Too many recipients", and only a new session gets on.
	RcptsPerSession int
	// HarvestAfter, when positive, is an anti-harvest switch: once that
	// many RCPTs of one session were refused (any 5xx), every later RCPT
	// of the session gets HarvestReply, or, when HarvestReply is zero,
	// 250: the server silently accepts everything, the random catch-all
	// address included. Only a new session starts over.
	HarvestAfter int
	HarvestReply Reply
	// DropAfterRcpts, when positive, answers the RCPT after that many on one
	// connection with "421 4.7.0 Error: too many errors" and hangs up, as
	// Postfix does after smtpd_hard_error_limit (20) errors.
	DropAfterRcpts int
	// SessionsPerSecond, when positive, turns away connections above this
	// rate (bursts of SessionBurst, default 1) with a 421 4.7.0 banner.
	SessionsPerSecond float64
	SessionBurst      int
	// RefuseClients answers every RCPT from these client IPs ("127.0.0.2")
	// with the given reply: a server that blocklists one of our routes.
	RefuseClients map[string]Reply

	// RTT simulates the network: every reply reaches the client RTT after
	// the server wrote it, so each flight of commands costs one round
	// trip whether it holds one command or several (RFC 2920).
	RTT time.Duration
	// NoPipelining hides the PIPELINING extension from the EHLO reply
	// (in plain text; after STARTTLS the fake cannot rewrite it).
	NoPipelining bool
}

// Server is a fake MX built on go-smtp. Any RCPT reply with code 421 is
// followed by a hang-up, as RFC 5321 §3.8 has servers do.
type Server struct {
	// Addr is the host:port the server listens on; Port is its port.
	Addr string
	Port int

	t       testing.TB
	opt     Options
	srv     *smtp.Server
	ln      net.Listener
	limiter *rate.Limiter
	done    chan struct{}

	mu         sync.Mutex
	clients    []string
	conns      int
	rejected   int
	sessions   []time.Time
	open       int // greeted sessions not yet over
	maxOpen    int
	tlsHellos  int
	mails      int
	utf8Mails  int
	recipients []string
	rcptTimes  []time.Time
	maxRcpts   int // most RCPTs on one session
	// sessionRcpts is the RCPT count of each session that sent one, in
	// the order of their first RCPT.
	sessionRcpts []int
	greySeen     map[[2]string]bool
	greylisted   int
	quits        int
	data         int
	pipeBad      int
	pipelined    int
	noops        int
	closed       bool
}

// Start runs a fake server on addr, a loopback host:port ("127.0.0.1:0",
// "127.0.0.2:2525").
func Start(t testing.TB, addr string, opt Options) *Server {
	t.Helper()
	return Serve(t, listen(t, addr), opt)
}

// Serve runs a fake server on ln, which must listen on loopback; the
// server owns ln from now on.
func Serve(t testing.TB, ln net.Listener, opt Options) *Server {
	t.Helper()
	listenerLoopback(t, ln)
	if opt.Domain == "" {
		opt.Domain = "mx.smtptest.invalid"
	}
	if opt.Default.Code == 0 {
		opt.Default = UserUnknown()
	}
	opt.Default.check(t, "Default")
	for rcpt, r := range opt.Replies {
		r.check(t, "Replies["+rcpt+"]")
	}
	if opt.Mail != nil {
		opt.Mail.check(t, "Mail")
	}
	lower := make(map[string]Reply, len(opt.Replies))
	for k, v := range opt.Replies {
		lower[strings.ToLower(k)] = v
	}
	opt.Replies = lower

	ta := ln.Addr().(*net.TCPAddr)
	s := &Server{Addr: ta.String(), Port: ta.Port, t: t, opt: opt, done: make(chan struct{})}
	if opt.SessionsPerSecond > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opt.SessionsPerSecond), max(1, opt.SessionBurst))
	}

	srv := smtp.NewServer(backend{s})
	srv.Domain = opt.Domain
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = discardLogger{}
	srv.MaxRecipients = opt.MaxRcptPerSession
	srv.EnableSMTPUTF8 = opt.EnableSMTPUTF8
	switch {
	case opt.BrokenTLS:
		srv.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return nil, errBrokenTLS
		}}
	case opt.TLS:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned(t, ta.IP)}}
	}
	s.srv = srv
	s.ln = ln
	go func() {
		defer close(s.done)
		srv.Serve(&listener{Listener: ln, s: s})
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and drops its connections.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.srv.Close()
	// go-smtp closes only the listeners Serve has registered; if Close
	// comes before the Serve goroutine ran, ours is not among them yet.
	s.ln.Close()
	<-s.done
}

// tripData fails the test: the probe must never send DATA.
func (s *Server) tripData(how string) {
	s.mu.Lock()
	s.data++
	s.mu.Unlock()
	s.t.Errorf("fake SMTP server received DATA (%s)", how)
}

// tripPipelining fails the test: the client broke RFC 2920.
func (s *Server) tripPipelining(why string) {
	s.mu.Lock()
	s.pipeBad++
	s.mu.Unlock()
	s.t.Errorf("fake SMTP server: %s", why)
}

// replyFor finds the RCPT reply for rcpt.
func (s *Server) replyFor(rcpt string) Reply {
	if s.opt.Rcpt != nil {
		if r, ok := s.opt.Rcpt(rcpt); ok {
			return r
		}
	}
	if r, ok := s.opt.Replies[strings.ToLower(rcpt)]; ok {
		return r
	}
	return s.opt.Default
}

// listener counts connections and turns away those above the rate.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		s := l.s
		s.mu.Lock()
		s.conns++
		reject := s.limiter != nil && !s.limiter.Allow()
		if reject {
			s.rejected++
		} else {
			s.sessions = append(s.sessions, time.Now())
			s.open++
			s.maxOpen = max(s.maxOpen, s.open)
		}
		s.mu.Unlock()
		if reject {
			go func() {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				io.WriteString(c, Reply{421, "4.7.0", "Too many connections, slow down"}.wire())
				c.Close()
			}()
			continue
		}
		sc := &sniffConn{Conn: c, s: s, flight: &flight{outstanding: []string{""}}}
		if s.opt.RTT > 0 {
			sc.Conn = newLinkConn(c, s.opt.RTT, sc.delivered)
		}
		sc.end = sync.OnceFunc(func() {
			s.mu.Lock()
			s.open--
			s.mu.Unlock()
		})
		return sc, nil
	}
}

// sniffConn watches the commands a client sends in plain text, for the
// DATA tripwire, for counting QUITs and for ending the session's count in
// MaxConcurrent. After STARTTLS the bytes are ciphertext, so it stops; the
// Data method of the session is the tripwire from then on.
//
// It is also the pipelining tripwire (RFC 2920): a command sent before the
// reply to a group-ending one (the banner, EHLO, STARTTLS, NOOP, QUIT), or
// before an earlier reply without PIPELINING advertised, fails the test.
type sniffConn struct {
	net.Conn
	s      *Server
	line   []byte
	off    bool
	end    func() // the session is over; runs once
	flight *flight
}

// Write passes the server's bytes on, without PIPELINING when
// Options.NoPipelining hides it; without a simulated RTT they reach the
// client at once.
func (c *sniffConn) Write(b []byte) (int, error) {
	n := len(b) // what the caller gave, whatever is left out
	if c.s.opt.NoPipelining && !c.off {
		b = bytes.Replace(b, []byte("250-PIPELINING\r\n"), nil, 1)
	}
	if _, ok := c.Conn.(*linkConn); ok {
		_, err := c.Conn.Write(b)
		return n, err
	}
	c.delivered(b) // before: once written, the client may answer at once
	_, err := c.Conn.Write(b)
	return n, err
}

// delivered tells the tripwire which replies the client has.
func (c *sniffConn) delivered(b []byte) {
	if !c.off {
		c.flight.delivered(b)
	}
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.off {
		c.scan(p[:n])
	}
	if err != nil {
		c.end()
	}
	return n, err
}

func (c *sniffConn) Close() error {
	c.end()
	return c.Conn.Close()
}

func (c *sniffConn) scan(b []byte) {
	for len(b) > 0 && !c.off {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(c.line) < 1024 {
				c.line = append(c.line, b...)
			}
			return
		}
		c.line = append(c.line, b[:i]...)
		b = b[i+1:]
		verb, _, _ := strings.Cut(strings.TrimSpace(string(c.line)), " ")
		c.line = c.line[:0]
		verb = strings.ToUpper(verb)
		if bad, pipelined := c.flight.command(verb); bad != "" {
			c.s.tripPipelining(bad)
		} else if pipelined {
			c.s.mu.Lock()
			c.s.pipelined++
			c.s.mu.Unlock()
		}
		switch verb {
		case "DATA", "BDAT":
			c.s.tripData("command " + strings.ToUpper(verb))
		case "QUIT":
			c.s.mu.Lock()
			c.s.quits++
			c.s.mu.Unlock()
			c.end()
		case "NOOP":
			c.s.mu.Lock()
			c.s.noops++
			c.s.mu.Unlock()
		case "STARTTLS":
			c.off = true
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if _, ok := c.TLSConnectionState(); ok {
		b.s.mu.Lock()
		b.s.tlsHellos++
		b.s.mu.Unlock()
	}
	ip := ""
	if a, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		ip = a.IP.String()
	}
	b.s.mu.Lock()
	b.s.clients = append(b.s.clients, ip)
	b.s.mu.Unlock()
	return &session{s: b.s, c: c, client: ip}, nil
}

// Clients returns the client IP of every session so far, in order.
func (s *Server) Clients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.clients)
}

// session is one go-smtp session. After STARTTLS go-smtp starts a new one
// on the same connection.
type session struct {
	s       *Server
	c       *smtp.Conn
	rcpts   int
	idx     int    // 1 + its index in Server.sessionRcpts, 0 before its first RCPT
	refused int    // RCPTs refused with a 5xx, for HarvestAfter
	txn     int    // RCPTs in the current transaction
	from    string // reverse path of the current transaction
	client  string // the client's IP
}

// greylist reports whether the pair (x.from, to) is seen for the first
// time, and remembers it.
func (x *session) greylist(to string) bool {
	s := x.s
	key := [2]string{strings.ToLower(x.from), strings.ToLower(to)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.greySeen[key] {
		return false
	}
	if s.greySeen == nil {
		s.greySeen = make(map[[2]string]bool)
	}
	s.greySeen[key] = true
	s.greylisted++
	return true
}

func (x *session) Mail(from string, opts *smtp.MailOptions) error {
	s := x.s
	x.from = from
	x.txn = 0
	s.mu.Lock()
	s.mails++
	if opts != nil && opts.UTF8 {
		s.utf8Mails++
	}
	s.mu.Unlock()
	if s.opt.Mail != nil && s.opt.Mail.Code/100 != 2 {
		return x.reply(*s.opt.Mail)
	}
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s := x.s
	x.rcpts++
	x.txn++
	s.mu.Lock()
	s.recipients = append(s.recipients, to)
	s.rcptTimes = append(s.rcptTimes, time.Now())
	s.maxRcpts = max(s.maxRcpts, x.rcpts)
	if x.idx == 0 {
		s.sessionRcpts = append(s.sessionRcpts, 0)
		x.idx = len(s.sessionRcpts)
	}
	s.sessionRcpts[x.idx-1] = x.rcpts
	s.mu.Unlock()
	if s.opt.RcptDelay > 0 {
		time.Sleep(s.opt.RcptDelay)
	}
	var r Reply
	refuse, refused := s.opt.RefuseClients[x.client]
	switch {
	case refused:
		r = refuse
	case s.opt.HarvestAfter > 0 && x.refused >= s.opt.HarvestAfter:
		r = s.opt.HarvestReply
		if r.Code == 0 {
			r = Accept()
		}
	case s.opt.DropAfterRcpts > 0 && x.rcpts > s.opt.DropAfterRcpts:
		r = Reply{421, "4.7.0", "Error: too many errors"}
	case s.opt.RcptsPerSession > 0 && x.rcpts > s.opt.RcptsPerSession:
		r = Reply{452, "4.5.3", "Too many recipients"}
	case s.opt.RcptsPerTransaction > 0 && x.txn > s.opt.RcptsPerTransaction:
		r = Reply{452, "4.5.3", "Too many recipients"}
	case s.opt.Greylist && x.greylist(to):
		r = Reply{451, "4.7.1", "Greylisted, please try again later"}
	default:
		r = s.replyFor(to)
	}
	if r.Code/100 == 2 {
		// go-smtp writes its own 250 text for an accepted recipient.
		return nil
	}
	if r.Code/100 == 5 {
		x.refused++
	}
	return x.reply(r)
}

// reply returns r as go-smtp's error, or, for 421, writes it and hangs up
// (RFC 5321 §3.8: 421 means the server is closing the channel).
func (x *session) reply(r Reply) error {
	if r.Code == 421 {
		conn := x.c.Conn()
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(conn, r.wire())
		x.c.Close()
	}
	return r.smtpError()
}

// Data is the DATA tripwire: the probe must never get this far. BDAT
// chunks reach it too.
func (x *session) Data(r io.Reader) error {
	x.s.tripData("Data called")
	io.Copy(io.Discard, r)
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "smtptest: this fake never takes DATA"}
}

func (x *session) Reset()        { x.txn = 0 }
func (x *session) Logout() error { return nil }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

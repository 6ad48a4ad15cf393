package smtptest

import "time"

// What a fake server saw, for tests to check. Every counter is read under
// the server's lock.

// Conns is the number of TCP connections accepted, turned away or not.
func (s *Server) Conns() int { s.mu.Lock(); defer s.mu.Unlock(); return s.conns }

// Rejected is the number of connections turned away with a 421 banner
// (Options.SessionsPerSecond).
func (s *Server) Rejected() int { s.mu.Lock(); defer s.mu.Unlock(); return s.rejected }

// Sessions is the number of connections that were greeted with 220.
func (s *Server) Sessions() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.sessions) }

// MaxConcurrent is the most greeted sessions that were open at once. A
// session is over from its QUIT (seen while the connection is in plain
// text) or the end of its connection, whichever comes first, so a client
// that QUITs one session before it opens the next is never counted twice.
func (s *Server) MaxConcurrent() int { s.mu.Lock(); defer s.mu.Unlock(); return s.maxOpen }

// SessionTimes returns when each greeted connection was accepted.
func (s *Server) SessionTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.sessions...)
}

// TLSHellos is the number of EHLO/HELO received over TLS.
func (s *Server) TLSHellos() int { s.mu.Lock(); defer s.mu.Unlock(); return s.tlsHellos }

// Mails is the number of MAIL FROM commands that reached the backend;
// UTF8Mails counts those with the SMTPUTF8 parameter.
func (s *Server) Mails() int     { s.mu.Lock(); defer s.mu.Unlock(); return s.mails }
func (s *Server) UTF8Mails() int { s.mu.Lock(); defer s.mu.Unlock(); return s.utf8Mails }

// Rcpts is the number of RCPT TO commands that reached the backend.
func (s *Server) Rcpts() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.recipients) }

// Recipients lists every RCPT TO address, in order, as sent.
func (s *Server) Recipients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.recipients...)
}

// RcptTimes returns when each RCPT TO arrived, in the order of
// Recipients.
func (s *Server) RcptTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.rcptTimes...)
}

// MaxSessionRcpts is the most RCPT TO commands one session sent, over all
// its transactions. (After STARTTLS go-smtp starts a new session on the
// connection, and the count starts over.)
func (s *Server) MaxSessionRcpts() int { s.mu.Lock(); defer s.mu.Unlock(); return s.maxRcpts }

// SessionRcpts returns how many RCPTs each session sent, for the sessions
// that sent any, in the order of their first RCPT.
func (s *Server) SessionRcpts() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sessionRcpts...)
}

// Greylisted is the number of RCPTs answered 451 by Options.Greylist.
func (s *Server) Greylisted() int { s.mu.Lock(); defer s.mu.Unlock(); return s.greylisted }

// Quits is the number of QUIT commands seen on connections that stayed in
// plain text (after STARTTLS the fake cannot see commands on the wire).
func (s *Server) Quits() int { s.mu.Lock(); defer s.mu.Unlock(); return s.quits }

// Noops is the number of NOOP commands seen in plain text.
func (s *Server) Noops() int { s.mu.Lock(); defer s.mu.Unlock(); return s.noops }

// Open is the number of greeted sessions not yet over (see
// MaxConcurrent).
func (s *Server) Open() int { s.mu.Lock(); defer s.mu.Unlock(); return s.open }

// DataAttempts is how many times the DATA tripwire fired.
func (s *Server) DataAttempts() int { s.mu.Lock(); defer s.mu.Unlock(); return s.data }

// PipeliningViolations is how many times the pipelining tripwire fired.
func (s *Server) PipeliningViolations() int { s.mu.Lock(); defer s.mu.Unlock(); return s.pipeBad }

// Pipelined is how many commands arrived, in plain text, before the
// replies to the commands before them: the commands after the first of
// each flight.
func (s *Server) Pipelined() int { s.mu.Lock(); defer s.mu.Unlock(); return s.pipelined }

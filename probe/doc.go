// Package probe asks receiving mail servers whether they would take mail
// for an address, without ever sending one: an SMTP session goes as far as
// RCPT TO, then RSET and QUIT. It never sends DATA or BDAT; its client
// cannot even write those verbs.
//
// One Engine serves a whole process. Callers submit recipients with
// Check; for each MX host name there is a dispatcher that owns the name's
// sessions and queue. Its sessions pass through the gate of the address
// they dial, which holds that server's rate limiters
// (golang.org/x/time/rate, per MX host rather than per recipient domain,
// since thousands of domains share one provider's MX hosts), one for new
// sessions and one for RCPT commands, and its cap on concurrent sessions.
// A session QUITs after MaxRcptsPerSession RCPTs, and the next one goes
// through the session limiter. A gate is per address, not per name, because
// Microsoft 365 and Proofpoint give each tenant its own MX name on shared
// addresses.
//
// The dispatcher packs waiting recipients into sessions: MAIL FROM, one
// RCPT to a random local part for each domain whose catch-all status is
// not cached (unpredictable, but the same for a domain while the Engine
// lives, so that a test repeated after a greylisting delay gets through),
// up to BatchSize real RCPTs. When the server offers PIPELINING (RFC
// 2920) these go in one flight, read back in order as if sent one at a
// time. The transaction stays open for the next batch (RSET only at its
// RCPT limit, after a reply that spoils it, or before QUIT), and the
// session stays open for IdleTimeout so the next callers skip the TCP,
// TLS and EHLO round trips, unless another session waits for its place;
// a host with real-time traffic keeps one session warm for KeepWarm, with
// a NOOP now and then. A burst of signups at one provider, or a bulk
// list, therefore costs a handful of sessions, and a signup at a warm
// provider one round trip. Addresses of both families are raced (Happy
// Eyeballs, RFC 8305).
//
// Servers that hang up mid-batch (a 421, or Postfix's error limit) are
// reconnected to, and the recipients that got no answer are queued again,
// a bounded number of times. A 421 or a rate-limit reply pauses the host
// with an exponential backoff. A host that cannot be reached passes its
// recipients to the next MX host, in preference order (RFC 5321 §5.1).
// The last MX host of a recipient, when it rate-limits us, is waited out
// for as long as the caller's deadline allows (a bulk job gets its real
// answers in about the time the host's limit needs); a caller whose
// deadline comes before the end of the host's pause gets rate_limited at
// once.
//
// Every network step has its own timeout (connect, banner, each command),
// within the caller's context. Only global unicast addresses are dialled
// unless Config.AllowPrivate is set: loopback, private, link-local,
// multicast, unspecified and the other special-purpose ranges (RFC 6890),
// including IPv6 forms that embed such an IPv4 address, are refused, so
// the probe cannot be used to scan internal networks.
//
// Replies are classified by package reply, the one classifier Preflight
// shares between the probe and the bounce explainer; the probe keeps the
// code, enhanced code and text of each reply in its Result.
//
// # Files
//
// The dispatcher's methods are split by concern: dispatcher.go (queue and
// lifecycle), connect.go (connecting and back-off), session.go (the
// session loop and packing transactions), transaction.go (one
// transaction), requeue.go (requeue and blame), results.go (from
// replies to results) and harvest.go (anti-harvest defences).
//
// Anti-harvest switches (servers that start refusing, or accepting,
// everything after a few unknown recipients from one client) never
// produce a wrong definite verdict: a session QUITs after
// MaxRefusalsPerSession refused recipients, a transaction interleaves
// domains, and accepted answers given after refusals are checked by
// asking again about the domain's random address. Answers that
// contradict each other are asked again in a fresh session after a pause
// when the caller's deadline allows, and are unknown otherwise.
package probe

// Package reply reads SMTP replies and delivery status notifications (DSNs)
// and classifies them. It is Preflight's one classifier, shared by the SMTP
// probe (live RCPT replies) and the bounce explainer (DSN Diagnostic-Code
// values and ESP webhook messages), so both give the same outcome.Reason for
// the same reply.
//
// # Order of evidence
//
// docs/design.md "Reading SMTP replies": the basic code first, then the RFC 3463
// enhanced code, then the text. Each source carries a weight:
//
//   - the basic code alone is the weakest evidence (421 means back off the
//     host, 556 and 521 mean the domain or host takes no mail, RFC 7504);
//   - a registered enhanced code that names a condition (5.1.1, 5.2.2,
//     5.7.1, ...) outranks ordinary text;
//   - text patterns fill in when the codes are missing or generic (5.0.0,
//     5.5.0, a bare 550), and only the trap patterns, texts documented to
//     come with misleading codes, outrank a specific enhanced code.
//
// On a tie the codes win. A 2xx reply is never a bounce (reason accepted).
//
// # Decisions worth knowing
//
//   - A blocked sender (5.7.x, blocklists, reputation, DMARC/SPF/DKIM,
//     policy) is class Block, action FixSender, never Hard: the server
//     refused the sender, which says nothing about the address.
//   - A 5.7.x reply is Block unless its text names a missing or disabled
//     mailbox outright ("554 5.7.1 <a@b>: Recipient address rejected: User
//     unknown" is Hard: administrators refuse former users so). Until round
//     3 of issue 12 every 5.7.x was Block whatever its words; the bounce and
//     blind corpora showed that cost dead addresses kept (bounce/README.md).
//   - Refusals of the sender's own address are Block even with a 5.1.x
//     code ("sender rejected", "invalid sender", "after MAIL FROM"), and
//     so are anti-abuse texts about unknown recipients.
//   - A full mailbox (4.2.2, 5.2.2, quota texts) is Soft even on a 5xx or
//     next to 5.1.1 (Orange and Comcast send "552 5.1.1 ... overquota"): the
//     mailbox exists.
//   - A message that is too large (5.3.4, 5.2.3, "message size exceeds") is
//     not an address problem: class Soft, reason smtp_rejected, action
//     Review, since resending the same message fails again.
//   - A 4xx is permanent only when its text says the mailbox is missing in
//     so many words ("450 4.1.1 ... User unknown"); a bare 4.1.1 or 4.2.1 is
//     a temporary refusal (smtp_rejected, Soft).
//   - A 5xx that is really temporary (Gmail "550 5.2.1 ... receiving mail at
//     a rate", QQ "550 Ip frequency limited", Microsoft 5.2.122) is
//     rate_limited, Soft.
//   - 5.1.10 is read as a missing mailbox, as docs/design.md asks (Microsoft's
//     RESOLVER.ADR.RecipientNotFound), unless the text names a null MX.
//     Unregistered X.1.x details are not read as 5.1.0: vendors use them
//     for other things.
//   - A 5xx with no enhanced code and no recognisable text is Unknown,
//     smtp_rejected, Review: not proof that the mailbox is missing.
//
// # Knowledge and speed
//
// status.go holds the IANA enhanced status code registry (RFC 3463 and the
// RFCs that extended it); rules.go holds the text patterns, each with its
// source. All patterns are found in one pass over the reply by a
// case-folding Aho-Corasick automaton built once on first use; Classify and
// single-line Parse do not allocate.
package reply

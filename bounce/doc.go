// Package bounce reads whole bounce messages: RFC 3464 delivery status
// notifications (tolerating the damage real ones carry), the non-standard
// layouts of common MTAs and providers (Postfix, Sendmail, Exim, qmail,
// Exchange, Office 365, Gmail, Yahoo, Amazon SES and WorkMail, OpenSMTPD,
// Google Groups, ...), ARF complaints (RFC 5965) and auto-replies
// (RFC 3834). Read returns one Diagnosis per recipient; the reply texts are
// classified by package reply, the classifier shared with the SMTP probe.
//
// Apply and IngestPath feed what Read finds to the suppression list,
// idempotently, from a message, an mbox or a Maildir.
//
// README.md documents the formats, the mapping of Sisimai's reasons to our
// classes, and the measured accuracy with the commands that produced it.
package bounce

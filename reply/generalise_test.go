package reply

import (
	"testing"

	"github.com/preflight-email/preflight/outcome"
)

// TestGeneralises covers the kinds of reply of issue 12 that the
// classifier used to get wrong, each with texts written for this test (not
// copied from the corpora), plus the 5.7.x rule (round 3: outright texts win).
func TestGeneralises(t *testing.T) {
	tests := []struct {
		kind, in string
		class    Class
		reason   outcome.Reason
	}{
		// Broken English and other languages for a missing mailbox.
		{"broken English", "550 User not exist", Hard, outcome.MailboxNotFound},
		{"broken English", "550 5.1.1 user is not exist: jdoe", Hard, outcome.MailboxNotFound},
		{"broken English", "550 Mailbox does not exists", Hard, outcome.MailboxNotFound},
		{"broken English", "550 recipient address does no exist", Hard, outcome.MailboxNotFound},
		{"broken English", "550 Mail box not exist", Hard, outcome.MailboxNotFound},
		{"French", "550 Utilisateur inconnu", Hard, outcome.MailboxNotFound},
		{"French", "550 5.1.1 Destinataire inconnu / unknown recipient", Hard, outcome.MailboxNotFound},
		{"French", "550 Cette adresse n\u2019existe pas", Hard, outcome.MailboxNotFound},
		{"German", "550 5.1.1 Benutzer unbekannt", Hard, outcome.MailboxNotFound},
		{"German", "550 Empf\u00e4nger unbekannt", Hard, outcome.MailboxNotFound},
		{"German", "550 Das Postfach existiert nicht", Hard, outcome.MailboxNotFound},
		{"Russian", "550 \u041d\u0435\u0442 \u0442\u0430\u043a\u043e\u0433\u043e \u043f\u043e\u043b\u044c\u0437\u043e\u0432\u0430\u0442\u0435\u043b\u044f", Hard, outcome.MailboxNotFound},
		{"Russian", "550 \u041f\u043e\u043b\u044c\u0437\u043e\u0432\u0430\u0442\u0435\u043b\u044c \u043d\u0435 \u043d\u0430\u0439\u0434\u0435\u043d", Hard, outcome.MailboxNotFound},
		{"Chinese", "550 \u7528\u6237\u4e0d\u5b58\u5728", Hard, outcome.MailboxNotFound},
		{"Chinese", "550 \u6536\u4ef6\u4eba\u4e0d\u5b58\u5728 (recipient)", Hard, outcome.MailboxNotFound},

		// Sender-side refusals with recipient-looking codes: block, never hard.
		{"sender", "550 5.1.0 <news@sender.example> sender rejected", Block, outcome.Blocked},
		{"sender", "553 5.1.8 Invalid sender domain", Block, outcome.Blocked},
		{"sender", "550 5.1.7 Invalid sender address", Block, outcome.Blocked},
		{"sender", "550 5.1.1 Sender unknown", Block, outcome.Blocked},
		{"sender", "554 5.7.1 Your account has been disabled for sending", Block, outcome.Blocked},
		{"sender", "550 5.1.1 Sender address rejected: User unknown in local recipient table", Block, outcome.Blocked},
		{"sender", "host mx.example.net said: 550 5.1.1 user unknown (in reply to MAIL FROM command)", Block, outcome.Blocked},
		{"anti-abuse", "550 5.1.1 Too many invalid recipients from your IP", Block, outcome.Blocked},
		{"anti-abuse", "421 4.7.0 Excessive unknown recipients - suspected dictionary attack", Block, outcome.Blocked},

		// Provider tokens.
		{"AOL", "554 5.7.1 CON:B1 connection refused", Block, outcome.Blocked},
		{"Microsoft", "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent (S3150)", Block, outcome.Blocked},
		{"datacentre tag", "550 5.4.1 Recipient address rejected: Access denied. [BL2NAM02FT061.eop-nam02.prod.protection.outlook.com]", Hard, outcome.MailboxNotFound},
		{"Yahoo code", "421 4.7.0 [BL21] Connections will not be accepted from 192.0.2.1", Block, outcome.Blocked},

		// 5.7.x is about the sender unless the text names a missing or
		// disabled mailbox outright; the recipient codes are read as such.
		{"5.7.x, outright text", "550 5.7.1 <jdoe@example.com>: Recipient address rejected: User unknown", Hard, outcome.MailboxNotFound},
		{"5.7.x, weak words", "554 5.7.1 Recipient not accepted here: invalid address", Block, outcome.Blocked},
		{"5.7.x exception", "550 5.7.1 No such user!", Hard, outcome.MailboxNotFound},
		{"5.7.x exception", "525 5.7.13 User account disabled", Hard, outcome.MailboxDisabled},
		{"5.7.x exception", "550 5.7.17 Mailbox owner has changed", Hard, outcome.MailboxNotFound},
		{"5.7.x exception", "554 5.7.1 <jdoe@example.com>: Recipient address rejected: Invalid-Recipient", Hard, outcome.MailboxNotFound},

		// The command a refusal answers, and named refusals of the
		// sending host or the message (texts written for this test).
		{"qmail HELO", "Connected to 198.51.100.7 but my name was rejected. Remote host said: 550 5.7.0 bad HELO I'm not going to try again; this message has been in the queue too long.", Block, outcome.Blocked},
		{"qmail sender", "Connected to 198.51.100.7 but sender was rejected. Remote host said: 553 5.1.1 no such user", Block, outcome.Blocked},
		{"transcript MAIL", ">>> MAIL From:<news@example.org> <<< 550 Relaying denied", Block, outcome.Blocked},
		{"transcript DATA", ">>> DATA <<< 554 Message refused", Block, outcome.Blocked},
		{"transcript DATA, named reason", ">>> DATA <<< 550 5.1.1 User unknown", Hard, outcome.MailboxNotFound},
		{"after DATA", "SMTP error from remote mail server after end of data: 554 Transaction refused", Block, outcome.Blocked},
		{"after DATA", "host mx.example.net said: 550 Message refused (in reply to end of DATA command)", Block, outcome.Blocked},
		{"after DATA, named reason", "SMTP error from remote mail server after end of data: 552 5.2.2 Mailbox full", Soft, outcome.MailboxFull},
		{"line too long", "500 5.5.0 Line too long", Soft, outcome.SMTPRejected},
		{"list loop", "Duplicated Message-ID in <list@example.org>.", Soft, outcome.SMTPRejected},
		{"routing", "Routing: Could not find a gateway for jdoe@example.net", Soft, outcome.ConnectionFailed},

		// Round 3 kinds (texts written for this test): a delivery given up
		// after retries, receiving-side trouble, moved and closed
		// mailboxes, more languages, the message's form, the sending host.
		{"given up", "all hosts for 'example.net' have been failing for a long time (and retry time not reached)", Soft, outcome.Timeout},
		{"given up", "Warning: could not send message for past 4 hours", Soft, outcome.Timeout},
		{"given up", "Delivery failed after 12 attempts", Soft, outcome.Timeout},
		{"given up, named reason", "550 5.1.1 No such user. Giving up.", Hard, outcome.MailboxNotFound},
		{"system", "554 5.3.0 Internal error, please contact the administrator", Soft, outcome.SMTPRejected},
		{"system", "550 5.3.5 System incorrectly configured", Soft, outcome.SMTPRejected},
		{"loop: review, not retry", "554 5.4.6 Routing loop detected", Unknown, outcome.SMTPRejected},
		{"4xx domain", "450 4.1.2 <jdoe@example.net>: Recipient address rejected: Domain not found", Soft, outcome.DNSError},
		{"qmail 4.1.2", "Sorry, I couldn't find any host by that name. (#4.1.2)", Soft, outcome.DNSError},
		{"moved", "551 5.1.6 User not local; please try <jdoe@example.org>", Hard, outcome.MailboxNotFound},
		{"closed", "550 This account has been closed by its owner", Hard, outcome.MailboxDisabled},
		{"Spanish", "550 Usuario desconocido en este dominio", Hard, outcome.MailboxNotFound},
		{"Italian", "550 5.1.1 Utente inesistente", Hard, outcome.MailboxNotFound},
		{"Portuguese", "550 O endereço não existe", Hard, outcome.MailboxNotFound},
		{"Dutch full", "552 Postvak vol", Soft, outcome.MailboxFull},
		{"Chinese full", "552 邮箱已满", Soft, outcome.MailboxFull},
		{"media", "554 5.6.0 Data format error", Block, outcome.Blocked},
		{"TLS", "530 5.7.0 Must issue a STARTTLS command first", Block, outcome.Blocked},
		{"HELO", "450 4.7.1 <mail.local>: Helo command rejected: Host not found", Block, outcome.Blocked},
		{"sender 5.1.0", "550 5.1.0 Sender denied", Block, outcome.Blocked},
		{"sender quota", "550 5.2.2 Submission quota exceeded", Soft, outcome.RateLimited},

		// Honest unknown: not a failure, or nothing about the address.
		{"not a failure", "Thank you for your message, I am out of the office until Monday.", Unknown, outcome.SMTPRejected},
		{"not a failure", "250 2.0.0 Ok: queued as 4XyZ", Unknown, outcome.Accepted},
		{"says nothing", "550 Rejected", Unknown, outcome.SMTPRejected},
		{"says nothing", "554 Transaction failed", Unknown, outcome.SMTPRejected},
	}
	for _, tt := range tests {
		d := ClassifyText(tt.in)
		if d.Class != tt.class || d.Reason != tt.reason {
			t.Errorf("%s: %q = %s/%s, want %s/%s", tt.kind, tt.in, d.Class, d.Reason, tt.class, tt.reason)
		}
	}
}

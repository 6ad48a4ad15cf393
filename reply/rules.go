package reply

// Text patterns are the classifier's last resort (docs/design.md "Reading SMTP
// replies"): they fill in when the codes are missing or generic, and the
// trap patterns (score >= textTrap) override codes that servers are known
// to misuse. Every entry names where the fact comes from. Patterns are
// lower case with single spaces; the matcher folds case and runs of white
// space in the reply the same way.

// Weights of text evidence, compared with the code weights in status.go.
const (
	textWeak   = 20 // a hint only: "try again later", "blocked"
	textNormal = 40 // names the condition, but codes that name one win
	textStrong = 60 // names the condition outright; beats a contrary code
	textTrap   = 80 // a documented case of a misleading code
	textSender = 95 // about the sender's own address: always a block
)

// rule is one text pattern.
type rule struct {
	pat       string
	kind      verdict
	score     int8
	provider  string // set when the pattern identifies the receiving provider
	blocklist string // set when the pattern names a public blocklist
	expl      string // overrides the default explanation of kind
	src       string // where the fact comes from
	// stop marks where a quoted copy of the original message begins
	// (its headers, which may say anything): the text after it is not
	// read.
	stop bool
}

// Explanations of specific patterns; the defaults per verdict live in
// classify.go.
const (
	explBlocklist  = "The sending IP or domain is on a blocklist the receiving server uses; get delisted before sending again."
	explAuth       = "The message failed the receiving server's authentication checks (SPF, DKIM or DMARC); fix the sending domain's authentication."
	explReputation = "The receiving server refused the message because of the sender's reputation; the address itself may be fine."
	explContent    = "The receiving server refused the message's content as spam or unsafe; the address itself may be fine."
	explSender     = "The receiving server refused the sender address or domain, not the recipient; fix the envelope sender."
	explRelay      = "The server refused to relay for this domain, so it is not the domain's mail server or the sender is not allowed to use it."
	explPTR        = "The sending host's reverse DNS (PTR) or HELO name did not satisfy the receiving server."
	explDBEB       = "Exchange Online rejected the recipient at the edge because it is not in the organisation's directory (directory-based edge blocking)."
	explRateRecip  = "The recipient is receiving mail faster than the provider allows; retry later."
)

// rules returns the pattern table. It is a function, not a variable, so the
// table cannot be changed after start-up.
func rules() []rule {
	rs := []rule{
		// Missing mailbox: texts of 550 5.1.1 and of servers that send no
		// enhanced code.
		{pat: "user unknown", kind: vNotFound, score: textStrong, src: "Postfix/Sendmail reply text; SMTP Field Manual (Hey, Proofpoint, Zoho 550 5.1.1)"},
		{pat: "unknown user", kind: vNotFound, score: textStrong, src: "Postfix local(8) DSN text \"unknown user\""},
		{pat: "no such user", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Yandex 550 5.7.1 \"No such user!\", Barracuda 550)"},
		{pat: "no such recipient", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "no such mailbox", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "no such account", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "user does not exist", kind: vNotFound, score: textStrong, src: "DOMAIN.md (Apple 550 5.1.1 \"user does not exist\")"},
		{pat: "user doesn't exist", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "recipient does not exist", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "address does not exist", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "mailbox does not exist", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "account does not exist", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "tried to reach does not exist", kind: vNotFound, score: textStrong, src: "DOMAIN.md (Gmail 550 5.1.1)"},
		{pat: "does not exist", kind: vNotFound, score: textNormal, src: "docs/design.md (\"does not exist\" texts)"},
		{pat: "recipient unknown", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "unknown recipient", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "addressee unknown", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (AT&T 550 5.2.1 \"Addressee unknown\")"},
		{pat: "address unknown", kind: vNotFound, score: textStrong, src: "common MTA reply text (\"550 Address unknown\")"},
		{pat: "unknown address", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "unknown mailbox", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "unknown local part", kind: vNotFound, score: textStrong, src: "Exim reply text"},
		{pat: "no mailbox here", kind: vNotFound, score: textStrong, src: "qmail 511 \"sorry, no mailbox here by that name (#5.1.1)\""},
		{pat: "unknown or illegal alias", kind: vNotFound, score: textStrong, src: "Sendmail reply text"},
		{pat: "mailbox not found", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (QQ 550, Yahoo 552)"},
		{pat: "user not found", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Mail.ru 550)"},
		{pat: "recipient not found", kind: vNotFound, score: textStrong, src: "Microsoft NDR 5.1.10 RESOLVER.ADR.RecipientNotFound"},
		{pat: "recipnotfound", kind: vNotFound, score: textStrong, provider: "microsoft", src: "Microsoft NDR 5.1.1 RESOLVER.ADR.RecipNotFound"},
		{pat: "recipientnotfound", kind: vNotFound, score: textStrong, provider: "microsoft", src: "Microsoft NDR 5.1.10 RESOLVER.ADR.RecipientNotFound"},
		{pat: "invalid recipient", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Email Security.cloud 550, Mimecast 451, Orange 550)"},
		{pat: "invalid-recipient", kind: vNotFound, score: textTrap, src: "SMTP Field Manual (Trend Micro 554 5.7.1 \"Invalid-Recipient\")"},
		{pat: "invalid mailbox", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Mail.ru 550 \"invalid mailbox\")"},
		{pat: "destinataire invalide", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Orange 550 5.1.1, French text)"},
		{pat: "not our customer", kind: vNotFound, score: textStrong, provider: "comcast", src: "SMTP Field Manual (Comcast 550 5.1.1 \"Not our Customer\")"},
		{pat: "mailbox unallocated", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Comcast 550 5.1.1 \"recipient mailbox unallocated\")"},
		{pat: "not a valid email address", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Proofpoint 550 5.1.1)"},
		{pat: "could not be found, or was misspelled", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Rackspace 550 5.1.1)"},
		{pat: "marked as invalid", kind: vNotFound, score: textTrap, src: "SMTP Field Manual (Proofpoint 550 5.7.1 \"User email address is marked as invalid\")"},
		{pat: "not in recipient list", kind: vNotFound, score: textTrap, src: "SMTP Field Manual (ZeroSpam 554 5.7.1)"},
		{pat: "doesn't have a", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Yahoo 554 \"This user doesn't have a ... account\")"},
		{pat: "is no longer valid", kind: vNotFound, score: textStrong, src: "SMTP Field Manual (Yahoo 554 \"is no longer valid. [-20]\")"},
		{pat: "mailbox unavailable", kind: vNotFound, score: textNormal, src: "RFC 5321 §4.2.3 (550 text); DOMAIN.md (Outlook 550 5.5.0)"},
		{pat: "recipient unavailable", kind: vNotFound, score: textNormal, src: "SMTP Field Manual (Comcast 550 5.2.0 \"Recipient unavailable\")"},
		{pat: "invalid address", kind: vNotFound, score: textNormal, src: "common MTA reply text"},
		{pat: "address rejected: access denied", kind: vNotFound, score: textTrap, provider: "microsoft", expl: explDBEB, src: "SMTP Field Manual (Exchange Online 550 5.4.1 \"Recipient address rejected: Access denied\")"},
		{pat: "addresses rejected : access denied", kind: vNotFound, score: textTrap, provider: "microsoft", expl: explDBEB, src: "SMTP Field Manual (Outlook 550 5.4.1 \"All recipient addresses rejected : Access denied\")"},
		{pat: "addresses rejected: access denied", kind: vNotFound, score: textTrap, provider: "microsoft", expl: explDBEB, src: "Microsoft NDR 5.4.1 variant"},
		{pat: "as(201806281)", kind: vNotFound, score: textTrap, provider: "microsoft", expl: explDBEB, src: "Microsoft EOP NDR code AS(201806281): directory-based edge blocking"},

		// Disabled mailbox.
		{pat: "mailbox disabled", kind: vDisabled, score: textStrong, src: "DOMAIN.md (\"521 5.2.1 Mailbox disabled\")"},
		{pat: "mailbox is disabled", kind: vDisabled, score: textStrong, src: "SMTP Field Manual (Yahoo 554 \"This mailbox is disabled (554.30)\")"},
		{pat: "account is disabled", kind: vDisabled, score: textStrong + 5, src: "SMTP Field Manual (Mail.ru 550 \"account is disabled\")"},
		{pat: "account disabled", kind: vDisabled, score: textStrong, src: "RFC 5248 X.7.13 text"},
		{pat: "has been disabled", kind: vDisabled, score: textStrong, src: "common MTA reply text"},
		{pat: "is disabled", kind: vDisabled, score: textStrong, src: "DOMAIN.md (Gmail 550 5.2.1 \"The email account that you tried to reach is disabled\")"},
		{pat: "deactivated", kind: vDisabled, score: textNormal, src: "common MTA reply text"},
		{pat: "inactive", kind: vDisabled, score: textNormal, src: "common MTA reply text"},
		{pat: "account has been suspended", kind: vDisabled, score: textStrong, src: "common MTA reply text"},
		{pat: "account suspended", kind: vDisabled, score: textStrong, src: "common MTA reply text"},
		{pat: "mailbox is frozen", kind: vDisabled, score: textStrong, src: "QQ Mail reply text \"Mailbox is frozen\""},
		{pat: "blocked due to inactivity", kind: vDisabled, score: textTrap, src: "SMTP Field Manual (Free 550 5.2.1 \"This mailbox has been blocked due to inactivity\")"},

		// Full mailbox: the mailbox exists (docs/design.md), so it is soft even
		// on a 5xx or next to 5.1.1.
		{pat: "over quota", kind: vFull, score: textTrap, src: "DOMAIN.md (Gmail 452 4.2.2 \"over quota\"); SMTP Field Manual (Comcast 452 4.1.1)"},
		{pat: "overquota", kind: vFull, score: textTrap, src: "SMTP Field Manual (Apple 552 5.2.2, Orange 552 5.1.1 \"Recipient overquota\")"},
		{pat: "quota exceeded", kind: vFull, score: textTrap, src: "SMTP Field Manual (Free 552 5.2.2, GMX 552, Web.de 550)"},
		{pat: "quota violation", kind: vFull, score: textTrap, src: "SMTP Field Manual (Comcast 552 5.1.1 \"extended quota violation\")"},
		{pat: "exceeded storage allocation", kind: vFull, score: textTrap, src: "RFC 5321 §4.2.3 (552 text); SMTP Field Manual (GMX 552)"},
		{pat: "mailbox full", kind: vFull, score: textTrap, src: "RFC 3463 X.2.2 text"},
		{pat: "mailbox is full", kind: vFull, score: textTrap, src: "common MTA reply text"},
		{pat: "inbox is full", kind: vFull, score: textTrap, src: "common MTA reply text"},
		{pat: "mailbox size limit", kind: vFull, score: textTrap, src: "SMTP Field Manual (Yandex 552 5.2.2 \"Mailbox size limit exceeded\")"},
		{pat: "destinataire pleine", kind: vFull, score: textTrap, src: "SMTP Field Manual (Orange 552 5.1.1, French text)"},
		{pat: "quota", kind: vFull, score: textNormal, src: "docs/design.md (quota texts)"},

		// Message too big: not an address problem.
		{pat: "message size exceeds", kind: vSize, score: textTrap, src: "Postfix 552 5.3.4 \"Message size exceeds fixed limit\""},
		{pat: "size exceeds", kind: vSize, score: textStrong, src: "common MTA reply text"},
		{pat: "message size limit", kind: vSize, score: textTrap, src: "SMTP Field Manual (Gmail 552 5.2.3 \"exceeded Google's message size limits\")"},
		{pat: "message too large", kind: vSize, score: textTrap, src: "common MTA reply text"},
		{pat: "too big", kind: vSize, score: textNormal, src: "Postfix 552 5.3.4 \"message file too big\""},
		{pat: "message too big", kind: vSize, score: textTrap, src: "RFC 3463 X.3.4 text"},
		{pat: "message is too large", kind: vSize, score: textTrap, src: "common MTA reply text"},
		{pat: "message length exceeds", kind: vSize, score: textTrap, src: "RFC 3463 X.2.3 text"},
		{pat: "exceeds the maximum size", kind: vSize, score: textTrap, src: "common MTA reply text"},
		{pat: "size limit", kind: vSize, score: textNormal, src: "common MTA reply text (\"552 Size limit exceeded\")"},
		{pat: "too large", kind: vSize, score: textNormal, src: "common MTA reply text"},

		// Greylisting.
		{pat: "greylist", kind: vGreylist, score: textTrap, src: "docs/design.md (\"greylist\"); SMTP Field Manual (Barracuda 451 4.7.1, ZeroSpam 450 4.2.0)"},
		{pat: "graylist", kind: vGreylist, score: textTrap, src: "common spelling of greylist"},
		{pat: "grey-list", kind: vGreylist, score: textTrap, src: "common spelling of greylist"},
		{pat: "grey list", kind: vGreylist, score: textTrap, src: "common spelling of greylist"},
		{pat: "try again later", kind: vGreylist, score: textWeak, src: "docs/design.md (\"try again later\"); DOMAIN.md (Apple 451 4.7.1)"},
		{pat: "please try later", kind: vGreylist, score: textWeak, src: "common MTA reply text"},
		{pat: "retry later", kind: vGreylist, score: textWeak, src: "common MTA reply text"},
		{pat: "come back later", kind: vGreylist, score: textWeak, src: "SMTP Field Manual (Yandex 451 4.7.1)"},

		// Rate limiting: retry later from the same host, more slowly. These
		// beat "quota" and "reputation" because they name the cure.
		{pat: "rate limit", kind: vRate, score: textTrap, src: "docs/design.md (\"rate limit\"); SMTP Field Manual (Rambler 452 4.5.3, Outlook 451 4.7.650)"},
		{pat: "ratelimit", kind: vRate, score: textTrap, src: "common MTA reply text"},
		{pat: "unusual rate", kind: vRate, score: textTrap, provider: "gmail", src: "SMTP Field Manual (Gmail 421 4.7.28)"},
		{pat: "receiving mail at a rate", kind: vRate, score: textTrap, provider: "gmail", expl: explRateRecip, src: "SMTP Field Manual (Gmail 450 4.2.1, 550 5.2.1 ReceivingRate)"},
		{pat: "receiving mail too quickly", kind: vRate, score: textTrap, expl: explRateRecip, src: "SMTP Field Manual (Yahoo 450)"},
		{pat: "exceeded their limit for the number of messages", kind: vRate, score: textTrap, provider: "microsoft", expl: explRateRecip, src: "SMTP Field Manual (Outlook 554 5.2.122)"},
		{pat: "too many connections", kind: vRate, score: textTrap, src: "docs/design.md (\"too many connections\")"},
		{pat: "concurrent connections", kind: vRate, score: textTrap, src: "SMTP Field Manual (Exchange Online 421 4.3.2)"},
		{pat: "too many messages", kind: vRate, score: textTrap, src: "common MTA reply text"},
		{pat: "too many recent messages", kind: vRate, score: textTrap, src: "SMTP Field Manual (Comcast 452 4.1.1)"},
		{pat: "too many errors", kind: vRate, score: textTrap, src: "SMTP Field Manual (Apple 421 4.7.0)"},
		{pat: "too many recipients", kind: vRate, score: textStrong, src: "RFC 3463 X.5.3 text"},
		{pat: "too many sessions", kind: vRate, score: textTrap, src: "Comcast 421 RL000001 \"Too many sessions opened\""},
		{pat: "too many concurrent", kind: vRate, score: textTrap, src: "common MTA reply text"},
		{pat: "max message per connection", kind: vRate, score: textTrap, src: "SMTP Field Manual (Yahoo 421)"},
		{pat: "frequency limited", kind: vRate, score: textTrap, src: "SMTP Field Manual (QQ 550 \"Sender frequency limited\")"},
		{pat: "excessive volume", kind: vRate, score: textTrap, src: "SMTP Field Manual (Apple 421 4.7.1)"},
		{pat: "server busy", kind: vRate, score: textTrap, src: "SMTP Field Manual (Exchange Online 451 4.7.500)"},
		{pat: "daily limit", kind: vRate, score: textTrap + 5, src: "Exchange Online 550 5.1.90 \"you've reached your daily limit for message recipients\" (a sender limit)"},
		{pat: "throttl", kind: vRate, score: textTrap, src: "common MTA reply text"},
		{pat: "sending quota", kind: vRate, score: textTrap + 5, src: "Google Workspace 550 5.4.5 \"Daily user sending quota exceeded\""},
		{pat: "sending limit", kind: vRate, score: textTrap + 5, src: "common ESP reply text"},
		{pat: "queue quota", kind: vRate, score: textTrap + 5, provider: "microsoft", src: "SMTP Field Manual (Outlook 450 4.7.3 \"Organization queue quota exceeded\")"},

		// Blocklists (docs/design.md: blocked, fix the sender). These name the list.
		{pat: "spamhaus", kind: vBlock, score: textTrap + 5, blocklist: "spamhaus", expl: explBlocklist, src: "DOMAIN.md (Outlook 550 5.7.1 \"listed in Spamhaus\")"},
		{pat: "abuseat", kind: vBlock, score: textTrap + 5, blocklist: "cbl", expl: explBlocklist, src: "CBL (cbl.abuseat.org) lookup URL"},
		{pat: "spamcop", kind: vBlock, score: textTrap + 5, blocklist: "spamcop", expl: explBlocklist, src: "SpamCop bl.spamcop.net"},
		{pat: "barracudacentral", kind: vBlock, score: textTrap + 5, blocklist: "barracuda", expl: explBlocklist, src: "Barracuda Reputation Block List b.barracudacentral.org"},
		{pat: "brbl", kind: vBlock, score: textTrap + 5, blocklist: "barracuda", expl: explBlocklist, src: "Barracuda Reputation Block List (BRBL)"},
		{pat: "sorbs", kind: vBlock, score: textTrap + 5, blocklist: "sorbs", expl: explBlocklist, src: "SORBS DNSBL"},
		{pat: "uceprotect", kind: vBlock, score: textTrap + 5, blocklist: "uceprotect", expl: explBlocklist, src: "UCEPROTECT DNSBL"},
		{pat: "spamrats", kind: vBlock, score: textTrap + 5, blocklist: "spamrats", expl: explBlocklist, src: "SpamRATS DNSBL"},
		{pat: "invaluement", kind: vBlock, score: textTrap + 5, blocklist: "invaluement", expl: explBlocklist, src: "Invaluement DNSBL"},
		{pat: "psbl", kind: vBlock, score: textTrap + 5, blocklist: "psbl", expl: explBlocklist, src: "Passive Spam Block List (psbl.org)"},
		{pat: "mailspike", kind: vBlock, score: textTrap + 5, blocklist: "mailspike", expl: explBlocklist, src: "Mailspike DNSBL"},
		{pat: "cloudmark", kind: vBlock, score: textTrap + 5, blocklist: "cloudmark", expl: explBlocklist, src: "SMTP Field Manual (Proofpoint 550 5.7.1 \"blocked using Cloudmark Sender Intelligence\", Orange)"},
		{pat: "prs.proofpoint", kind: vBlock, score: textTrap + 5, blocklist: "proofpoint", provider: "proofpoint", expl: explBlocklist, src: "SMTP Field Manual (Proofpoint 550 5.7.1 \"blocked using prs.proofpoint.com\")"},
		{pat: "proofpoint.com/dnsbl", kind: vBlock, score: textTrap + 5, blocklist: "proofpoint", provider: "proofpoint", expl: explBlocklist, src: "Proofpoint dnsbl-lookup URL in 550 5.7.0 \"Blocked\" replies (Apple iCloud uses Proofpoint)"},

		// Generic block texts.
		{pat: "blocklist", kind: vBlock, score: textStrong, expl: explBlocklist, src: "docs/design.md (blocklist texts)"},
		{pat: "block list", kind: vBlock, score: textStrong, expl: explBlocklist, src: "SMTP Field Manual (Outlook 550 5.7.1 S3150 \"on our block list\")"},
		{pat: "block listed", kind: vBlock, score: textStrong, expl: explBlocklist, src: "SMTP Field Manual (Web.de 550 \"IP address is block listed\")"},
		{pat: "blacklist", kind: vBlock, score: textStrong, expl: explBlocklist, src: "common MTA reply text"},
		{pat: "black list", kind: vBlock, score: textStrong, expl: explBlocklist, src: "common MTA reply text"},
		{pat: "blocked using", kind: vBlock, score: textStrong, expl: explBlocklist, src: "Postfix reject_rbl_client text \"blocked using\""},
		{pat: "dnsbl", kind: vBlock, score: textStrong, expl: explBlocklist, src: "common MTA reply text"},
		{pat: "listed in", kind: vBlock, score: textStrong, expl: explBlocklist, src: "DOMAIN.md (\"MailFrom domain is listed in Spamhaus\")"},
		{pat: "listed on", kind: vBlock, score: textStrong, expl: explBlocklist, src: "common MTA reply text"},
		{pat: "reputation", kind: vBlock, score: textStrong, expl: explReputation, src: "DOMAIN.md (\"very low reputation of the sending domain\")"},
		{pat: "complaints", kind: vBlock, score: textTrap + 5, expl: explReputation, src: "DOMAIN.md (Yahoo 421 4.7.0 [TSS04] \"deferred due to user complaints\")"},
		{pat: "[tss0", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explReputation, src: "Yahoo postmaster error codes TSS04/TSS09"},
		{pat: "[ts0", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explReputation, src: "Yahoo postmaster error codes TS01-TS03"},
		// Only Yahoo's own codes: "[BL2NAM02FT061.eop-nam02...]" is a
		// Microsoft datacentre tag, not a blocklist.
		{pat: "[bl21]", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "Yahoo postmaster error code BL21"},
		{pat: "[bl22]", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "Yahoo postmaster error code BL22"},
		{pat: "[bl23]", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "Yahoo postmaster error code BL23"},
		{pat: "[ph01]", kind: vBlock, score: textStrong, provider: "yahoo", src: "SMTP Field Manual (Yahoo 554 [PH01])"},
		{pat: "[cs01]", kind: vBlock, score: textStrong, provider: "apple", src: "SMTP Field Manual (Apple 550 5.7.1 [CS01])"},
		{pat: "[hm08]", kind: vBlock, score: textStrong, provider: "apple", src: "Apple iCloud postmaster reply code HM08"},
		{pat: "bl000", kind: vBlock, score: textTrap + 5, provider: "comcast", expl: explBlocklist, src: "SMTP Field Manual (Comcast 554 BL000000)"},
		{pat: "s3150", kind: vBlock, score: textTrap + 5, provider: "microsoft", expl: explBlocklist, src: "SMTP Field Manual (Outlook 550 5.7.1 (S3150))"},
		{pat: "s3140", kind: vBlock, score: textTrap + 5, provider: "microsoft", expl: explBlocklist, src: "Microsoft Outlook.com block code S3140"},
		{pat: "banned sending ip", kind: vBlock, score: textTrap + 5, provider: "microsoft", expl: explBlocklist, src: "SMTP Field Manual (Exchange Online 550 5.7.606)"},
		{pat: "banned sender", kind: vBlock, score: textTrap + 5, src: "Microsoft NDR 5.7.511 \"Access denied, banned sender\""},
		{pat: "traffic not accepted", kind: vBlock, score: textTrap + 5, provider: "microsoft", src: "Microsoft NDR 5.7.708 \"traffic not accepted from this IP\""},
		{pat: "will not accept delivery", kind: vBlock, score: textTrap, provider: "yahoo", src: "AOL 521 5.2.1 \"AOL will not accept delivery of this message\""},
		{pat: "dmarc", kind: vBlock, score: textTrap, expl: explAuth, src: "DOMAIN.md (Comcast 550 5.2.0 \"rejected due to DMARC\")"},
		{pat: "spf", kind: vBlock, score: textStrong, expl: explAuth, src: "docs/design.md (SPF texts); SMTP Field Manual (Web.de 550 \"Reject due to SPF policy\")"},
		{pat: "dkim", kind: vBlock, score: textStrong, expl: explAuth, src: "docs/design.md (DKIM texts)"},
		{pat: "unauthenticated", kind: vBlock, score: textStrong, expl: explAuth, src: "Gmail 550 5.7.26 and Yahoo 550 5.7.9 \"sender is unauthenticated\""},
		{pat: "authentication", kind: vBlock, score: textNormal, expl: explAuth, src: "Gmail 421 4.7.0 \"fails to pass authentication checks\""},
		{pat: "spam", kind: vBlock, score: textStrong, expl: explContent, src: "SMTP Field Manual (Free, Rambler, Zoho, Mail.ru, Yandex \"spam\" rejections)"},
		{pat: "unsolicited", kind: vBlock, score: textStrong, expl: explContent, src: "SMTP Field Manual (Gmail 550 5.7.1 \"likely unsolicited mail\")"},
		{pat: "suspicious", kind: vBlock, score: textStrong, expl: explContent, src: "DOMAIN.md (\"suspicious due to the nature of the content\")"},
		{pat: "nature of the content", kind: vBlock, score: textStrong, expl: explContent, src: "DOMAIN.md"},
		{pat: "virus", kind: vBlock, score: textStrong, expl: explContent, src: "SMTP Field Manual (Free 550, Zoho 552 5.7.1)"},
		{pat: "illegal attachment", kind: vBlock, score: textStrong, expl: explContent, src: "SMTP Field Manual (Gmail 552 5.7.0)"},
		{pat: "banned content", kind: vBlock, score: textStrong, expl: explContent, src: "SMTP Field Manual (Barracuda 554)"},
		{pat: "content denied", kind: vBlock, score: textStrong, expl: explContent, provider: "qq", src: "SMTP Field Manual (QQ 550 \"Mail content denied\")"},
		{pat: "spoof", kind: vBlock, score: textStrong, src: "SMTP Field Manual (Barracuda 550, Mimecast 550 Anti-Spoofing)"},
		{pat: "envelope blocked", kind: vBlock, score: textStrong, provider: "mimecast", src: "SMTP Field Manual (Mimecast 550)"},
		{pat: "blocked senders", kind: vBlock, score: textStrong, src: "SMTP Field Manual (Mimecast 550)"},
		{pat: "block-send", kind: vBlock, score: textStrong, src: "SMTP Field Manual (Trend Micro 554 5.7.1 \"BLOCK-SEND-ER\")"},
		{pat: "rejected by recipient", kind: vBlock, score: textStrong, src: "SMTP Field Manual (QQ 550 \"Mail is rejected by recipients\")"},
		{pat: "relay access denied", kind: vBlock, score: textStrong, expl: explRelay, src: "SMTP Field Manual (Apple, Proofpoint 554 5.7.1)"},
		{pat: "relaying denied", kind: vBlock, score: textStrong, expl: explRelay, src: "SMTP Field Manual (Yahoo 550, Proofpoint 550 5.7.1)"},
		{pat: "relay not permitted", kind: vBlock, score: textStrong, expl: explRelay, src: "common MTA reply text"},
		{pat: "open relay not allowed", kind: vBlock, score: textStrong, expl: explRelay, provider: "mimecast", src: "SMTP Field Manual (Mimecast 451)"},
		{pat: "ptr record", kind: vBlock, score: textStrong, expl: explPTR, src: "SMTP Field Manual (Comcast 554 PTR, Gmail 550 5.7.25)"},
		{pat: "ptr resource record", kind: vBlock, score: textStrong, expl: explPTR, src: "SMTP Field Manual (Web.de 550 \"Bad DNS PTR resource record\")"},
		{pat: "reverse dns", kind: vBlock, score: textStrong, expl: explPTR, src: "SMTP Field Manual (AT&T 550 5.7.1 \"Fix reverse DNS\")"},
		{pat: "cannot find your hostname", kind: vBlock, score: textStrong, expl: explPTR, src: "Postfix reject_unknown_client_hostname text"},
		{pat: "invalid dns mx", kind: vBlock, score: textStrong, expl: explSender, src: "SMTP Field Manual (Web.de 550 \"Invalid DNS MX or A/AAAA resource record\")"},
		{pat: "bloquee", kind: vBlock, score: textStrong, src: "SMTP Field Manual (Orange 550 \"Adresse IP source bloquee\", French text)"},
		{pat: "not in whitelist", kind: vBlock, score: textStrong, src: "common MTA reply text (allow-listed senders only)"},
		{pat: "allowed rcpthosts", kind: vBlock, score: textStrong, expl: explRelay, src: "qmail 553 \"that domain isn't in my list of allowed rcpthosts (#5.7.1)\""},
		{pat: "policy restrictions", kind: vBlock, score: textStrong, src: "SMTP Field Manual (GMX, Web.de \"Reject due to policy restrictions\")"},
		{pat: "policy reasons", kind: vBlock, score: textStrong, src: "SMTP Field Manual (Yahoo 554 5.7.9)"},
		{pat: "local policy", kind: vBlock, score: textStrong, src: "SMTP Field Manual (Apple 550 5.7.1 [CS01])"},
		{pat: "policies", kind: vBlock, score: textNormal + 5, src: "SMTP Field Manual (Mimecast 554 \"rejected due to security policies\")"},
		{pat: "policy", kind: vBlock, score: textNormal + 5, src: "docs/design.md (policy texts); DOMAIN.md (\"550 5.7.1 Rejected (policy)\")"},
		{pat: "not rfc compliant", kind: vBlock, score: textStrong, src: "SMTP Field Manual (Yahoo 554 \"Headers are not RFC compliant\")"},
		{pat: "authentication required", kind: vBlock, score: textStrong, src: "Microsoft NDR 5.7.1 RESOLVER.RST.AuthRequired"},
		{pat: "not authorized", kind: vBlock, score: textNormal, src: "RFC 3463 X.7.1 text"},
		{pat: "access denied", kind: vBlock, score: textNormal - 5, src: "SMTP Field Manual (Exchange Online 550 5.7.606 \"Access denied\")"},
		{pat: "blocked", kind: vBlock, score: textWeak + 10, src: "SMTP Field Manual (Barracuda 550 \"Blocked\")"},
		{pat: "block", kind: vBlock, score: textWeak + 5, src: "SMTP Field Manual (Trend Micro \"ERS-Customized-Block\")"},

		// The sender's own address or domain: always a block, whatever else
		// the reply says about "domain not found" or "access denied".
		{pat: "sender address rejected", kind: vSender, score: textSender, expl: explSender, src: "Postfix reject text; SMTP Field Manual (Proofpoint 550 5.1.8, Infomaniak 450 4.1.8)"},
		{pat: "sender verify failed", kind: vSender, score: textSender, expl: explSender, src: "Exim callout reply \"Sender verify failed\" (the quoted \"No Such User\" is about the sender)"},
		{pat: "domain of sender address", kind: vSender, score: textSender, expl: explSender, src: "SMTP Field Manual (Proofpoint 550 5.1.8)"},
		{pat: "sender address", kind: vSender, score: textTrap + 10, expl: explSender, src: "RFC 3463 X.1.7/X.1.8, RFC 7505 X.7.27 texts (\"Sender address has null MX\")"},
		{pat: "sender domain", kind: vSender, score: textStrong, expl: explSender, src: "SMTP Field Manual (AT&T 550 5.7.1 \"valid sender domain\")"},

		// Domain and routing.
		{pat: "domain not found", kind: vDomain, score: textStrong, src: "Postfix reject text \"Domain not found\""},
		{pat: "host not found", kind: vDomain, score: textStrong, src: "Postfix DSN \"Host or domain name not found\""},
		{pat: "name service error", kind: vDomain, score: textStrong, src: "Postfix DSN \"Name service error for name=...\""},
		{pat: "no such domain", kind: vDomain, score: textStrong, src: "common MTA reply text"},
		{pat: "domain does not exist", kind: vDomain, score: textStrong + 5, src: "common MTA reply text"},
		{pat: "nonexistent domain", kind: vDomain, score: textStrong, src: "Microsoft NDR 5.4.4 SMTPSEND.DNS.NonExistentDomain"},
		{pat: "non-existent domain", kind: vDomain, score: textStrong, src: "common MTA reply text"},
		{pat: "unrouteable address", kind: vDomain, score: textStrong, src: "Exim DSN \"Unrouteable address\""},
		{pat: "no-domain", kind: vDomain, score: textTrap, src: "SMTP Field Manual (Trend Micro 554 5.7.1 \"NO-DOMAIN\")"},
		{pat: "host not found, try again", kind: vDNS, score: textTrap + 5, src: "Postfix DSN 4.4.3 \"Name service error ... Host not found, try again\" (temporary)"},
		{pat: "null mx", kind: vNoMX, score: textTrap, src: "RFC 7505 §4 (null MX)"},
		{pat: "does not accept mail", kind: vNoMX, score: textStrong, src: "RFC 7504 §3 (521/556 texts)"},

		// Delivery that never got an answer.
		{pat: "timed out", kind: vTimeout, score: textNormal + 5, src: "Postfix DSN \"Connection timed out\""},
		{pat: "timeout", kind: vTimeout, score: textNormal + 5, src: "SMTP Field Manual (Yandex 421 4.4.2 \"timeout exceeded\")"},
		{pat: "message expired", kind: vTimeout, score: textNormal + 5, src: "Exchange 4.4.7 \"Message expired\""},
		{pat: "retry timeout exceeded", kind: vTimeout, score: textStrong, src: "Exim DSN \"retry timeout exceeded\""},
		{pat: "connection refused", kind: vConnection, score: textNormal, src: "Postfix DSN \"Connection refused\""},
		{pat: "lost connection", kind: vConnection, score: textNormal, src: "Postfix DSN \"lost connection with ...\""},
		{pat: "connection reset", kind: vConnection, score: textNormal, src: "common DSN text"},
		{pat: "no route to host", kind: vConnection, score: textNormal, src: "common DSN text"},
		{pat: "network is unreachable", kind: vConnection, score: textNormal, src: "common DSN text"},

		// Temporary trouble on the receiving side.
		{pat: "server error", kind: vTemp, score: textNormal, src: "DOMAIN.md (\"451 4.3.5 Server error (temp)\"); SMTP Field Manual (Outlook 451 4.3.2)"},
		{pat: "system error", kind: vTemp, score: textNormal, src: "SMTP Field Manual (Zoho 452 4.3.1)"},
		{pat: "temporary failure", kind: vTemp, score: textNormal, src: "SMTP Field Manual (Barracuda 421)"},
		{pat: "temporary error", kind: vTemp, score: textNormal, src: "common MTA reply text"},
		{pat: "temporarily unavailable", kind: vTemp, score: textWeak + 10, src: "SMTP Field Manual (Yahoo 451, Mimecast 451, Comcast 450)"},
		{pat: "temporarily rejected", kind: vTemp, score: textNormal, src: "SMTP Field Manual (Gmail 451 4.3.0)"},
		{pat: "temporary domain failure", kind: vTemp, score: textNormal, src: "SMTP Field Manual (Yahoo 452)"},
		{pat: "insufficient system", kind: vTemp, score: textNormal, src: "RFC 5321 §4.2.3 (452 text); SMTP Field Manual (Outlook 452 4.3.1)"},
		{pat: "temporary local problem", kind: vTemp, score: textNormal, src: "Exim 451 \"Temporary local problem - please try later\""},
		{pat: "local error in processing", kind: vTemp, score: textNormal, src: "RFC 5321 §4.2.3 (451 text)"},
		{pat: "loops back to myself", kind: vRejected, score: textNormal, src: "Postfix DSN \"mail for ... loops back to myself\""},
		{pat: "mail loop", kind: vRejected, score: textNormal, src: "common MTA reply text"},

		// Missing mailbox in the words of providers that write English as
		// a second language, and in other languages. Each is a reply text
		// seen from real servers (the bounce corpus's README names where
		// those messages come from), not an invention.
		{pat: "user not exist", kind: vNotFound, score: textStrong, src: "Asian providers' 550 \"User not exist\" (bounce corpus: McAfee gateway, Chinese providers)"},
		{pat: "user is not exist", kind: vNotFound, score: textStrong, src: "Asian providers' 550 \"user is not exist\""},
		{pat: "not exists", kind: vNotFound, score: textNormal, src: "broken-English 550 \"mailbox does not exists\""},
		{pat: "does no exist", kind: vNotFound, score: textNormal, src: "broken-English 550 \"address does no exist\""},
		{pat: "not exist", kind: vNotFound, score: textNormal, src: "broken-English 550 \"mailbox not exist\", \"recipient not exist\""},
		{pat: "please check if address is correct", kind: vNotFound, score: textNormal, src: "Trend Micro InterScan Messaging Security Suite notice \"Unable to deliver message to <a@b> (and other recipients in the same domain). Please check if address is correct.\": the writer points at the address"},
		{pat: "address couldn't be found", kind: vNotFound, score: textStrong, provider: "gmail", src: "Gmail bounce \"** Address not found ** ... because the address couldn't be found\""},
		{pat: "address not found", kind: vNotFound, score: textStrong, src: "Gmail bounce heading \"Address not found\"; common MTA text"},
		{pat: "was not delivered within", kind: vTimeout, score: textStrong, src: "au (EZweb) bounce \"Your message was not delivered within 0 days and 1 hours\""},
		{pat: "not responding", kind: vConnection, score: textNormal, src: "common MTA text \"Remote host is not responding\""},
		{pat: "in reply to mail from command", kind: vSender, score: textSender, expl: explSender, src: "Postfix DSN \"(in reply to MAIL FROM command)\": the server refused the sender (RFC 5321 \u00a74.1.1.2)"},
		{pat: "too many hops", kind: vTemp, score: textNormal, src: "Sendmail 554 5.4.6 \"Too many hops\" (a mail loop on the receiving side, RFC 3463 X.4.6)"},
		{pat: "dns lookup failure", kind: vDomain, score: textNormal, src: "DragonFly Mail Agent \"DNS lookup failure: host ... not found\""},
		{pat: "malformed or unexpected name server reply", kind: vDNS, score: textTrap + 5, src: "Postfix DSN \"Name service error ... Malformed or unexpected name server reply\": a DNS protocol failure, not a missing domain"},
		{pat: "unknown host", kind: vDomain, score: textStrong, src: "common MTA text (\"... unknown host\")"},
		{pat: "no valid recipients", kind: vNotFound, score: textNormal, src: "common MTA text (\"No valid recipients\")"},
		{pat: "could not deliver for the last", kind: vTimeout, score: textStrong, src: "DragonFly Mail Agent \"Could not deliver for the last N seconds. Giving up.\""},
		{pat: "will be retried for", kind: vTemp, score: textNormal, src: "Gmail and Zoho delay notices \"Message will be retried for N more day(s)\""},
		{pat: "no such address", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "no such person", kind: vNotFound, score: textStrong, src: "common MTA reply text (\"No such person at this address\")"},
		{pat: "no mailbox", kind: vNotFound, score: textNormal, src: "common MTA reply text (\"no mailbox by that name\")"},
		{pat: "user not known", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "unknown email address", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "not listed in domino directory", kind: vNotFound, score: textTrap, src: "Lotus Domino NDR \"User ... not listed in Domino Directory\""},
		{pat: "not listed in public name & address book", kind: vNotFound, score: textTrap, src: "Lotus Domino NDR (older releases)"},
		{pat: "recipient account is blocked", kind: vDisabled, score: textTrap, src: "Orange/La Poste 550 5.5.0 \"Le compte du destinataire est bloque. The recipient account is blocked\""},
		{pat: "compte du destinataire est bloque", kind: vDisabled, score: textTrap, src: "Orange/La Poste 550 5.5.0 (French text)"},
		{pat: "mailfolder is full", kind: vFull, score: textTrap, src: "common gateway text \"the user's mailfolder is full\""},
		{pat: "mailbox exceeded", kind: vFull, score: textTrap, src: "common MTA reply text (\"mailbox exceeded the local limit\")"},
		{pat: "host unknown", kind: vDomain, score: textStrong, src: "Sendmail \"Host unknown (Authoritative answer from name server)\""},
		{pat: "domain is not reachable", kind: vDomain, score: textStrong, src: "Outlook.com 554 \"the domain is not reachable. Please check the domain\""},
		{pat: "no mx record found", kind: vNoMX, score: textStrong, src: "Yahoo bounce \"No mx record found for domain=\""},
		{pat: "did not accept our requests to connect", kind: vConnection, score: textStrong, provider: "gmail", src: "Gmail bounce \"The recipient server did not accept our requests to connect\""},
		{pat: "host not reachable", kind: vConnection, score: textStrong, src: "Zoho bounce \"Host not reachable\""},
		{pat: "envelope expired", kind: vTimeout, score: textStrong, src: "OpenSMTPD bounce \"Envelope expired\""},
		{pat: "after multiple retries", kind: vTimeout, score: textStrong, src: "Yahoo bounce \"Unable to deliver message after multiple retries, giving up\""},
		{pat: "has been in the queue too long", kind: vTimeout, score: textNormal, src: "qmail \"this message has been in the queue too long\""},
		{pat: "service currently unavailable", kind: vTemp, score: textNormal, src: "common MTA reply text (554 \"Service currently unavailable\")"},

		// Refusals of the sender that carry recipient-looking words or
		// codes (5.1.0, 5.1.7, 5.1.8): block, never hard.
		{pat: "sender rejected", kind: vSender, score: textSender, expl: explSender, src: "Cox 550 5.1.0 \"sender rejected\" (the address named is the sender's)"},
		{pat: "invalid sender", kind: vSender, score: textSender, expl: explSender, src: "common MTA reply text (\"Invalid sender\")"},
		{pat: "sender is invalid", kind: vSender, score: textSender, expl: explSender, src: "common MTA reply text"},
		{pat: "unknown sender", kind: vSender, score: textSender, expl: explSender, src: "common MTA reply text (\"Unknown sender\")"},
		{pat: "sender unknown", kind: vSender, score: textSender, expl: explSender, src: "common MTA reply text"},
		{pat: "disabled for sending", kind: vSender, score: textSender, expl: explSender, src: "provider text \"account disabled for sending\" (the sending account)"},
		{pat: "sender not allowed", kind: vSender, score: textSender, expl: explSender, src: "common MTA reply text"},
		{pat: "not allowed to send", kind: vSender, score: textSender, expl: explSender, src: "common MTA reply text (\"you are not allowed to send\")"},
		{pat: "after mail from", kind: vSender, score: textSender, expl: explSender, src: "Exim \"SMTP error from remote mail server after MAIL FROM:\": the MAIL command, the sender, was refused (RFC 5321 \u00a74.1.1.2)"},
		{pat: "mail from: rejected", kind: vSender, score: textSender, expl: explSender, src: "common MTA text: the MAIL command was refused"},
		{pat: "identities failed the check", kind: vSender, score: textSender, expl: explSender, src: "Amazon SES 554 \"Email address is not verified. The following identities failed the check\""},
		{pat: "send mail as", kind: vSender, score: textSender, expl: explSender, src: "Google Workspace bounce about the 'Send mail as' alias of the sender"},
		{pat: "not a member of", kind: vSender, score: textTrap, expl: explSender, src: "mailing list software (fml, Mailman) \"You are not a member of this mailing list\": the sender may not post"},
		{pat: "not have permission to post", kind: vSender, score: textTrap, expl: explSender, src: "Google Groups bounce \"you may not have permission to post\""},
		{pat: "excessive unknown recipients", kind: vBlock, score: textSender, src: "anti-abuse reply: the sender sent to too many unknown addresses (a sender reputation block)"},
		{pat: "too many invalid recipients", kind: vBlock, score: textSender, src: "anti-abuse reply: the sender sent to too many unknown addresses"},
		{pat: "client host rejected", kind: vBlock, score: textTrap, src: "Postfix reject text \"Client host rejected\" (the sending host)"},
		{pat: "refused to talk to me", kind: vBlock, score: textNormal, src: "Postfix DSN \"host ... refused to talk to me\": the server refused the sending host at its greeting"},
		{pat: "but my name was rejected", kind: vBlock, score: textTrap + 5, expl: explPTR, src: "qmail-remote \"Connected to ... but my name was rejected.\": the server refused the sending host's HELO name (RFC 5321 \u00a74.1.1.1), whatever else the bounce says"},
		{pat: "but sender was rejected", kind: vSender, score: textSender, expl: explSender, src: "qmail-remote \"Connected to ... but sender was rejected.\": the MAIL command, the sender, was refused"},
		{pat: ">>> mail from:", kind: vSender, score: textSender, expl: explSender, src: "Sendmail transcript \">>> MAIL From:<...>\" followed by the server's \"<<<\" refusal: the MAIL command, the sender, was refused (RFC 5321 \u00a74.1.1.2)"},
		{pat: ">>> data <<< 5", kind: vBlock, score: textWeak, expl: explContent, src: "Sendmail transcript \">>> DATA\" then \"<<< 5xx\": the recipient was accepted at RCPT and the message refused (RFC 5321 \u00a74.1.1.4); a hint only, a reason the text names wins"},
		{pat: "after end of data", kind: vBlock, score: textWeak, expl: explContent, src: "Exim \"SMTP error from remote mail server after end of data\": the recipient was accepted at RCPT and the message refused (RFC 5321 \u00a74.1.1.4); a hint only, a reason the text names wins"},
		{pat: "in reply to end of data command", kind: vBlock, score: textWeak, expl: explContent, src: "Postfix \"(in reply to end of DATA command)\": the recipient was accepted at RCPT and the message refused; a hint only"},
		{pat: "line limit exceeded", kind: vSize, score: textTrap, src: "RFC 5321 \u00a74.5.3.1.6 \"500 Line too long\": a line of the message is over the limit; the message, not the address"},
		{pat: "line too long", kind: vSize, score: textTrap, src: "RFC 5321 \u00a74.5.3.1.6 \"500 Line too long\""},
		{pat: "duplicated message-id", kind: vTemp, score: textStrong, src: "fml mailing list manager \"Loop Alert: Duplicated Message-ID\": the list dropped the message as a loop, on the receiving side"},
		{pat: "could not find a gateway", kind: vConnection, score: textNormal, src: "MTA routing failure \"Routing: Could not find a gateway for <addr>\" (no next hop found, on the sending side)"},
		{pat: "mismatches client ip", kind: vBlock, score: textStrong, expl: explPTR, src: "Outlook.com 550 \"domain [...] mismatches client ip\""},
		{pat: "invalid ip for sending", kind: vBlock, score: textStrong, src: "Yahoo 554 \"INVALID IP FOR SENDING MAIL OF DOMAIN\""},
		{pat: "network not allowed", kind: vBlock, score: textStrong, provider: "mimecast", src: "Mimecast 554 \"Host network not allowed\""},
		{pat: "content rejected", kind: vBlock, score: textStrong, expl: explContent, src: "Amazon SES 500 5.6.1 \"Message content rejected\""},
		{pat: "improper use of 8-bit data", kind: vBlock, score: textStrong, expl: explContent, src: "Sendmail 550 5.6.9 \"improper use of 8-bit data in message header\""},
		{pat: "headers too large", kind: vBlock, score: textTrap, expl: explContent, src: "Sendmail 552 5.6.0 \"Headers too large\""},
		{pat: "con:b1", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "AOL postmaster error code CON:B1 (the sending IP is blocked)"},
		{pat: "rly:b1", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "AOL postmaster error code RLY:B1 (the sending IP is blocked)"},
		{pat: "rly:b2", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "AOL postmaster error code RLY:B2 (the sending IP is blocked)"},
		{pat: "rly:b3", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "AOL postmaster error code RLY:B3 (the sending IP is blocked)"},
		{pat: "rtr:bb", kind: vBlock, score: textTrap + 5, provider: "yahoo", expl: explBlocklist, src: "AOL postmaster error code RTR:BB (the sending IP is on a blocklist)"},

		// Provider markers (no verdict): they only name who answered.
		{pat: "gsmtp", provider: "gmail", src: "Google replies end in \"- gsmtp\""},
		{pat: "google.com", provider: "gmail", src: "Google reply help links (support.google.com, mail.google.com)"},
		{pat: "gmail", provider: "gmail", src: "provider name"},
		{pat: "googlemail", provider: "gmail", src: "provider name"},
		{pat: "outlook.com", provider: "microsoft", src: "Microsoft reply host names (protection.outlook.com)"},
		{pat: "hotmail", provider: "microsoft", src: "provider name"},
		{pat: "live.com", provider: "microsoft", src: "Microsoft postmaster links"},
		{pat: "office365", provider: "microsoft", src: "provider name"},
		{pat: "microsoft", provider: "microsoft", src: "provider name"},
		{pat: "sender.office.com", provider: "microsoft", src: "Microsoft delist portal link"},
		{pat: "resolver.adr", provider: "microsoft", src: "Exchange NDR component names"},
		{pat: "resolver.rst", provider: "microsoft", src: "Exchange NDR component names"},
		{pat: "storedrv", provider: "microsoft", src: "Exchange NDR component names"},
		{pat: "yahoo", provider: "yahoo", src: "provider name"},
		{pat: "aol.com", provider: "yahoo", src: "AOL mail is run by Yahoo"},
		{pat: "icloud", provider: "apple", src: "provider name"},
		{pat: "@me.com", provider: "apple", src: "Apple mail domain"},
		{pat: " me.com", provider: "apple", src: "SMTP Field Manual (Apple 421 \"me.com Error\")"},
		{pat: "@mac.com", provider: "apple", src: "Apple mail domain"},
		{pat: "support.apple.com", provider: "apple", src: "Apple reply help links"},
		{pat: "comcast", provider: "comcast", src: "provider name"},
		{pat: "gmx", provider: "gmx", src: "provider name (gmx.net, mxgmx host names)"},
		{pat: "web.de", provider: "web.de", src: "provider name"},
		{pat: "mxweb", provider: "web.de", src: "Web.de MX host names"},
		{pat: "mail.ru", provider: "mail.ru", src: "provider name"},
		{pat: "yandex", provider: "yandex", src: "provider name"},
		{pat: "ya.cc", provider: "yandex", src: "Yandex help short links"},
		{pat: "qq.com", provider: "qq", src: "provider name (qq.com, exmail.qq.com)"},
		{pat: "zoho", provider: "zoho", src: "provider name"},
		{pat: "proofpoint", provider: "proofpoint", src: "gateway name"},
		{pat: "pphosted", provider: "proofpoint", src: "Proofpoint hosted MX names (pphosted.com)"},
		{pat: "mimecast", provider: "mimecast", src: "gateway name"},
		{pat: "cuda_nsu", provider: "barracuda", src: "SMTP Field Manual (Barracuda 550 \"cuda_nsu\")"},
		{pat: "barracuda networks", provider: "barracuda", src: "gateway name"},
	}
	rs = append(rs, deliveryRules()...)
	return append(rs, languageRules()...)
}

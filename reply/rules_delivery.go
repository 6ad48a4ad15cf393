package reply

// Texts of the reporting side and of the remote side that the first table
// has no words for: a delivery given up after retries, trouble inside the
// receiving system, routing, the message's form and content, the sending
// host, moved and closed mailboxes. Added in round 3 of issue 12 (see
// bounce/README.md); each names where its wording comes from.

// explMalformed explains a refusal of the way the message wrote an address.
const explMalformed = "The message wrote the address in a malformed way, so the mail system ignored it; fix the sending software. The mailbox itself may be fine."

func deliveryRules() []rule {
	return []rule{
		// Given up after retrying: the message expired in the queue (RFC 3463
		// X.4.7), which says nothing about the address.
		{pat: "have been failing for a long time", kind: vTimeout, score: textStrong, src: "Exim DSN \"all hosts for 'domain' have been failing for a long time (and retry time not reached)\""},
		{pat: "retry time not reached", kind: vTimeout, score: textNormal, src: "Exim DSN \"retry time not reached for any host\""},
		{pat: "could not be delivered for", kind: vTimeout, score: textStrong, src: "Sendmail DSN \"Message could not be delivered for 5 days\""},
		{pat: "cannot send message for", kind: vTimeout, score: textStrong, src: "Sendmail DSN \"Cannot send message for 5 days\""},
		{pat: "delivery time expired", kind: vTimeout, score: textStrong, src: "RFC 3463 X.4.7 text \"Delivery time expired\"; Lotus Domino NDR"},
		{pat: "delivery expired", kind: vTimeout, score: textStrong, src: "common MTA DSN text \"Delivery expired (message too old)\""},
		{pat: "time in queue", kind: vTimeout, score: textNormal, src: "common MTA DSN text \"maximum time in queue exceeded\""},
		{pat: "expired in queue", kind: vTimeout, score: textStrong, src: "Exchange NDR \"the message expired in queue\""},
		{pat: "giving up", kind: vTimeout, score: textWeak + 10, src: "MTA DSN texts \"... giving up\" (qmail, Yahoo, DragonFly): delivery was abandoned; a reason named beside it wins"},
		{pat: " attempts", kind: vTimeout, score: textWeak + 10, src: "MTA DSN texts \"Delivery failed 20 attempts\", \"after repeated attempts\": abandoned after retries; a reason named beside it wins"},

		// Trouble inside the receiving system (RFC 3463 X.3.x): soft.
		{pat: "configuration error", kind: vTemp, score: textNormal, src: "Exim/Sendmail \"local configuration error\", RFC 3463 X.3.5 \"System incorrectly configured\""},
		{pat: "internal error", kind: vTemp, score: textNormal, src: "common MTA reply text \"554 5.3.0 Internal error\""},
		{pat: "write error", kind: vTemp, score: textNormal, src: "Postfix \"451 4.3.0 Error: queue file write error\""},
		{pat: "no space left on device", kind: vTemp, score: textNormal, src: "POSIX ENOSPC text in local delivery failures"},
		{pat: "out of memory", kind: vTemp, score: textNormal, src: "common MTA reply text"},
		{pat: "permission denied", kind: vTemp, score: textNormal, src: "POSIX EACCES text in local delivery failures (the mailbox file could not be written)"},
		{pat: "command died with status", kind: vTemp, score: textNormal, src: "Postfix pipe/local(8) DSN \"Command died with status N\" (a delivery program failed)"},
		{pat: "local delivery failed", kind: vTemp, score: textNormal, src: "common MTA DSN text"},

		// Routing and the network path (RFC 3463 X.4.x): soft.
		{pat: "could not connect", kind: vConnection, score: textNormal, src: "common MTA DSN text \"could not connect to host\""},
		{pat: "unable to connect", kind: vConnection, score: textNormal, src: "common MTA DSN text"},
		{pat: "host is unreachable", kind: vConnection, score: textNormal, src: "POSIX EHOSTUNREACH text in DSNs"},
		{pat: "network unreachable", kind: vConnection, score: textNormal, src: "common DSN text"},
		{pat: "closed connection", kind: vConnection, score: textNormal, src: "common DSN text \"remote host closed connection\""},
		{pat: "connection dropped", kind: vConnection, score: textNormal, src: "common DSN text"},
		{pat: "name or service not known", kind: vDomain, score: textNormal, src: "getaddrinfo EAI_NONAME text \"Name or service not known\" in DSNs: the host name does not resolve"},

		// Moved and closed mailboxes: the address is no longer good.
		{pat: "user not local", kind: vNotFound, score: textStrong, src: "RFC 5321 §4.2.3 551 \"User not local; please try <forward-path>\" (the user is elsewhere now)"},
		{pat: "has moved", kind: vNotFound, score: textStrong, src: "RFC 3463 X.1.6 \"Destination mailbox has moved, No forwarding address\""},
		{pat: "no forwarding address", kind: vNotFound, score: textStrong, src: "RFC 3463 X.1.6 text"},
		{pat: "no such local user", kind: vNotFound, score: textStrong, src: "common MTA reply text \"No such local user\""},
		{pat: "bad destination mailbox", kind: vNotFound, score: textStrong, src: "RFC 3463 X.1.1 text \"Bad destination mailbox address\""},
		{pat: "not a valid mailbox", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "does not have an account", kind: vNotFound, score: textStrong, src: "provider reply text \"This user does not have an account here\""},
		{pat: "unknown account", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "account not found", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "no longer exists", kind: vNotFound, score: textStrong, src: "common MTA reply text \"this address no longer exists\""},
		{pat: "mailbox unknown", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "unknown alias", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "no such email", kind: vNotFound, score: textStrong, src: "common MTA reply text \"No such email address\""},
		{pat: "mailbox not available", kind: vNotFound, score: textNormal, src: "RFC 5321 §4.2.3 550 \"mailbox unavailable\" in other words"},
		{pat: "account closed", kind: vDisabled, score: textStrong, src: "common MTA reply text"},
		{pat: "account has been closed", kind: vDisabled, score: textStrong, src: "common MTA reply text"},
		{pat: "mailbox closed", kind: vDisabled, score: textStrong, src: "common MTA reply text"},
		{pat: "account expired", kind: vDisabled, score: textNormal, src: "common MTA reply text"},
		{pat: "account is locked", kind: vDisabled, score: textNormal, src: "common MTA reply text (a locked, suspended mailbox)"},
		{pat: "account locked", kind: vDisabled, score: textNormal, src: "common MTA reply text"},
		{pat: "not active", kind: vDisabled, score: textNormal, src: "common MTA reply text \"mailbox not active\""},
		{pat: "malformed address", kind: vSyntax, score: textNormal, src: "Exim/Sendmail \"501 <a@b>: malformed address: ...\": the recipient address cannot be parsed"},
		{pat: "this address has been ignored", kind: vBlock, score: textStrong, expl: explMalformed, src: "Exim \"malformed address: <a@b> may not follow ... This address has been ignored\": Exim's complaint about how the message's header wrote an address; the mailbox itself may be fine, the sending software must change"},
		{pat: "mailbox has exceeded", kind: vFull, score: textTrap, src: "common MTA reply text \"mailbox has exceeded its limit\""},
		{pat: "full mailbox", kind: vFull, score: textTrap, src: "common MTA reply text"},
		{pat: "mail box full", kind: vFull, score: textTrap, src: "common MTA reply text"},
		{pat: "account is full", kind: vFull, score: textTrap, src: "common MTA reply text"},
		{pat: "storage space", kind: vFull, score: textTrap, src: "Gmail 452 4.2.2 \"The recipient's inbox is out of storage space\""},
		{pat: "allowed storage", kind: vFull, score: textTrap, src: "common MTA reply text \"Mailbox would exceed maximum allowed storage\""},

		// The message's form or content (RFC 3463 X.6.x), or the protocol
		// the sender spoke: the sending side must change, not the address.
		{pat: "media error", kind: vBlock, score: textNormal, expl: explContent, src: "RFC 3463 X.6.0 text \"Other or undefined media error\""},
		{pat: "unacceptable content", kind: vBlock, score: textStrong, expl: explContent, src: "common MTA reply text"},
		{pat: "content filter", kind: vBlock, score: textStrong, expl: explContent, src: "common gateway reply text"},
		{pat: "message filtered", kind: vBlock, score: textNormal, expl: explContent, src: "common gateway reply text \"Message Filtered\""},
		{pat: "duplicate header", kind: vBlock, score: textStrong, expl: explContent, src: "RFC 5322 §3.6 (fields that may appear once)"},
		{pat: "rfc 5322", kind: vBlock, score: textStrong, expl: explContent, src: "gateway replies \"message is not RFC 5322 compliant\""},
		{pat: "rfc5322", kind: vBlock, score: textStrong, expl: explContent, src: "gateway replies"},
		{pat: "rfc 2822", kind: vBlock, score: textStrong, expl: explContent, src: "gateway replies \"not RFC 2822 compliant\""},
		{pat: "rfc2822", kind: vBlock, score: textStrong, expl: explContent, src: "gateway replies"},
		{pat: "protocol violation", kind: vBlock, score: textNormal, src: "common MTA reply text \"Protocol violation\" (the sending client broke SMTP's rules, e.g. spoke before the greeting)"},
		{pat: "starttls", kind: vBlock, score: textStrong, src: "RFC 3207 \"530 5.7.0 Must issue a STARTTLS command first\": the receiver requires TLS of the sender"},
		{pat: "tls required", kind: vBlock, score: textStrong, src: "RFC 3207, RFC 8689 (TLS required of the sender)"},
		{pat: "encryption required", kind: vBlock, score: textStrong, src: "RFC 5248 X.7.10/X.7.11 texts"},

		// The sending host or its relay.
		{pat: "helo command rejected", kind: vBlock, score: textSender, expl: explPTR, src: "Postfix \"Helo command rejected: ...\": the sending host's HELO name was refused, whatever the rest says (\"Host not found\" is about that name)"},
		{pat: "dynamic ip", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text \"Your IP is dynamic; please use your ISP's relay\""},
		{pat: "dynamic range", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text"},
		{pat: "dynamically assigned", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text"},
		{pat: "dynamic address", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text"},
		{pat: "dialup", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text (dial-up address ranges)"},
		{pat: "dial-up", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text"},
		{pat: "residential", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text (residential address ranges)"},
		{pat: "service refus", kind: vBlock, score: textStrong, src: "greeting refusals \"Service refused\" / French \"Service refusé\" (La Poste 421 4.2.1 \"Service refuse ... Service refused, please try later\"): the server refused to serve the sending host, whatever the code says"},
		{pat: "we do not relay", kind: vBlock, score: textStrong, expl: explRelay, src: "common MTA reply text"},
		{pat: "not a gateway", kind: vBlock, score: textStrong, expl: explRelay, src: "Sendmail \"550 ... not local host ..., not a gateway\""},
		{pat: "relaying not allowed", kind: vBlock, score: textStrong, expl: explRelay, src: "common MTA reply text"},
		{pat: "relay denied", kind: vBlock, score: textStrong, expl: explRelay, src: "common MTA reply text"},
		{pat: "not permitted to relay", kind: vBlock, score: textStrong, expl: explRelay, src: "common MTA reply text"},
		{pat: "unable to relay", kind: vBlock, score: textStrong, expl: explRelay, src: "Exchange 550 5.7.1 \"Unable to relay\""},
		{pat: "banned", kind: vBlock, score: textNormal, src: "common reply text \"you are banned\""},

		// Further wordings of the common MTAs and providers.
		{pat: "could not send message for", kind: vTimeout, score: textStrong, src: "Sendmail delay notice \"Warning: could not send message for past 4 hours\""},
		{pat: "time limit exceeded", kind: vTimeout, score: textNormal, src: "Postfix \"Command time limit exceeded\""},
		{pat: "unknown mailer error", kind: vTemp, score: textNormal, src: "Sendmail DSN \"unknown mailer error N\" (the local delivery program failed)"},
		{pat: "mail transport unavailable", kind: vTemp, score: textNormal, src: "Postfix DSN \"mail transport unavailable\" (a receiving-side configuration problem)"},
		{pat: "temporary lookup failure", kind: vTemp, score: textNormal, src: "Postfix 451 4.3.0 \"Temporary lookup failure\" (a table lookup on the receiving side)"},
		{pat: "mailbox busy", kind: vTemp, score: textNormal, src: "RFC 5321 §4.2.3 450 \"mailbox unavailable (e.g., mailbox busy ...)\""},
		{pat: "host lookup did not complete", kind: vDNS, score: textNormal, src: "Exim DSN \"host lookup did not complete\" (a temporary DNS failure)"},
		{pat: "dns query failed", kind: vDNS, score: textNormal, src: "Exchange NDR 5.4.312 \"DNS query failed\""},
		{pat: "servfail", kind: vDNS, score: textNormal, src: "RFC 1035 RCODE 2 name, in DSN texts"},
		{pat: "establish an smtp connection", kind: vConnection, score: textStrong, src: "qmail \"Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\""},
		{pat: "connection died", kind: vConnection, score: textNormal, src: "qmail \"Connected to ... but connection died. (#4.4.2)\""},
		{pat: "greeting failed", kind: vConnection, score: textNormal, src: "qmail \"Connected to ... but greeting failed.\""},
		{pat: "couldn't find any host", kind: vDomain, score: textNormal, src: "qmail \"Sorry, I couldn't find any host named ... (#5.1.2)\""},
		{pat: "couldn't find a mail exchanger", kind: vNoMX, score: textStrong, src: "qmail \"Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\""},
		{pat: "point to non-existent hosts", kind: vNoMX, score: textNormal, src: "Exim \"all relevant MX records point to non-existent hosts\""},
		{pat: "no such host", kind: vDomain, score: textStrong, src: "common resolver text \"no such host\""},
		{pat: "unknown domain", kind: vDomain, score: textStrong, src: "common MTA reply text \"Unknown domain\""},
		{pat: "no longer accepts mail", kind: vDisabled, score: textStrong, src: "qmail bouncesaying \"This address no longer accepts mail.\""},
		{pat: "undeliverable address", kind: vNotFound, score: textNormal, src: "Postfix reject_unverified_recipient \"Recipient address rejected: undeliverable address\""},
		{pat: "not a valid recipient", kind: vNotFound, score: textStrong, src: "common MTA reply text"},
		{pat: "unknown local-part", kind: vNotFound, score: textStrong, src: "Exim reply text \"Unknown local-part\""},
		{pat: "need fully-qualified address", kind: vSyntax, score: textNormal, src: "Postfix reject_non_fqdn_recipient \"Recipient address rejected: need fully-qualified address\" (the sender's form is caught by \"sender address\")"},
		{pat: "fully-qualified hostname", kind: vBlock, score: textStrong, expl: explPTR, src: "Postfix reject_non_fqdn_helo_hostname \"need fully-qualified hostname\""},
		{pat: "reverse lookup", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text \"reverse lookup failed\""},
		{pat: "rdns", kind: vBlock, score: textStrong, expl: explPTR, src: "common reply text (rDNS)"},
		{pat: " rbl", kind: vBlock, score: textStrong, expl: explBlocklist, src: "common reply text \"listed in RBL\""},
		{pat: "black-listed", kind: vBlock, score: textStrong, expl: explBlocklist, src: "common reply text"},
		{pat: "domainkeys", kind: vBlock, score: textStrong, expl: explAuth, src: "DomainKeys (RFC 4870) failure texts"},
		{pat: "bulk mail", kind: vBlock, score: textStrong, expl: explContent, src: "common reply text"},
		{pat: "junk mail", kind: vBlock, score: textStrong, expl: explContent, src: "common reply text"},
		{pat: "phish", kind: vBlock, score: textStrong, expl: explContent, src: "common reply text"},
		{pat: "malware", kind: vBlock, score: textStrong, expl: explContent, src: "common reply text"},
		{pat: "infected", kind: vBlock, score: textStrong, expl: explContent, src: "common reply text \"message infected\""},
		{pat: "attachment", kind: vBlock, score: textNormal, expl: explContent, src: "common reply text \"executable attachment\", \"attachment not allowed\"; a size named beside it wins"},
		{pat: "security issue", kind: vBlock, score: textStrong, expl: explContent, src: "Gmail 552 5.7.0 \"content presents a potential security issue\""},
		{pat: "sender denied", kind: vSender, score: textSender, expl: explSender, src: "Exchange \"550 5.1.0 Sender denied\" (5.1.0 here is about the sender)"},
		{pat: "sender blocked", kind: vSender, score: textSender, expl: explSender, src: "common reply text \"Sender blocked\""},
		{pat: "sender is blocked", kind: vSender, score: textSender, expl: explSender, src: "common reply text"},
		{pat: "bad outbound sender", kind: vSender, score: textSender, expl: explSender, src: "Exchange Online 550 5.1.8 \"Access denied, bad outbound sender\""},
		{pat: "submission quota", kind: vRate, score: textTrap + 5, src: "Exchange 550 5.2.2 \"Submission quota exceeded\" (the sender's limit, not a full mailbox)"},
		{pat: "recipsizelimit", kind: vSize, score: textTrap, provider: "microsoft", src: "Exchange NDR 5.2.3 RESOLVER.RST.RecipSizeLimit"},

		// Written blind (reply/testdata/blind.tsv, tuned part), round 3.
		{pat: "no this user", kind: vNotFound, score: textStrong, src: "broken-English 550 \"No this user\""},
		{pat: "wasn't found at", kind: vNotFound, score: textStrong, provider: "microsoft", src: "Office 365 NDR \"<user> wasn't found at <domain>.\""},
		{pat: "user suspended", kind: vDisabled, score: textStrong, src: "common MTA reply text \"User suspended\""},
		{pat: "mailbox suspended", kind: vDisabled, score: textStrong, src: "common MTA reply text"},
		{pat: "domain missing", kind: vSyntax, score: textNormal, src: "Sendmail/Postfix \"domain missing or malformed\" (the address has no valid domain part)"},
		{pat: "name lookup failure", kind: vDNS, score: textNormal, src: "Sendmail \"Deferred: Name server: ...: host name lookup failure\""},
		{pat: "network error", kind: vConnection, score: textNormal, src: "common DSN text \"Network error on destination MXs\""},
		{pat: "relay dynamic", kind: vBlock, score: textStrong, expl: explPTR, provider: "microsoft", src: "Outlook.com DY-001 \"Hotmail does not relay dynamically-assigned IP ranges\""},
		{pat: "(bl)", kind: vBlock, score: textTrap, expl: explBlocklist, src: "T-Online 554 \"IP=... - A problem occurred. (Ask your postmaster for help ...) (BL)\": the sending IP is on T-Online's blocklist"},
		{pat: "unresolvable rfc.5321 from", kind: vSender, score: textSender, expl: explSender, provider: "mimecast", src: "Mimecast 451 \"Message temporarily deferred due to unresolvable RFC.5321 from address\" (the sender's domain)"},
		{pat: "authorized recipients", kind: vBlock, score: textNormal, src: "Mailgun \"Sandbox subdomains are for test purposes only ... add the address to authorized recipients\" (the sending account's restriction)"},
		{pat: "may not exist, they may be blacklisted", kind: vRejected, score: textTrap, src: "cPanel/Exim 550 \"The account or domain may not exist, they may be blacklisted, or missing the proper dns entries\": it names several causes, so nothing definite"},
		{pat: "dns domain", kind: vDomain, score: textStrong + 5, src: "Exchange NDR 5.4.310 \"DNS domain <domain> does not exist\""},
		{pat: "because the domain", kind: vDomain, score: textStrong + 5, provider: "gmail", src: "Gmail bounce \"Your message wasn't delivered to <a@b> because the domain <b> couldn't be found\""},
		{pat: "mailbox address syntax", kind: vSyntax, score: textTrap, src: "RFC 3463 X.1.3 text \"Bad destination mailbox address syntax\""},
		{pat: "overlimit", kind: vRate, score: textStrong, src: "common reply text \"Sender rate overlimit\""},

		// Written blind (reply/testdata/blind3.tsv), after blind2.tsv was measured.
		{pat: "invalid user", kind: vNotFound, score: textStrong, src: "common MTA reply text \"550 Invalid User\" (Sohu and others)"},
		{pat: "no mx record", kind: vNoMX, score: textStrong, src: "provider bounce texts \"Domain ... has no MX record and no A record\""},
		{pat: "délai de remise", kind: vTimeout, score: textStrong, src: "French DSN text \"délai de remise expiré\" (delivery time expired)"},
		{pat: "content restrictions", kind: vBlock, score: textStrong, expl: explContent, src: "common gateway reply \"Message rejected due to content restrictions\""},

		// Written blind (bounce/testdata/blind, whole messages).
		{pat: "no longer has an active", kind: vDisabled, score: textStrong, src: "Facebook 550 5.1.1 RCP-P4 \"The attempted recipient no longer has an active Facebook email account\""},
		{pat: "no mx for", kind: vNoMX, score: textStrong, src: "Mailgun delivery-status text \"No MX for [domain]\""},
	}
}

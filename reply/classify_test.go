package reply

import (
	"testing"

	"github.com/preflight-email/preflight/outcome"
)

// TestDesignRules checks each rule of docs/design.md "Reading SMTP replies" and
// of the brief one reply at a time.
func TestDesignRules(t *testing.T) {
	tests := []struct {
		in     string
		class  Class
		reason outcome.Reason
		action Action
	}{
		// 2xx is not a bounce.
		{"250 2.1.5 Ok", Unknown, outcome.Accepted, Review},
		{"2.0.0", Unknown, outcome.Accepted, Review},
		// Missing mailbox.
		{"550 5.1.1 whatever", Hard, outcome.MailboxNotFound, Suppress},
		{"550 5.1.0 whatever", Hard, outcome.MailboxNotFound, Suppress},
		{"550 5.1.10 whatever", Hard, outcome.MailboxNotFound, Suppress},
		{"550 user unknown", Hard, outcome.MailboxNotFound, Suppress},
		{"550 Recipient does not exist", Hard, outcome.MailboxNotFound, Suppress},
		{"550 No such user", Hard, outcome.MailboxNotFound, Suppress},
		{"550 mailbox unavailable", Hard, outcome.MailboxNotFound, Suppress},
		{"550 5.5.0 Requested action not taken: mailbox unavailable", Hard, outcome.MailboxNotFound, Suppress},
		{"550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", Hard, outcome.MailboxNotFound, Suppress},
		// Disabled mailbox.
		{"550 5.2.1 whatever", Hard, outcome.MailboxDisabled, Suppress},
		{"521 5.2.1 Mailbox disabled", Hard, outcome.MailboxDisabled, Suppress},
		// Full mailbox: soft, the mailbox exists.
		{"452 4.2.2 whatever", Soft, outcome.MailboxFull, Retry},
		{"552 5.2.2 whatever", Soft, outcome.MailboxFull, Retry},
		{"552 Requested mail action aborted: mailbox full", Soft, outcome.MailboxFull, Retry},
		{"550 user over quota", Soft, outcome.MailboxFull, Retry},
		// A big message is not an address problem.
		{"552 5.3.4 Message size exceeds fixed limit", Soft, outcome.SMTPRejected, Review},
		{"552 message size exceeds maximum", Soft, outcome.SMTPRejected, Review},
		// Blocks are never hard.
		{"550 5.7.1 whatever", Block, outcome.Blocked, FixSender},
		{"550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using zen.spamhaus.org", Block, outcome.Blocked, FixSender},
		{"550 5.2.0 Message rejected due to DMARC", Block, outcome.Blocked, FixSender},
		{"421 4.7.0 [TSS04] Messages from 0.0.0.0 temporarily deferred due to user complaints", Block, outcome.Blocked, FixSender},
		{"550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. (S3150)", Block, outcome.Blocked, FixSender},
		{"550 Client host blocked by Barracuda Reputation, see barracudacentral.org", Block, outcome.Blocked, FixSender},
		{"554 Rejected by Proofpoint: blocked using prs.proofpoint.com", Block, outcome.Blocked, FixSender},
		{"550 Rejected by Mimecast: envelope blocked", Block, outcome.Blocked, FixSender},
		{"550 5.7.1 SPF check failed", Block, outcome.Blocked, FixSender},
		{"550 5.7.1 DKIM signature invalid", Block, outcome.Blocked, FixSender},
		{"550 sender reputation too low", Block, outcome.Blocked, FixSender},
		{"550 5.7.1 Rejected (policy)", Block, outcome.Blocked, FixSender},
		// Greylisting.
		{"450 4.7.1 whatever", Soft, outcome.Greylisted, Retry},
		{"451 4.7.1 whatever", Soft, outcome.Greylisted, Retry},
		{"451 4.7.1 Service unavailable - try again later", Soft, outcome.Greylisted, Retry},
		{"450 Greylisted, come back in 5 minutes", Soft, outcome.Greylisted, Retry},
		{"451 try again later", Soft, outcome.Greylisted, Retry},
		// Rate limiting.
		{"421 Service not available", Soft, outcome.RateLimited, Retry},
		{"421 try again later", Soft, outcome.RateLimited, Retry},
		{"421 4.7.0 whatever", Soft, outcome.RateLimited, Retry},
		{"450 4.7.0 rate limit exceeded", Soft, outcome.RateLimited, Retry},
		{"451 too many connections", Soft, outcome.RateLimited, Retry},
		{"421 4.7.28 unusual rate of unsolicited mail", Soft, outcome.RateLimited, Retry},
		// Conservative defaults.
		{"550 Requested action not taken", Unknown, outcome.SMTPRejected, Review},
		{"554", Unknown, outcome.SMTPRejected, Review},
		{"451 4.3.5 Server error (temp)", Soft, outcome.SMTPRejected, Retry},
		{"450", Soft, outcome.SMTPRejected, Retry},
		{"", Unknown, outcome.SMTPRejected, Review},
		// Traps: 5xx that is temporary, 4xx that is permanent.
		{"550 5.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages", Soft, outcome.RateLimited, Retry},
		{"550 Ip frequency limited", Soft, outcome.RateLimited, Retry},
		{"552 5.1.1 Recipient overquota", Soft, outcome.MailboxFull, Retry},
		{"450 4.1.1 <a@b>: Recipient address rejected: User unknown in local recipient table", Hard, outcome.MailboxNotFound, Suppress},
		{"451 Invalid Recipient", Hard, outcome.MailboxNotFound, Suppress},
		{"450 Requested mail action not taken: mailbox unavailable", Soft, outcome.SMTPRejected, Retry},
		{"450 4.1.1 <a@b>: Recipient address rejected: unverified address: Address verification in progress", Soft, outcome.SMTPRejected, Retry},
		{"550 5.7.1 No such user!", Hard, outcome.MailboxNotFound, Suppress},
		{"550 5.2.1 This mailbox has been blocked due to inactivity", Hard, outcome.MailboxDisabled, Suppress},
		{"550 5.1.8 <s@example.com>: Sender address rejected: Domain not found", Block, outcome.Blocked, FixSender},
		{"550-Verification failed for <s@example.com>\r\n550-No Such User Here\r\n550 Sender verify failed", Block, outcome.Blocked, FixSender},
	}
	for _, tt := range tests {
		d := ClassifyText(tt.in)
		if d.Class != tt.class || d.Reason != tt.reason || d.Action != tt.action {
			t.Errorf("ClassifyText(%q) = %s/%s/%s, want %s/%s/%s",
				tt.in, d.Class, d.Reason, d.Action, tt.class, tt.reason, tt.action)
		}
	}
}

func TestClassifyKeepsCodes(t *testing.T) {
	d := Classify(Reply{Code: 550, Enhanced: "5.1.1", Text: "x"})
	if d.Code != 550 || d.Enhanced != "5.1.1" {
		t.Errorf("Diagnosis codes = %d %q, want 550 \"5.1.1\"", d.Code, d.Enhanced)
	}
}

func TestProviderAndBlocklist(t *testing.T) {
	tests := []struct {
		in                  string
		provider, blocklist string
	}{
		{"550 5.1.1 ... - gsmtp", "gmail", ""},
		{"550 5.7.1 (S3150) [x.prod.protection.outlook.com]", "microsoft", ""},
		{"421 4.7.0 [TSS04] deferred", "yahoo", ""},
		{"550 5.1.1 <a@icloud.com>: user does not exist", "apple", ""},
		{"554 resimta comcast Comcast block for spam", "comcast", ""},
		{"554-gmx.net (mxgmx017) IP address is block listed", "gmx", ""},
		{"550 see https://postmaster.web.de/en/case", "web.de", ""},
		{"550 spam message rejected http://help.mail.ru/notspam", "mail.ru", ""},
		{"554 5.7.1 [2] spam; https://ya.cc/1IrBc", "yandex", ""},
		{"550 Mailbox not found. http://service.exmail.qq.com/cgi-bin/help", "qq", ""},
		{"550 5.7.1 Email rejected per DMARC policy for zoho.com", "zoho", ""},
		{"550 5.7.1 blocked (mx0a-001.pphosted.com)", "proofpoint", ""},
		{"550 envelope blocked - https://community.mimecast.com/docs", "mimecast", ""},
		{"550 cuda_nsu 5.1.1 User unknown", "barracuda", ""},
		{"554 blocked using zen.spamhaus.org", "", "spamhaus"},
		{"554 blocked using bl.spamcop.net", "", "spamcop"},
		{"554 blocked using b.barracudacentral.org", "", "barracuda"},
		{"554 blocked using dnsbl.sorbs.net", "", "sorbs"},
		{"550 5.1.1 user unknown", "", ""},
	}
	for _, tt := range tests {
		d := ClassifyText(tt.in)
		if d.Provider != tt.provider || d.Blocklist != tt.blocklist {
			t.Errorf("ClassifyText(%q): provider %q blocklist %q, want %q %q",
				tt.in, d.Provider, d.Blocklist, tt.provider, tt.blocklist)
		}
	}
}

func TestMatcherFoldsCaseAndSpace(t *testing.T) {
	for _, in := range []string{"550 USER UNKNOWN", "550 User\t\tUnknown", "550 user \r\n unknown", "550   user    unknown  "} {
		if d := ClassifyText(in); d.Reason != outcome.MailboxNotFound {
			t.Errorf("ClassifyText(%q).Reason = %s, want mailbox_not_found", in, d.Reason)
		}
	}
	// Patterns anchored on a leading space only match at a word start.
	if d := ClassifyText("550 rejected by home.com"); d.Provider != "" {
		t.Errorf("provider %q for home.com, want none", d.Provider)
	}
	if d := ClassifyText("421 4.7.0 me.com Error: too many errors"); d.Provider != "apple" {
		t.Errorf("provider %q for me.com at text start, want apple", d.Provider)
	}
}

// TestRules checks the pattern table itself: every entry names its source,
// patterns are unique, and every verdict pattern, read alone, produces its
// own verdict (so no entry is dead or shadowed by a stronger one that
// always matches with it).
func TestRules(t *testing.T) {
	seen := map[string]bool{}
	// The values documented on Diagnosis.Provider and Diagnosis.Blocklist.
	providers := map[string]bool{"gmail": true, "microsoft": true, "yahoo": true, "apple": true, "comcast": true,
		"gmx": true, "web.de": true, "mail.ru": true, "yandex": true, "qq": true, "zoho": true,
		"proofpoint": true, "mimecast": true, "barracuda": true}
	blocklists := map[string]bool{"spamhaus": true, "spamcop": true, "barracuda": true, "sorbs": true, "cbl": true,
		"uceprotect": true, "spamrats": true, "invaluement": true, "psbl": true, "mailspike": true,
		"cloudmark": true, "proofpoint": true}
	m := compiled()
	for _, r := range rules() {
		if r.provider != "" && !providers[r.provider] {
			t.Errorf("rule %q: provider %q is not documented on Diagnosis.Provider", r.pat, r.provider)
		}
		if r.blocklist != "" && !blocklists[r.blocklist] {
			t.Errorf("rule %q: blocklist %q is not documented on Diagnosis.Blocklist", r.pat, r.blocklist)
		}
		if r.src == "" {
			t.Errorf("rule %q has no source", r.pat)
		}
		if seen[r.pat] {
			t.Errorf("rule %q is duplicated", r.pat)
		}
		seen[r.pat] = true
		if r.kind == vNone && r.provider == "" && r.blocklist == "" && !r.stop {
			t.Errorf("rule %q does nothing", r.pat)
		}
		ev := m.scan(r.pat)
		if r.kind != vNone {
			if ev.best < 0 {
				t.Errorf("rule %q does not match itself", r.pat)
				continue
			}
			if got := m.rules[ev.best]; got.kind != r.kind {
				t.Errorf("rule %q alone reads as %q (verdict %d), want verdict %d", r.pat, got.pat, got.kind, r.kind)
			}
		}
		if r.provider != "" && ev.provider != r.provider {
			t.Errorf("rule %q alone gives provider %q, want %q", r.pat, ev.provider, r.provider)
		}
		if r.blocklist != "" && ev.blocklist != r.blocklist {
			t.Errorf("rule %q alone gives blocklist %q, want %q", r.pat, ev.blocklist, r.blocklist)
		}
	}
}

func TestNewMatcherRejectsBadPatterns(t *testing.T) {
	for _, pat := range []string{"", "User", "a  b", "trailing ", "tab\there"} {
		if _, err := newMatcher([]rule{{pat: pat, kind: vBlock, src: "test"}}); err == nil {
			t.Errorf("newMatcher accepted pattern %q", pat)
		}
	}
}

// TestQuotedOriginalNotRead: the headers of a returned original that an
// NDR quotes (a Subject that says "mailbox full?") do not outvote the
// reply; before the section starts they are read as usual.
func TestQuotedOriginalNotRead(t *testing.T) {
	ndr := "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\r\n\r\nOriginal message headers:\r\n\r\nSubject: RE: mailbox full?\r\n"
	if d := ClassifyText(ndr); d.Class != Hard || d.Reason != outcome.MailboxNotFound {
		t.Errorf("NDR with quoted headers: %s/%s, want hard/mailbox_not_found", d.Class, d.Reason)
	}
	if d := ClassifyText("550 5.1.1 mailbox full"); d.Class != Soft || d.Reason != outcome.MailboxFull {
		t.Errorf("quota text next to 5.1.1: %s/%s, want soft/mailbox_full", d.Class, d.Reason)
	}
}

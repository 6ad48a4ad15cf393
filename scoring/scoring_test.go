package scoring

import (
	"fmt"
	"testing"

	"github.com/preflight-email/preflight/outcome"
)

func TestScore(t *testing.T) {
	ok := Evidence{SyntaxValid: true, DNS: DNSFound}
	with := func(f func(*Evidence)) Evidence { e := ok; f(&e); return e }
	tests := []struct {
		name    string
		ev      Evidence
		verdict outcome.Verdict
		reason  outcome.Reason
	}{
		{"invalid syntax", Evidence{}, outcome.Undeliverable, outcome.InvalidSyntax},
		{"invalid beats suppressed", Evidence{Suppressed: true}, outcome.Undeliverable, outcome.InvalidSyntax},
		{"suppressed", with(func(e *Evidence) { e.Suppressed = true; e.SMTP = outcome.Accepted }), outcome.Undeliverable, outcome.Suppressed},
		{"suppression list unread", with(func(e *Evidence) { e.SuppressionUnread = true; e.SMTP = outcome.Accepted; e.CatchAll = CatchAllNo }), outcome.Unknown, outcome.Timeout},
		{"nxdomain", with(func(e *Evidence) { e.DNS = DNSNXDomain }), outcome.Undeliverable, outcome.DomainNotFound},
		{"null mx", with(func(e *Evidence) { e.DNS = DNSNoMailServer }), outcome.Undeliverable, outcome.NoMailServer},
		{"dns temp fail", with(func(e *Evidence) { e.DNS = DNSTempFail }), outcome.Unknown, outcome.DNSError},
		{"mailbox not found", with(func(e *Evidence) { e.SMTP = outcome.MailboxNotFound }), outcome.Undeliverable, outcome.MailboxNotFound},
		{"mailbox disabled", with(func(e *Evidence) { e.SMTP = outcome.MailboxDisabled }), outcome.Undeliverable, outcome.MailboxDisabled},
		{"non-ASCII local part, no SMTPUTF8", with(func(e *Evidence) { e.NoSMTPUTF8 = true; e.SMTP = outcome.SMTPRejected }), outcome.Undeliverable, outcome.SMTPRejected},
		{"disposable accepted", with(func(e *Evidence) { e.Disposable = true; e.SMTP = outcome.Accepted }), outcome.Risky, outcome.Disposable},
		{"disposable not probed", with(func(e *Evidence) { e.Disposable = true }), outcome.Risky, outcome.Disposable},
		{"disposable but missing", with(func(e *Evidence) { e.Disposable = true; e.SMTP = outcome.MailboxNotFound }), outcome.Undeliverable, outcome.MailboxNotFound},
		{"mailbox full", with(func(e *Evidence) { e.SMTP = outcome.MailboxFull }), outcome.Risky, outcome.MailboxFull},
		{"catch-all", with(func(e *Evidence) { e.SMTP = outcome.Accepted; e.CatchAll = CatchAllYes }), outcome.Risky, outcome.CatchAll},
		{"accepted, catch-all unknown", with(func(e *Evidence) { e.SMTP = outcome.Accepted }), outcome.Risky, outcome.Accepted},
		{"accepted", with(func(e *Evidence) { e.SMTP = outcome.Accepted; e.CatchAll = CatchAllNo }), outcome.Deliverable, outcome.Accepted},
		{"role accepted stays deliverable", with(func(e *Evidence) { e.Role = true; e.SMTP = outcome.Accepted; e.CatchAll = CatchAllNo }), outcome.Deliverable, outcome.Accepted},
		{"free accepted", with(func(e *Evidence) { e.Free = true; e.SMTP = outcome.Accepted; e.CatchAll = CatchAllNo }), outcome.Deliverable, outcome.Accepted},
		{"smtp rejected", with(func(e *Evidence) { e.SMTP = outcome.SMTPRejected }), outcome.Unknown, outcome.SMTPRejected},
		{"connection failed", with(func(e *Evidence) { e.SMTP = outcome.ConnectionFailed }), outcome.Unknown, outcome.ConnectionFailed},
		{"timeout", with(func(e *Evidence) { e.SMTP = outcome.Timeout }), outcome.Unknown, outcome.Timeout},
		{"blocked is never undeliverable", with(func(e *Evidence) { e.SMTP = outcome.Blocked }), outcome.Unknown, outcome.Blocked},
		{"rate limited", with(func(e *Evidence) { e.SMTP = outcome.RateLimited }), outcome.Unknown, outcome.RateLimited},
		{"greylisted", with(func(e *Evidence) { e.SMTP = outcome.Greylisted }), outcome.Unknown, outcome.Greylisted},
		{"role, not probed", with(func(e *Evidence) { e.Role = true }), outcome.Unknown, outcome.RoleAccount},
		{"not probed", ok, outcome.Unknown, outcome.Timeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Score(tt.ev)
			if got.Verdict != tt.verdict || got.Reason != tt.reason {
				t.Fatalf("Score(%+v) = %s/%s, want %s/%s", tt.ev, got.Verdict, got.Reason, tt.verdict, tt.reason)
			}
			if got.Risk < 0 || got.Risk > 100 {
				t.Fatalf("risk %d out of range", got.Risk)
			}
		})
	}
}

// TestRiskOrdersVerdicts checks the ranking promise of docs/design.md: every
// undeliverable rule is riskier than every risky or unknown rule, and those
// are riskier than every deliverable rule.
func TestRiskOrdersVerdicts(t *testing.T) {
	band := map[outcome.Verdict][2]int{} // min, max per verdict
	for _, r := range Rules() {
		b, seen := band[r.Verdict]
		if !seen {
			b = [2]int{r.Risk, r.Risk}
		}
		b[0], b[1] = min(b[0], r.Risk), max(b[1], r.Risk)
		band[r.Verdict] = b
	}
	if band[outcome.Undeliverable][0] <= max(band[outcome.Risky][1], band[outcome.Unknown][1]) {
		t.Errorf("undeliverable band %v overlaps risky %v or unknown %v", band[outcome.Undeliverable], band[outcome.Risky], band[outcome.Unknown])
	}
	if band[outcome.Deliverable][1] >= min(band[outcome.Risky][0], band[outcome.Unknown][0]) {
		t.Errorf("deliverable band %v overlaps risky %v or unknown %v", band[outcome.Deliverable], band[outcome.Risky], band[outcome.Unknown])
	}
}

// TestEveryRuleReachable makes sure no rule is shadowed by an earlier one.
func TestEveryRuleReachable(t *testing.T) {
	reached := make([]bool, len(rules))
	dnsStates := []DNS{DNSUnchecked, DNSFound, DNSNXDomain, DNSNoMailServer, DNSTempFail}
	smtp := append([]outcome.Reason{""}, outcome.Reasons()...)
	for _, valid := range []bool{false, true} {
		for _, sup := range []bool{false, true} {
			for _, unread := range []bool{false, true} {
				for _, disp := range []bool{false, true} {
					for _, role := range []bool{false, true} {
						for _, d := range dnsStates {
							for _, s := range smtp {
								for _, ca := range []CatchAll{CatchAllUnknown, CatchAllNo, CatchAllYes} {
									for _, utf8 := range []bool{false, true} {
										e := Evidence{SyntaxValid: valid, Suppressed: sup, SuppressionUnread: unread, Disposable: disp, Role: role, DNS: d, SMTP: s, CatchAll: ca, NoSMTPUTF8: utf8}
										for i := range rules {
											if rules[i].match(e) {
												reached[i] = true
												break
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	for i, ok := range reached {
		if !ok {
			t.Errorf("rule %d (%s: %s) is never reached", i, rules[i].Reason, rules[i].When)
		}
	}
}

func ExampleScore() {
	r := Score(Evidence{SyntaxValid: true, DNS: DNSFound, SMTP: outcome.Accepted, CatchAll: CatchAllYes})
	fmt.Println(r.Verdict, r.Reason, r.Risk)
	// Output: risky catch_all 25
}

func BenchmarkScore(b *testing.B) {
	e := Evidence{SyntaxValid: true, DNS: DNSFound, SMTP: outcome.Greylisted}
	b.ReportAllocs()
	for b.Loop() {
		_ = Score(e)
	}
}

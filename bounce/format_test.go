package bounce

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// familyFormat is the format Read should name for each writer family of
// the Sisimai corpus whose layout has a name here ("lhost-" families are
// named by the system that wrote the bounce; "rhost-" ones by the remote
// host that refused, and are not listed). AOL's bounces are Yahoo's
// (one company, one mail system since 2017), Outlook.com's are Office
// 365's, GMX's and 1&1's are one system's, Receiving SES is SES.
var familyFormat = map[string]Format{
	"arf": ARF, "rfc3834": AutoReply,
	"lhost-activehunter": ActiveHunter, "lhost-amavis": Amavis, "lhost-amazonses": AmazonSES,
	"lhost-amazonworkmail": WorkMail, "lhost-aol": Yahoo, "lhost-apachejames": ApacheJames,
	"lhost-barracuda": Barracuda, "lhost-courier": Courier, "lhost-domino": Domino,
	"lhost-dragonfly": DragonFly, "lhost-einsundeins": GMX, "lhost-exchange2003": Exchange,
	"lhost-exchange2007": Exchange, "lhost-exim": Exim, "lhost-ezweb": JapanMobile,
	"lhost-fml": FML, "lhost-gmail": Gmail, "lhost-gmx": GMX, "lhost-googlegroups": GoogleGroup,
	"lhost-googleworkspace": Gmail, "lhost-imailserver": IMailServer, "lhost-kddi": JapanMobile,
	"lhost-mailfoundry": MailFoundry, "lhost-mailmarshal": MailMarshal, "lhost-mailru": MailRu,
	"lhost-mcafee": McAfee, "lhost-messagingserver": MessagingServer, "lhost-mfilter": MFilter,
	"lhost-mxlogic": MXLogic, "lhost-office365": Office365, "lhost-opensmtpd": OpenSMTPD,
	"lhost-outlook": Office365, "lhost-postfix": Postfix, "lhost-powermta": PowerMTA,
	"lhost-qmail": Qmail, "lhost-receivingses": AmazonSES, "lhost-sendgrid": SendGrid,
	"lhost-sendmail": Sendmail, "lhost-surfcontrol": SurfControl, "lhost-trendmicro": TrendMicro,
	"lhost-v5sendmail": Sendmail, "lhost-verizon": Verizon, "lhost-yahoo": Yahoo,
	"lhost-yandex": Yandex, "lhost-zoho": Zoho,
}

// formatFloor is the number of tuned-part files whose format is named
// right (README.md, "Formats named").
const formatFloor = 261

// TestFormatNames measures how often Read names the layout of a corpus
// file as its writer family says; held-out files count only in the
// figure printed with -corpus.heldout.
func TestFormatNames(t *testing.T) {
	held := loadHeldOut(t)
	files, err := filepath.Glob("testdata/eml/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	var tunedN, tunedOK, heldN, heldOK int
	var wrong []string
	for _, p := range files {
		name := filepath.Base(p)
		want, ok := familyFormat[family(name)]
		if !ok {
			continue
		}
		if held[name] && *tuneOnly {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := Read(b)
		right := rep.Format == want
		if held[name] {
			heldN++
			if right {
				heldOK++
			}
			continue
		}
		tunedN++
		if right {
			tunedOK++
		} else {
			wrong = append(wrong, name+": "+string(rep.Format)+", want "+string(want))
		}
	}
	sort.Strings(wrong)
	t.Logf("tuned part: %d/%d files named right (%.1f%%)", tunedOK, tunedN, pct(tunedOK, tunedN))
	if *showHeld {
		t.Logf("held-out part: %d/%d files named right (%.1f%%)", heldOK, heldN, pct(heldOK, heldN))
	}
	if *verbose {
		t.Logf("named wrong:\n%s", strings.Join(wrong, "\n"))
	}
	if tunedOK < formatFloor {
		t.Errorf("%d tuned files named right, reported %d", tunedOK, formatFloor)
	}
}

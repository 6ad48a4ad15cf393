package reply_test

import (
	"fmt"

	"github.com/preflight-email/preflight/reply"
)

func ExampleParse() {
	r := reply.Parse("550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 Please try double-checking. - gsmtp")
	fmt.Println(r.Code, r.Enhanced)
	fmt.Println(r.Text)
	// Output:
	// 550 5.1.1
	// The email account that you tried to reach does not exist. Please try double-checking. - gsmtp
}

func ExampleClassifyText() {
	for _, s := range []string{
		"smtp; 550 5.1.1 <jdoe@example.com>: Recipient address rejected: User unknown",
		"550 5.7.1 Service unavailable, MailFrom domain is listed in Spamhaus",
		"452 4.2.2 The email account that you tried to reach is over quota. - gsmtp",
		"550 Requested action not taken",
	} {
		d := reply.ClassifyText(s)
		fmt.Printf("%s %s %s provider=%q blocklist=%q\n", d.Class, d.Reason, d.Action, d.Provider, d.Blocklist)
	}
	// Output:
	// hard mailbox_not_found suppress provider="" blocklist=""
	// block blocked fix_sender provider="" blocklist="spamhaus"
	// soft mailbox_full retry provider="gmail" blocklist=""
	// unknown smtp_rejected review provider="" blocklist=""
}

func ExampleClassify() {
	// A probe that already holds the parts of a reply builds the Reply itself.
	d := reply.Classify(reply.Reply{Code: 451, Enhanced: "4.7.1", Text: "Service unavailable - try again later"})
	fmt.Println(d.Class, d.Reason, d.Action)
	fmt.Println(d.Explanation)
	// Output:
	// soft greylisted retry
	// The receiving server greylisted the message; retry after a few minutes.
}

func ExampleDescribe() {
	fmt.Println(reply.Describe("5.1.1"))
	fmt.Println(reply.Describe("4.2.2"))
	fmt.Println(reply.Describe("5.7.26"))
	// Output:
	// Bad destination mailbox address
	// Mailbox full
	// Multiple authentication checks failed
}

package probe_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/preflight-email/preflight/probe"
)

// One Engine serves the whole process; Check is safe for concurrent use.
// This example is compiled, not run: it would talk to a real MX host.
func ExampleEngine_Check() {
	e, err := probe.New(probe.Config{
		HELO:     "verify.example.com", // a name you control, with a matching PTR
		MailFrom: "bounce@example.com", // a domain whose SPF allows this host
	}, slog.Default())
	if err != nil {
		panic(err)
	}
	defer e.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.Check(ctx, probe.Request{
		Address: "jane.doe@example.org",
		Targets: []probe.Target{ // from the MX lookup, most preferred first
			{Host: "mx1.example.org", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10")}},
			{Host: "mx2.example.org", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.20")}},
		},
	})
	if err != nil {
		fmt.Println("no answer:", err)
		return
	}
	fmt.Println(res.Reason, res.CatchAll, res.Host, res.Code, res.Enhanced, res.Message)
}

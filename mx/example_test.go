package mx_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/preflight-email/preflight/mx"
)

// A Resolver is made once and shared. Lookup's verdicts are Statuses; only a
// done context or a bad name is an error. (This example is compiled, not run:
// it would need a resolver on 127.0.0.53.)
func ExampleResolver_Lookup() {
	r, err := mx.New(mx.Config{Resolvers: []string{"127.0.0.53:53"}, Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.Lookup(ctx, "example.com")
	if err != nil {
		log.Fatal(err)
	}
	switch res.Status {
	case mx.StatusOK, mx.StatusImplicit:
		for _, h := range res.Hosts {
			fmt.Println(h.Pref, h.Name, h.Addrs)
		}
	case mx.StatusNXDomain, mx.StatusNullMX, mx.StatusNoMailServer:
		fmt.Println("undeliverable:", res.Detail)
	case mx.StatusTempFail:
		fmt.Println("unknown for now:", res.Detail)
	}
}

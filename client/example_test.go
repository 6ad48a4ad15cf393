package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/preflight-email/preflight/client"
	"github.com/preflight-email/preflight/handlers"
	"github.com/preflight-email/preflight/keys"
	"github.com/preflight-email/preflight/sandbox"
	"github.com/preflight-email/preflight/store"
)

// server runs the API on loopback with keys on and returns its URL and a
// test key, whose answers are fixed by local part.
func server() (url, key string, stop func()) {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "client-example")
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "p.db"))
	if err != nil {
		panic(err)
	}
	ks, err := keys.New(ctx, db, nil)
	if err != nil {
		panic(err)
	}
	_, key, err = ks.Create(ctx, keys.Spec{Name: "example", Kind: keys.Secret, Test: true})
	if err != nil {
		panic(err)
	}
	e := handlers.New(handlers.Config{DefaultTimeout: time.Second, MaxTimeout: time.Second, BatchMax: 10, MaxBodyBytes: 1 << 16,
		Auth: handlers.AuthConfig{Required: true}}, handlers.Deps{Verifier: sandbox.Verifier{}, Keys: ks})
	srv := httptest.NewServer(e)
	return srv.URL, key, func() { srv.Close(); db.Close(); os.RemoveAll(dir) }
}

func ExampleClient_Verify() {
	url, key, stop := server()
	defer stop()

	c := &client.Client{BaseURL: url, Key: key}
	r, err := c.Verify(context.Background(), "undeliverable@shop.example")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Verdict, r.Reason, r.SMTP.Code)

	// Errors carry the server's code.
	_, err = (&client.Client{BaseURL: url, Key: "sk_wrong"}).Verify(context.Background(), "a@shop.example")
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
	}
	// Output:
	// undeliverable mailbox_not_found 550
	// 401 invalid_api_key
}

func ExampleClient_VerifyBatch() {
	url, key, stop := server()
	defer stop()

	c := &client.Client{BaseURL: url, Key: key}
	rs, err := c.VerifyBatch(context.Background(), []string{"catchall@shop.example", "greylisted@shop.example"})
	if err != nil {
		panic(err)
	}
	for _, r := range rs {
		fmt.Println(r.Normalized, r.Verdict, r.Reason)
	}
	u, _ := c.Usage(context.Background(), 1)
	fmt.Println(u.Key.Name, u.Days[0].Calls, u.Days[0].Verdicts)
	// Output:
	// catchall@shop.example risky catch_all
	// greylisted@shop.example unknown greylisted
	// example 2 map[risky:1 unknown:1]
}

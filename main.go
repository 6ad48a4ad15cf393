// Command preflight verifies email addresses before anything is sent: will
// a message to this address hard-bounce? See README.md. The commands live in
// internal/cli and the pipeline's wiring in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/preflight-email/preflight/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(err, os.Stderr))
}

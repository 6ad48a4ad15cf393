// Command preflight verifies email addresses before anything is sent: will
// a message to this address hard-bounce? See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err and maps it to the process exit status: 0 for
// success, 2 for bad usage, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "preflight:", err)
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr, "run 'preflight help' for usage")
		return 2
	}
	return 1
}

package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/preflight-email/preflight/config"
)

// runHealth is preflight health: GET /healthz of the instance on this
// machine and exit 0 when it answers 200. Distroless images have no curl;
// the Dockerfile's HEALTHCHECK runs this.
func runHealth(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := config.Flags("health")
	url := fs.String("url", "", "the /healthz URL (default: http://127.0.0.1 on the port of http.addr)")
	cfg, err := parseFlags(fs, args, getenv)
	if err != nil {
		return err
	}
	if *url == "" {
		*url, err = localHealthURL(cfg.HTTP.Addr)
		if err != nil {
			return usageError{err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usageError{"--url: " + err.Error()}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(stdout, "%s\n", body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s", *url, resp.Status)
	}
	return nil
}

// localHealthURL is /healthz on loopback at the port of addr (":8080",
// "0.0.0.0:8080", "[::]:8080").
func localHealthURL(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("http.addr %q: %v", addr, err)
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz", nil
}

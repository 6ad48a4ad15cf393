package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/preflight-email/preflight/egress"
	"github.com/preflight-email/preflight/internal/ascii"
	"github.com/preflight-email/preflight/internal/fleet"
	"github.com/preflight-email/preflight/probe"
)

// Validate checks every value and names the key of the first bad one.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...)))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be a positive duration, got %s", d)
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", "must be host:port, got %q", c.HTTP.Addr)
	}
	positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	if c.HTTP.MaxConnsPerIP < 1 {
		bad("http.max_conns_per_ip", "must be at least 1, got %d", c.HTTP.MaxConnsPerIP)
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes", "must be at least 1024, got %d", c.HTTP.MaxBodyBytes)
	}
	for _, r := range c.DNS.Resolvers {
		host, port, err := net.SplitHostPort(r)
		if err != nil || host == "" {
			bad("dns.resolvers", "each entry must be host:port, got %q", r)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			bad("dns.resolvers", "bad port in %q", r)
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("http.trusted_proxies", "each entry must be an IP address or a CIDR range, got %q", p)
			}
		}
	}
	if c.Auth.IPRate <= 0 {
		bad("auth.ip_rate", "must be positive, got %g", c.Auth.IPRate)
	}
	if c.Auth.IPBurst < 1 {
		bad("auth.ip_burst", "must be at least 1, got %d", c.Auth.IPBurst)
	}
	positive("dns.timeout", c.DNS.Timeout)
	if c.DNS.Attempts < 1 {
		bad("dns.attempts", "must be at least 1, got %d", c.DNS.Attempts)
	}
	if c.DNS.CacheSize < 0 {
		bad("dns.cache_size", "must not be negative, got %d", c.DNS.CacheSize)
	}
	if c.Probe.Port < 1 || c.Probe.Port > 65535 {
		bad("probe.port", "must be 1-65535, got %d", c.Probe.Port)
	}
	if c.Probe.HELO != "" && (strings.ContainsAny(c.Probe.HELO, " \t\r\n@") || !strings.Contains(c.Probe.HELO, ".") || !ascii.Is(c.Probe.HELO)) {
		bad("probe.helo", "must be a fully qualified host name (RFC 5321 §4.1.1.1), got %q", c.Probe.HELO)
	}
	if c.Probe.MailFrom != "" {
		at := strings.LastIndexByte(c.Probe.MailFrom, '@')
		if at < 1 || at == len(c.Probe.MailFrom)-1 || strings.ContainsAny(c.Probe.MailFrom, " \t\r\n<>") || !ascii.Is(c.Probe.MailFrom) {
			bad("probe.mail_from", "must be an address like verify@example.com, got %q", c.Probe.MailFrom)
		}
	}
	positive("probe.connect_timeout", c.Probe.ConnectTimeout)
	positive("probe.banner_timeout", c.Probe.BannerTimeout)
	positive("probe.command_timeout", c.Probe.CommandTimeout)
	if c.Probe.RatePerHost <= 0 {
		bad("probe.rate_per_host", "must be positive, got %g", c.Probe.RatePerHost)
	}
	if c.Probe.BurstPerHost < 1 {
		bad("probe.burst_per_host", "must be at least 1, got %d", c.Probe.BurstPerHost)
	}
	if c.Probe.MaxSessionsPerHost < 1 {
		bad("probe.max_sessions_per_host", "must be at least 1, got %d", c.Probe.MaxSessionsPerHost)
	}
	if c.Probe.MaxSessions < c.Probe.MaxSessionsPerHost {
		bad("probe.max_sessions", "must be at least probe.max_sessions_per_host (%d), got %d", c.Probe.MaxSessionsPerHost, c.Probe.MaxSessions)
	}
	if c.Probe.RcptRatePerHost <= 0 {
		bad("probe.rcpt_rate_per_host", "must be positive, got %g", c.Probe.RcptRatePerHost)
	}
	if c.Probe.RcptBurstPerHost < 1 {
		bad("probe.rcpt_burst_per_host", "must be at least 1, got %d", c.Probe.RcptBurstPerHost)
	}
	if c.Probe.MaxRcptsPerSession < 2 {
		// One catch-all test and one real recipient at the least.
		bad("probe.max_rcpts_per_session", "must be at least 2, got %d", c.Probe.MaxRcptsPerSession)
	}
	if c.Probe.BatchSize < 1 || c.Probe.BatchSize > 100 {
		// RFC 5321 §4.5.3.1.8: servers must take at least 100 recipients.
		bad("probe.batch_size", "must be 1-100, got %d", c.Probe.BatchSize)
	}
	positive("probe.idle_timeout", c.Probe.IdleTimeout)
	if c.Probe.KeepWarm < 0 || c.Probe.KeepWarm > probe.MaxKeepWarm {
		// RFC 5321 §4.5.3.2.7: a server waits 5 minutes for a command.
		bad("probe.keep_warm", "must be 0-%v (no longer than probe.idle_timeout: no warm sessions), got %v", probe.MaxKeepWarm, c.Probe.KeepWarm)
	}
	if c.Probe.MaxWarm < 1 {
		bad("probe.max_warm", "must be at least 1, got %d", c.Probe.MaxWarm)
	}
	positive("probe.catch_all_ttl", c.Probe.CatchAllTTL)
	if c.Probe.MaxAttempts < 1 {
		bad("probe.max_attempts", "must be at least 1, got %d", c.Probe.MaxAttempts)
	}
	positive("probe.backoff_min", c.Probe.BackoffMin)
	if c.Probe.BackoffMax < c.Probe.BackoffMin {
		bad("probe.backoff_max", "must not be below probe.backoff_min (%v), got %v", c.Probe.BackoffMin, c.Probe.BackoffMax)
	}
	if c.Probe.MaxRefusalsPerSession < 1 {
		bad("probe.max_refusals_per_session", "must be at least 1, got %d", c.Probe.MaxRefusalsPerSession)
	}
	if _, err := egress.ParseAll(c.Probe.Egress); err != nil {
		bad("probe.egress", "%v", err)
	}
	positive("doctor.interval", c.Doctor.Interval)
	positive("probe.route_cooldown", c.Probe.RouteCooldown)
	if c.Doctor.TestDomain == "" {
		bad("doctor.test_domain", "must not be empty")
	}
	if c.Probe.MaxQueuePerHost < 1 {
		bad("probe.max_queue_per_host", "must be at least 1, got %d", c.Probe.MaxQueuePerHost)
	}
	if c.Verify.MaxBackgroundProbes < 1 {
		bad("verify.max_background_probes", "must be at least 1, got %d", c.Verify.MaxBackgroundProbes)
	}
	if c.Probe.MaxWait < 0 {
		bad("probe.max_wait", "must not be negative (0: no limit), got %v", c.Probe.MaxWait)
	}
	positive("verify.timeout", c.Verify.Timeout)
	positive("verify.max_timeout", c.Verify.MaxTimeout)
	positive("verify.probe_timeout", c.Verify.ProbeTimeout)
	if c.Verify.Timeout > c.Verify.MaxTimeout {
		bad("verify.timeout", "must not exceed verify.max_timeout (%s), got %s", c.Verify.MaxTimeout, c.Verify.Timeout)
	}
	if c.Verify.CacheTTL < 0 || c.Verify.UnknownCacheTTL < 0 {
		bad("verify.cache_ttl", "must not be negative")
	}
	if c.Verify.CacheSize < 0 {
		bad("verify.cache_size", "must not be negative, got %d", c.Verify.CacheSize)
	}
	if c.Verify.BatchMax < 1 || c.Verify.BatchMax > 1000 {
		bad("verify.batch_max", "must be 1-1000, got %d", c.Verify.BatchMax)
	}
	if c.Lists.Overrides != "" {
		if _, err := os.Stat(c.Lists.Overrides); err != nil {
			bad("lists.overrides", "cannot read %q", c.Lists.Overrides)
		}
	}
	if c.Store.URL != "" {
		u, err := url.Parse(c.Store.URL)
		if err != nil || (u.Scheme != "sqlite" && u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("store.url", "must be sqlite://PATH or postgres://…, got %q", c.Store.URL)
		}
	}
	if c.Jobs.MaxUploadBytes < 1024 {
		bad("jobs.max_upload_bytes", "must be at least 1024, got %d", c.Jobs.MaxUploadBytes)
	}
	if c.Jobs.MaxRows < 1 {
		bad("jobs.max_rows", "must be at least 1, got %d", c.Jobs.MaxRows)
	}
	if c.Jobs.Concurrency < 1 || c.Jobs.Concurrency > 10000 {
		bad("jobs.concurrency", "must be 1-10000, got %d", c.Jobs.Concurrency)
	}
	positive("jobs.greylist_delay", c.Jobs.GreylistDelay)
	if c.Jobs.GreylistAttempts < 1 {
		bad("jobs.greylist_attempts", "must be at least 1, got %d", c.Jobs.GreylistAttempts)
	}
	if c.Jobs.WebhookAttempts < 1 {
		bad("jobs.webhook_attempts", "must be at least 1, got %d", c.Jobs.WebhookAttempts)
	}
	positive("jobs.webhook_timeout", c.Jobs.WebhookTimeout)
	positive("jobs.retention", c.Jobs.Retention)
	if c.Jobs.MaxConcurrentUploads < 1 {
		bad("jobs.max_concurrent_uploads", "must be at least 1, got %d", c.Jobs.MaxConcurrentUploads)
	}
	if c.Jobs.ChunkSize < 1 || c.Jobs.ChunkSize > 100000 {
		bad("jobs.chunk_size", "must be 1-100000, got %d", c.Jobs.ChunkSize)
	}
	if c.Jobs.Workers < 1 || c.Jobs.Workers > 1000 {
		bad("jobs.workers", "must be 1-1000, got %d", c.Jobs.Workers)
	}
	positive("jobs.chunk_time", c.Jobs.ChunkTime)
	if c.Jobs.RescueAfter < 0 {
		bad("jobs.rescue_after", "must not be negative (0 derives it), got %v", c.Jobs.RescueAfter)
	}
	if c.Jobs.MaxStoredRows < int64(c.Jobs.MaxRows) {
		bad("jobs.max_stored_rows", "must be at least jobs.max_rows (%d), got %d", c.Jobs.MaxRows, c.Jobs.MaxStoredRows)
	}
	if c.Suppression.SoftLimit < 1 {
		bad("suppression.soft_limit", "must be at least 1, got %d", c.Suppression.SoftLimit)
	}
	positive("suppression.soft_window", c.Suppression.SoftWindow)
	if c.Cache.URL != "" {
		u, err := url.Parse(c.Cache.URL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("cache.url", "must be redis://HOST:PORT/DB or rediss://…, got %q", c.Cache.URL)
		}
	}
	positive("cache.timeout", c.Cache.Timeout)
	if _, err := fleet.ParseRates(c.Cache.ProviderRcptRates); err != nil {
		bad("cache.provider_rcpt_rates", "%v", err)
	} else if len(c.Cache.ProviderRcptRates) > 0 && c.Cache.URL == "" {
		bad("cache.provider_rcpt_rates", "needs cache.url: a fleet-wide rate is kept in Redis")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

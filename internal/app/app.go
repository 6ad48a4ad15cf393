// Package app builds Preflight's pipeline once from the configuration:
// lists, resolver, probe, verifier and the bulk-jobs manager. The commands
// in internal/cli and the HTTP layer receive what it builds.
package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/preflight-email/preflight/egress"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/internal/fleet"
	"github.com/preflight-email/preflight/internal/redact"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/syntax"
	"github.com/preflight-email/preflight/verify"
)

// App is the pipeline built once from the configuration.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	Verifier *verify.Verifier
	Prober   *probe.Engine // nil when probe.enabled is false
	Lists    *disposable.List
	Resolver *mx.Resolver // dns.resolvers, for the webhook's host names too
	// Fleet is what the instances of a fleet share through Redis
	// (cache.url): nil when it is not set.
	Fleet *fleet.Client
	// Warnings are what an operator should fix in the configuration, such
	// as an unset probe.helo. serve logs them once at start-up; the CLI's
	// one-off commands do not repeat them on every run.
	Warnings []string

	// timings are the histograms of each step of a check (metrics.go).
	timings *prometheus.HistogramVec
}

// NewLogger returns the logger that log.level and log.format ask for.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	// Secrets in URLs (callback tokens, store and proxy passwords) never
	// reach the logs, even inside error texts.
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact.ReplaceAttr}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New builds the pipeline. sup is the suppression list, or nil where
// none is kept (the local CLI).
func New(cfg config.Config, log *slog.Logger, sup verify.Suppressions) (a *App, err error) {
	lists, err := disposable.Load(cfg.Lists.Overrides)
	if err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	// The shared layer is optional: each local cache and limit works
	// alone, and each shared one is wired only when cache.url is set.
	var fc *fleet.Client
	if cfg.Cache.URL != "" {
		rates, err := fleet.ParseRates(cfg.Cache.ProviderRcptRates)
		if err != nil {
			return nil, fmt.Errorf("cache.provider_rcpt_rates: %w", err)
		}
		fc, err = fleet.Open(fleet.Config{
			URL:     cfg.Cache.URL,
			Prefix:  cfg.Cache.Prefix,
			Timeout: cfg.Cache.Timeout,
			Rates:   rates,
			Logger:  log.With("component", "redis"),
		})
		if err != nil {
			return nil, fmt.Errorf("cache.url: %w", err)
		}
		defer func() {
			if err != nil {
				fc.Close()
			}
		}()
	}
	mxCfg := mx.Config{
		Resolvers: cfg.DNS.Resolvers,
		Timeout:   cfg.DNS.Timeout,
		Attempts:  cfg.DNS.Attempts,
		CacheSize: cfg.DNS.CacheSize,
		Logger:    log.With("component", "dns"),
	}
	if fc != nil {
		mxCfg.Shared = fc.Cache("mx")
	}
	resolver, err := mx.New(mxCfg)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	a = &App{Config: cfg, Log: log, Lists: lists, Resolver: resolver, Fleet: fc}
	deps := verify.Deps{Lists: lists, Resolver: resolver, Suggester: syntax.DefaultSuggester(), Suppressions: sup, Logger: log}
	if fc != nil {
		deps.Shared = fc.Cache("result")
	}
	if cfg.Probe.Enabled {
		routes, err := egress.ParseAll(cfg.Probe.Egress)
		if err != nil {
			return nil, fmt.Errorf("probe.egress: %w", err)
		}
		helo, mailFrom, warnings := identity(cfg.Probe)
		a.Warnings = append(a.Warnings, warnings...)
		pcfg := probe.Config{
			Port:                  cfg.Probe.Port,
			HELO:                  helo,
			MailFrom:              mailFrom,
			AllowPrivate:          cfg.Probe.AllowPrivate,
			ConnectTimeout:        cfg.Probe.ConnectTimeout,
			BannerTimeout:         cfg.Probe.BannerTimeout,
			CommandTimeout:        cfg.Probe.CommandTimeout,
			RatePerHost:           cfg.Probe.RatePerHost,
			BurstPerHost:          cfg.Probe.BurstPerHost,
			MaxSessionsPerHost:    cfg.Probe.MaxSessionsPerHost,
			MaxSessions:           cfg.Probe.MaxSessions,
			RcptRatePerHost:       cfg.Probe.RcptRatePerHost,
			RcptBurstPerHost:      cfg.Probe.RcptBurstPerHost,
			MaxRcptsPerSession:    cfg.Probe.MaxRcptsPerSession,
			BatchSize:             cfg.Probe.BatchSize,
			IdleTimeout:           cfg.Probe.IdleTimeout,
			KeepWarm:              cfg.Probe.KeepWarm,
			MaxWarm:               cfg.Probe.MaxWarm,
			CatchAllTTL:           cfg.Probe.CatchAllTTL,
			MaxAttempts:           cfg.Probe.MaxAttempts,
			BackoffMin:            cfg.Probe.BackoffMin,
			BackoffMax:            cfg.Probe.BackoffMax,
			MaxRefusalsPerSession: cfg.Probe.MaxRefusalsPerSession,
			MaxWait:               cfg.Probe.MaxWait,
			MaxQueuePerHost:       cfg.Probe.MaxQueuePerHost,
			Routes:                routes,
			RouteCooldown:         cfg.Probe.RouteCooldown,
		}
		if fc != nil {
			pcfg.Shared = fc.Cache("catchall")
			pcfg.Fleet = fc
		}
		a.Prober, err = probe.New(pcfg, log)
		if err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
		deps.Prober = a.Prober
	}
	a.timings = newTimings()
	deps.OnTimings = a.observeTimings
	a.Verifier = verify.New(verify.Config{
		ProbeEnabled:  cfg.Probe.Enabled,
		ProbeTimeout:  cfg.Verify.ProbeTimeout,
		CacheTTL:      cfg.Verify.CacheTTL,
		UnknownTTL:    cfg.Verify.UnknownCacheTTL,
		CacheSize:     cfg.Verify.CacheSize,
		MaxBackground: cfg.Verify.MaxBackgroundProbes,
	}, deps)
	return a, nil
}

// identity returns the HELO name and MAIL FROM address, with a warning
// for each that is not set. Production must set both to a domain it
// controls, with PTR and SPF records (README.md); the fallback is the host
// name, never "localhost".
func identity(p config.Probe) (helo, mailFrom string, warnings []string) {
	helo, mailFrom = p.HELO, p.MailFrom
	if helo == "" {
		helo, _ = os.Hostname()
		if !strings.Contains(helo, ".") {
			helo = "preflight.invalid"
		}
		warnings = append(warnings, "probe.helo is not set; receiving servers will distrust the name "+helo)
	}
	if mailFrom == "" {
		mailFrom = "verify@" + helo
		warnings = append(warnings, "probe.mail_from is not set; using "+mailFrom)
	}
	return helo, mailFrom, warnings
}

// Close stops the verifier's background work, then the probe, and reports
// every error.
func (a *App) Close() error {
	err := a.Verifier.Close()
	if a.Prober != nil {
		err = errors.Join(err, a.Prober.Close())
	}
	if a.Fleet != nil {
		err = errors.Join(err, a.Fleet.Close())
	}
	return err
}

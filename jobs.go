package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/store"
)

// jobsConfig maps the jobs.* keys onto jobs.Config. A check is given the
// probe's own time budget and some slack, so that a slow server's answer
// is waited for rather than recorded as a timeout.
func jobsConfig(cfg config.Config) jobs.Config {
	return jobs.Config{
		MaxUploadBytes:      cfg.Jobs.MaxUploadBytes,
		MaxRows:             cfg.Jobs.MaxRows,
		Concurrency:         cfg.Jobs.Concurrency,
		CheckTimeout:        cfg.Verify.ProbeTimeout + cfg.DNS.Timeout*time.Duration(cfg.DNS.Attempts) + 30*time.Second,
		GreylistDelay:       cfg.Jobs.GreylistDelay,
		GreylistAttempts:    cfg.Jobs.GreylistAttempts,
		WebhookSecret:       cfg.Jobs.WebhookSecret,
		WebhookAllowPrivate: cfg.Jobs.WebhookAllowPrivate,
		WebhookAttempts:     cfg.Jobs.WebhookAttempts,
		WebhookTimeout:      cfg.Jobs.WebhookTimeout,
	}
}

// newJobs builds the bulk-jobs manager on db with the app's pipeline.
func newJobs(ctx context.Context, cfg config.Config, a *app, db *store.DB, log *slog.Logger) (*jobs.Manager, error) {
	return jobs.New(ctx, jobsConfig(cfg), db, jobs.Deps{Verifier: a.verifier, Logger: log})
}

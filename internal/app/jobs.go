package app

import (
	"context"
	"time"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/store"
)

// JobsConfig maps the jobs.* keys onto jobs.Config. A check is given the
// probe's own time budget and some slack, so that a slow server's answer
// is waited for rather than recorded as a timeout.
func JobsConfig(cfg config.Config) jobs.Config {
	check := cfg.Verify.ProbeTimeout + cfg.DNS.Timeout*time.Duration(cfg.DNS.Attempts) + 10*time.Second
	rescue := cfg.Jobs.RescueAfter
	if rescue == 0 {
		rescue = cfg.Jobs.ChunkTime + check + time.Minute
	}
	return jobs.Config{
		MaxUploadBytes:       cfg.Jobs.MaxUploadBytes,
		MaxRows:              cfg.Jobs.MaxRows,
		Concurrency:          cfg.Jobs.Concurrency,
		CheckTimeout:         check,
		GreylistDelay:        cfg.Jobs.GreylistDelay,
		GreylistAttempts:     cfg.Jobs.GreylistAttempts,
		WebhookSecret:        cfg.Jobs.WebhookSecret,
		WebhookAllowPrivate:  cfg.Jobs.WebhookAllowPrivate,
		WebhookAttempts:      cfg.Jobs.WebhookAttempts,
		WebhookTimeout:       cfg.Jobs.WebhookTimeout,
		Retention:            cfg.Jobs.Retention,
		MaxConcurrentUploads: cfg.Jobs.MaxConcurrentUploads,
		MaxStoredRows:        cfg.Jobs.MaxStoredRows,
		ChunkSize:            cfg.Jobs.ChunkSize,
		Chunks:               cfg.Jobs.Workers,
		ChunkTime:            cfg.Jobs.ChunkTime,
		RescueAfter:          rescue,
	}
}

// NewJobs builds the bulk-jobs manager on db with the app's pipeline.
func (a *App) NewJobs(ctx context.Context, db *store.DB) (*jobs.Manager, error) {
	return a.NewJobsConfig(ctx, db, JobsConfig(a.Config))
}

// NewJobsConfig is NewJobs with a config of the caller's (a role's).
func (a *App) NewJobsConfig(ctx context.Context, db *store.DB, cfg jobs.Config) (*jobs.Manager, error) {
	return jobs.New(ctx, cfg, db, jobs.Deps{Verifier: a.Verifier, Logger: a.Log, Resolver: a.Resolver})
}

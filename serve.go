package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/handlers"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseFlags(config.Flags("serve"), args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	// The store holds jobs and the suppression list. Deferred calls run in
	// reverse: the jobs stop first, then the pipeline, then the store.
	db, err := store.Open(ctx, cfg.Store.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	sup, err := suppression.New(ctx, db, suppression.Policy{
		SoftLimit:  cfg.Suppression.SoftLimit,
		SoftWindow: cfg.Suppression.SoftWindow,
	}, log)
	if err != nil {
		return fmt.Errorf("suppression list: %w", err)
	}
	defer sup.Close()
	a, err := newApp(cfg, log, sup)
	if err != nil {
		return err
	}
	defer a.Close()

	// Bulk jobs: the manager resumes the jobs a previous process left
	// unfinished.
	jm, err := newJobs(ctx, cfg, a, db, log)
	if err != nil {
		return err
	}
	if err := jm.Start(ctx); err != nil {
		return fmt.Errorf("resume jobs: %w", err)
	}
	defer jm.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.prober != nil {
		registerProbeMetrics(reg, a.prober)
	}
	engine := handlers.New(handlers.Config{
		DefaultTimeout: cfg.Verify.Timeout,
		MaxTimeout:     cfg.Verify.MaxTimeout,
		BatchMax:       cfg.Verify.BatchMax,
		MaxBodyBytes:   cfg.HTTP.MaxBodyBytes,
	}, handlers.Deps{Verifier: a.verifier, Logger: log, Registry: reg, Jobs: jm, Bounces: sup})

	srv := &http.Server{
		Handler:           engine,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	log.Info("preflight listening", "addr", ln.Addr().String(), "probe", cfg.Probe.Enabled)

	// SIGHUP re-reads the list overrides file (lists.overrides); a bad file
	// keeps the lists in force.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			if err := a.lists.Reload(cfg.Lists.Overrides); err != nil {
				log.Error("reloading lists failed; the previous lists stay in force", "err", err)
				continue
			}
			d, f, r := a.lists.Counts()
			log.Info("lists reloaded", "disposable", d, "free", f, "role", r)
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// registerProbeMetrics exposes the probe's counters: how polite we are
// (sessions, RCPTs, 421 replies, back-offs) is what operators watch.
func registerProbeMetrics(reg *prometheus.Registry, p *probe.Engine) {
	counter := func(name, help string, get func(probe.Stats) uint64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "preflight_probe_" + name, Help: help},
			func() float64 { return float64(get(p.Stats())) }))
	}
	counter("checks_total", "Recipients checked over SMTP.", func(s probe.Stats) uint64 { return s.Checks })
	counter("sessions_total", "SMTP sessions opened.", func(s probe.Stats) uint64 { return s.Sessions })
	counter("connect_failures_total", "Failed attempts to open a session.", func(s probe.Stats) uint64 { return s.ConnectFailures })
	counter("rcpts_total", "RCPT TO commands sent, catch-all tests included.", func(s probe.Stats) uint64 { return s.Rcpts })
	counter("catch_all_probes_total", "RCPT TO a random local part.", func(s probe.Stats) uint64 { return s.CatchAllProbes })
	counter("replies_421_total", "421 replies in the middle of a session.", func(s probe.Stats) uint64 { return s.Replies421 })
	counter("backoffs_total", "Times an MX host was paused.", func(s probe.Stats) uint64 { return s.Backoffs })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preflight_probe_dispatchers", Help: "MX hosts with a live dispatcher."},
		func() float64 { return float64(p.Stats().Dispatchers) }))
}

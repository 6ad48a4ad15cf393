package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/preflight-email/preflight/doctor"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/handlers"
	"github.com/preflight-email/preflight/internal/app"
	"github.com/preflight-email/preflight/internal/connlimit"
	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/keys"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/suppression"
)

// serveOptions lets a caller hand serve a socket it made, as miekg/dns's
// Server does: tests listen on 127.0.0.1:0 themselves, so there is no
// listen-close-reuse race, and NotifyStarted tells them when requests are
// served, so they need not poll.
type serveOptions struct {
	Listener      net.Listener
	NotifyStarted func(addr net.Addr)
}

// role is what a process does: serve the API, work jobs, or both.
type role struct{ api, work bool }

func (r role) String() string {
	switch {
	case r.api && r.work:
		return "api+worker"
	case r.api:
		return "api"
	}
	return "worker"
}

// runServe is preflight serve (the API and the jobs' workers; with
// --no-worker the API alone) and preflight worker (the workers alone,
// with /healthz and /metrics on http.addr).
func runServe(ctx context.Context, cmd string, args []string, getenv func(string) string, stderr io.Writer, opts serveOptions) error {
	fs := config.Flags(cmd)
	r := role{api: cmd == "serve", work: true}
	var noWorker *bool
	if r.api {
		noWorker = fs.Bool("no-worker", false, "serve the API only: bulk jobs are queued here and worked by preflight worker processes on the same store")
	}
	cfg, err := parseFlags(fs, args, getenv)
	if err != nil {
		return err
	}
	if noWorker != nil && *noWorker {
		r.work = false
	}
	log := app.NewLogger(cfg.Log, stderr)
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
	ks, err := keys.New(ctx, db, log)
	if err != nil {
		return err
	}
	if cfg.Auth.Required && r.api {
		if err := firstKey(ctx, ks, keyFile(cfg.Store.URL), log); err != nil {
			return err
		}
	} else if r.api {
		log.Warn("auth.required is false: anyone who can reach the port can use the API and probe from this IP; run open only on a trusted network")
	}
	// Usage is counted in memory and flushed every second; the last flush
	// runs after the server has stopped taking requests.
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan struct{})
	go func() { defer close(flushed); ks.Run(flushCtx) }()
	defer func() { stopFlush(); <-flushed }()
	a, err := app.New(cfg, log, app.Suppressions(sup))
	if err != nil {
		return err
	}
	for _, w := range a.Warnings {
		log.Warn(w)
	}
	defer a.Close()

	// Bulk jobs: a worker takes chunks of any job in the store, the ones
	// a previous process left unfinished included.
	jcfg := app.JobsConfig(cfg)
	jcfg.NoWorker = !r.work
	jm, err := a.NewJobsConfig(ctx, db, jcfg)
	if err != nil {
		return err
	}
	if err := jm.Start(ctx); err != nil {
		return fmt.Errorf("resume jobs: %w", err)
	}
	defer jm.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.RegisterMetrics(reg)
	reg.MustRegister(jm.Collectors()...)
	// Our sending identity is checked now and every doctor.interval, in
	// the background: failures go to the log, /v1/doctor and /healthz.
	dc, err := app.DoctorConfig(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	mon := doctor.NewMonitor(dc, app.DoctorResolver(cfg), log.With("component", "doctor"), cfg.Doctor.Interval)
	switch {
	case !cfg.Probe.Enabled:
		mon.Disable("the probe is off (probe.enabled=false): there is no sending identity to check")
	case cfg.Probe.HELO == "":
		// An instance with no identity configured (the embedded defaults,
		// a test) sends nothing on its own: the checks start once probe.helo
		// and probe.mail_from are set, as production needs anyway.
		mon.Disable("probe.helo is not set: configure the sending identity (README, Running it in production), then the checks run at start and every doctor.interval; preflight doctor runs them once")
	}
	dctx, stopDoctor := context.WithCancel(ctx)
	defer stopDoctor()
	go mon.Run(dctx)

	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "preflight_jobs_waiting", Help: "Bulk jobs queued or running."},
		func() float64 {
			all, err := jm.List(context.Background())
			if err != nil {
				return -1
			}
			n := 0
			for _, s := range all {
				if s.Status == jobs.Queued || s.Status == jobs.Running {
					n++
				}
			}
			return float64(n)
		}))
	engine := handlers.New(handlers.Config{
		DefaultTimeout: cfg.Verify.Timeout,
		MaxTimeout:     cfg.Verify.MaxTimeout,
		BatchMax:       cfg.Verify.BatchMax,
		MaxBodyBytes:   cfg.HTTP.MaxBodyBytes,
		TrustedProxies: cfg.HTTP.TrustedProxies,
		Auth:           handlers.AuthConfig{Required: cfg.Auth.Required, IPRate: cfg.Auth.IPRate, IPBurst: cfg.Auth.IPBurst},
		Role:           r.String(),
	}, handlers.Deps{Verifier: a.Verifier, Logger: log, Registry: reg, Jobs: jm, Bounces: sup, Keys: ks, Doctor: mon, Routes: routeSignals(a),
		Store: db, Queue: jm, Redis: a.Fleet})
	var handler http.Handler = engine
	if !r.api {
		handler = handlers.NewHealth(reg, db, jm, a.Fleet)
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = listen(cfg.HTTP.Addr, getenv); err != nil {
			return err
		}
	}
	defer ln.Close()
	ln = connlimit.New(ln, cfg.HTTP.MaxConnsPerIP)
	log.Info("preflight listening", "addr", ln.Addr().String(), "role", r.String(), "probe", cfg.Probe.Enabled, "auth", cfg.Auth.Required)

	// SIGHUP re-reads the list overrides file (lists.overrides); a bad file
	// keeps the lists in force.
	// The goroutine ends with serve, on the error paths too.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	served := make(chan struct{})
	defer close(served)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-served:
				return
			case <-hup:
			}
			if err := a.Lists.Reload(cfg.Lists.Overrides); err != nil {
				log.Error("reloading lists failed; the previous lists stay in force", "err", err)
				continue
			}
			d, f, r := a.Lists.Counts()
			log.Info("lists reloaded", "disposable", d, "free", f, "role", r)
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if opts.NotifyStarted != nil {
		// The socket is listening already: connections made from now on
		// wait in its backlog until Serve accepts them.
		opts.NotifyStarted(ln.Addr())
	}
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

// listen opens the HTTP socket: the one a service manager passed in
// (systemd socket activation: LISTEN_FDS=1, descriptor 3, LISTEN_PID this
// process or unset), else a new one on addr.
func listen(addr string, getenv func(string) string) (net.Listener, error) {
	if getenv("LISTEN_FDS") == "1" && (getenv("LISTEN_PID") == "" || getenv("LISTEN_PID") == strconv.Itoa(os.Getpid())) {
		f := os.NewFile(3, "listen-fd")
		defer f.Close()
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("LISTEN_FDS: descriptor 3 is not a listening socket: %w", err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// routeSignals is the probe's per-route refusal counts, or nil (not a nil
// *probe.Engine in an interface) when the probe is off.
func routeSignals(a *app.App) handlers.Routes {
	if a.Prober == nil {
		return nil
	}
	return a.Prober
}

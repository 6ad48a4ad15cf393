package doctor

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Monitor runs the checks at start and then every interval, logs what
// fails, and keeps the last report for /v1/doctor and /healthz.
type Monitor struct {
	cfg      Config
	res      Resolver
	log      *slog.Logger
	interval time.Duration

	mu   sync.Mutex
	last *Report
	off  string // why the checks do not run, or ""
}

// Disable keeps the monitor from running, for reason (say, no sending
// identity is configured yet); Disabled reports it.
func (m *Monitor) Disable(reason string) {
	m.mu.Lock()
	m.off = reason
	m.mu.Unlock()
}

// Disabled returns why the checks do not run, or "".
func (m *Monitor) Disabled() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.off
}

// NewMonitor returns a Monitor; Run starts it.
func NewMonitor(cfg Config, res Resolver, log *slog.Logger, interval time.Duration) *Monitor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{cfg: cfg, res: res, log: log, interval: interval}
}

// Run checks now and every interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	if m.Disabled() != "" {
		return
	}
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		rep := Run(ctx, m.cfg, m.res)
		if ctx.Err() != nil {
			return
		}
		for _, c := range rep.Failures() {
			m.log.Warn("doctor: "+c.Detail, "route", c.Route, "check", c.Name)
		}
		m.mu.Lock()
		m.last = &rep
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Last returns the latest report, and false before the first is done.
func (m *Monitor) Last() (Report, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		return Report{}, false
	}
	return *m.last, true
}

package app

import (
	"github.com/preflight-email/preflight/config"
	"github.com/preflight-email/preflight/doctor"
	"github.com/preflight-email/preflight/egress"
)

// DoctorConfig maps the probe's identity, probe.egress and doctor.* onto
// doctor.Config.
func DoctorConfig(cfg config.Config) (doctor.Config, error) {
	routes, err := egress.ParseAll(cfg.Probe.Egress)
	if err != nil {
		return doctor.Config{}, err
	}
	helo, mailFrom, _ := identity(cfg.Probe)
	return doctor.Config{
		Routes: routes, HELO: helo, MailFrom: mailFrom,
		TestDomain: cfg.Doctor.TestDomain, Port: cfg.Probe.Port, Blocklists: cfg.Doctor.Blocklists,
		Timeout: cfg.Probe.ConnectTimeout,
	}, nil
}

// DoctorResolver asks dns.resolvers, as every other look-up does.
func DoctorResolver(cfg config.Config) doctor.Resolver {
	return doctor.NewResolver(cfg.DNS.Resolvers, cfg.DNS.Timeout)
}

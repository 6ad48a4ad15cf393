package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/preflight-email/preflight/doctor"
	"github.com/preflight-email/preflight/internal/dnstest"
)

// TestDoctorCommand: the test domain's MX does not answer on the probe
// port, so the port 25 check fails, the JSON report says so, and the
// command exits non-zero.
func TestDoctorCommand(t *testing.T) {
	dns := dnstest.NewServer(t, `
$ORIGIN test.
$TTL 300
@          IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
target     IN MX 10 mx.target.test.
mx.target  IN A  127.0.0.46
`)
	env := map[string]string{
		"PREFLIGHT_DNS_RESOLVERS":      dns.Addr,
		"PREFLIGHT_PROBE_PORT":         "9", // nothing listens there
		"PREFLIGHT_PROBE_HELO":         "probe.preflight.test",
		"PREFLIGHT_PROBE_MAIL_FROM":    "verify@preflight.test",
		"PREFLIGHT_DOCTOR_TEST_DOMAIN": "target.test",
		"PREFLIGHT_PROBE_EGRESS":       "127.0.0.47",
	}
	var out bytes.Buffer
	err := Run(context.Background(), []string{"doctor", "--json"}, getenv(env), nil, &out, &bytes.Buffer{})
	if !errors.Is(err, errDoctorFailed) || ExitCode(err, &bytes.Buffer{}) != 1 {
		t.Fatalf("err %v, want the failed-checks error and exit 1", err)
	}
	var rep doctor.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if rep.OK || len(rep.Checks) == 0 || rep.Checks[0].Name != "port25" || rep.Checks[0].Status != doctor.Fail || rep.Checks[0].Route != "127.0.0.47" {
		t.Errorf("report %+v", rep)
	}
	if err := Run(context.Background(), []string{"doctor", "--json"}, getenv(map[string]string{"PREFLIGHT_PROBE_EGRESS": "not-an-ip"}), nil, &bytes.Buffer{}, &bytes.Buffer{}); ExitCode(err, &bytes.Buffer{}) != 2 {
		t.Errorf("a bad route: %v, want a usage error", err)
	}
}

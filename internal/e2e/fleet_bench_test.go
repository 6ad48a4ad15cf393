package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/internal/testworld"
	"github.com/preflight-email/preflight/store"
)

// BenchmarkFleet runs a 20,000-address list over 200 domains (10 fake MX
// hosts on loopback, 4 ms per RCPT) through the real binary: one instance
// on SQLite, one on PostgreSQL, and two on one PostgreSQL. It reports
// rows/s from upload to done and SMTP sessions per address. Both
// instances run on this machine and share its cores and its loopback IP,
// so the second instance adds sessions and CPU, not a second egress IP.
//
//	PREFLIGHT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \\
//	  go test -run '^$' -bench Fleet -benchtime 1x -count 3 ./internal/e2e
func BenchmarkFleet(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "preflight")
	buildBinary(b, bin)
	size := testworld.Size{Hosts: 10, Domains: 200, Rows: 20000, Distinct: 20000}
	for _, bc := range []struct {
		name      string
		engine    store.Dialect
		instances int
	}{{"sqlite-1", store.SQLite, 1}, {"postgres-1", store.Postgres, 1}, {"postgres-2", store.Postgres, 2}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				w := testworld.NewSized(b, size)
				env := w.Env()
				env["PREFLIGHT_JOBS_CHUNK_SIZE"] = "500"
				url := storetest.URL(b, bc.engine)
				var procs []*server
				for range bc.instances {
					procs = append(procs, startProcess(b, bin, "serve", url, env))
				}
				t0 := time.Now()
				id := procs[0].upload(b, w.CSV)
				st := procs[0].waitDoneFor(b, id, 10*time.Minute)
				elapsed := time.Since(t0)
				if st.Processed != size.Rows {
					b.Fatalf("processed %d of %d", st.Processed, size.Rows)
				}
				sessions := 0
				for _, s := range w.Servers {
					sessions += s.Sessions()
				}
				b.ReportMetric(float64(size.Rows)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(float64(sessions)/float64(size.Distinct), "sessions/address")
				b.ReportMetric(0, "ns/op")
				for _, p := range procs {
					p.kill9(b)
				}
				fmt.Fprintf(b.Output(), "%s: %d rows in %v, %d sessions\n", bc.name, size.Rows, elapsed.Round(10*time.Millisecond), sessions)
			}
		})
	}
}

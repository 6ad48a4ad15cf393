package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/preflight-email/preflight/internal/dnstest"
)

// BenchmarkServeMillionRows runs the real binary, uploads a generated
// 1,000,000-row CSV (streamed, never held in memory by the client either),
// waits for the job and downloads the results, then reads the server's
// peak RSS (VmHWM) from /proc. The probe is off (probe.enabled=false):
// each address still goes through syntax, lists, DNS against a fake
// server, scoring and the jobs store, but no SMTP; this measures the
// memory of the upload, the job and the export, not the network.
//
//	go test -run XXX -bench ServeMillionRows -benchtime 1x -timeout 30m ./internal/e2e
func BenchmarkServeMillionRows(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("JOBS_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	const domains = 5000
	var zone strings.Builder
	zone.WriteString("$ORIGIN example.\n$TTL 86400\n@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 86400\nmx IN A 127.0.0.40\n")
	for d := range domains {
		fmt.Fprintf(&zone, "d%d IN MX 10 mx.example.\n", d)
	}
	dns := dnstest.NewServer(b, zone.String())
	dir := b.TempDir()
	bin := filepath.Join(dir, "preflight")
	buildBinary(b, bin)
	b.ReportAllocs()
	for i := range b.N {
		s := startServer(b, bin, filepath.Join(dir, fmt.Sprintf("m%d.db", i)), map[string]string{"PREFLIGHT_DNS_RESOLVERS": dns.Addr}, "PREFLIGHT_PROBE_ENABLED=false")
		t0 := time.Now()
		id := s.uploadFrom(b, millionCSV(rows, domains))
		t1 := time.Now()
		st := s.waitDoneFor(b, id, 60*time.Minute)
		t2 := time.Now()
		resp, err := http.Get(s.base + "/v1/jobs/" + id + "/results")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("export: %d %v", resp.StatusCode, err)
		}
		t3 := time.Now()
		rss, err := procPeakRSS(s.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		if st.Total != rows {
			b.Fatalf("total %d", st.Total)
		}
		b.ReportMetric(t1.Sub(t0).Seconds(), "upload-s")
		b.ReportMetric(t2.Sub(t1).Seconds(), "check-s")
		b.ReportMetric(t3.Sub(t2).Seconds(), "export-s")
		b.ReportMetric(float64(n)/(1<<20), "export-MiB")
		b.ReportMetric(float64(rss)/(1<<20), "server-peak-RSS-MiB")
		s.kill9(b)
	}
}

// millionCSV streams a Mailchimp-like export of n rows; a tenth of the
// addresses repeat.
func millionCSV(n, domains int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		bw.WriteString("Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,TAGS\n")
		for i := range n {
			k := i
			if i%10 == 9 {
				k = i / 2
			}
			fmt.Fprintf(bw, "user%d@d%d.example,First%d,Last%d,%d,2024-03-01 10:%02d:00,\"tag%d,vip\"\n", k, k%domains, i, i, i%5, i%60, i%7)
		}
		bw.Flush()
		pw.Close()
	}()
	return pr
}

func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}

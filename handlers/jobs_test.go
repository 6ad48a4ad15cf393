package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/disposable"
	"github.com/preflight-email/preflight/internal/dnstest"
	"github.com/preflight-email/preflight/internal/smtptest"
	"github.com/preflight-email/preflight/jobs"
	"github.com/preflight-email/preflight/mx"
	"github.com/preflight-email/preflight/probe"
	"github.com/preflight-email/preflight/store"
	"github.com/preflight-email/preflight/syntax"
	"github.com/preflight-email/preflight/verify"
)

// jobsZone puts every test domain on one fake MX, 127.0.0.1.
const jobsZone = `
$ORIGIN test.
$TTL 300
@         IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
acme      IN MX 10 mx.test.
corp      IN MX 10 mx.test.
catchall  IN MX 10 mx.test.
slow      IN MX 10 mx.slow.test.
mx        IN A  127.0.0.1
mx.slow   IN A  127.0.0.1
nullmx    IN MX 0 .
`

// jobsMailboxes exist on the fake MX; catchall.test accepts anything, and
// anything at slow.test waits before its answer.
var jobsMailboxes = map[string]bool{
	"jane@acme.test": true, "carla@acme.test": true, "bob@corp.test": true, "eve@corp.test": true,
	"ann@acme.test": true, "dmitri@corp.test": true,
}

type jobsEnv struct {
	e  *gin.Engine
	m  *jobs.Manager
	db *store.DB
}

// newJobsEngine builds the API with the real pipeline (fake DNS, fake MX,
// the probe) and a jobs.Manager on a temporary SQLite file.
func newJobsEngine(t *testing.T, cfg jobs.Config) jobsEnv {
	t.Helper()
	dns := dnstest.NewServer(t, jobsZone)
	port, lns := smtptest.Listen(t, "127.0.0.1")
	smtptest.Serve(t, lns[0], smtptest.Options{Rcpt: func(rcpt string) (smtptest.Reply, bool) {
		switch {
		case strings.HasSuffix(rcpt, "@catchall.test"):
			return smtptest.Accept(), true
		case strings.HasSuffix(rcpt, "@slow.test"):
			time.Sleep(3 * time.Second)
			return smtptest.Accept(), true
		case jobsMailboxes[strings.ToLower(rcpt)]:
			return smtptest.Accept(), true
		}
		return smtptest.GmailUserUnknown(), true
	}})
	lists, err := disposable.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := mx.New(mx.Config{Resolvers: []string{dns.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := probe.New(probe.Config{Port: port, AllowPrivate: true, HELO: "probe.preflight.test", MailFrom: "verify@preflight.test",
		RatePerHost: 100, BurstPerHost: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := verify.New(verify.Config{ProbeEnabled: true, ProbeTimeout: 10 * time.Second, CacheTTL: time.Hour, UnknownTTL: time.Minute, CacheSize: 1000},
		verify.Deps{Lists: lists, Resolver: res, Prober: pr, Suggester: syntax.DefaultSuggester()})
	db, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := jobs.New(context.Background(), cfg, db, jobs.Deps{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		v.Close()
		pr.Close()
		db.Close()
	})
	e := New(Config{DefaultTimeout: 2 * time.Second, MaxTimeout: 5 * time.Second, BatchMax: 3, MaxBodyBytes: 2048},
		Deps{Verifier: v, Jobs: m})
	return jobsEnv{e: e, m: m, db: db}
}

func (env jobsEnv) do(t *testing.T, method, target, contentType string, body []byte, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	env.e.ServeHTTP(rec, req)
	return rec
}

// waitDone polls GET /v1/jobs/ID until the job is done and returns the
// last status body.
func (env jobsEnv) waitDone(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec := env.do(t, "GET", "/v1/jobs/"+id, "", nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET job: %d %s", rec.Code, rec.Body)
		}
		var st map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		if st["status"] == "done" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not done after 30s: %s", rec.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (env jobsEnv) create(t *testing.T, target, contentType string, body []byte, header ...string) string {
	t.Helper()
	rec := env.do(t, "POST", target, contentType, body, header...)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST %s: %d %s", target, rec.Code, rec.Body)
	}
	var created map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	id, _ := created["id"].(string)
	if id == "" || created["status"] != "queued" && created["status"] != "running" || len(created) != 2 {
		t.Fatalf("reply %s", rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/jobs/"+id {
		t.Errorf("Location %q", loc)
	}
	return id
}

func multipartBody(t *testing.T, field, name string, content []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("note", "ignored")
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

const (
	mailchimpCSV = "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,TAGS\n" +
		"jane@acme.test,Jane,Doe,2,2024-03-01 10:12:00,\"newsletter,vip\"\n" +
		"gone@acme.test,Bob,Smith,1,2024-03-02 08:00:00,\n" +
		"Carla@ACME.test,Carla,Nunes,4,2024-03-04 09:30:00,customer\n" +
		"anyone@catchall.test,Dmitri,Ivanov,2,2024-03-05 11:00:00,\n" +
		"jane@acme.test,Jane,Doe (dup),2,2024-03-06 10:12:00,\n" +
		"x@nullmx.test,Null,Mx,1,,\n" +
		"not an address,Nobody,,1,,\n"
	hubspotCSV = "Record ID,First Name,Last Name,Email,Phone Number,Lifecycle Stage\n" +
		"5101,Ann,Lopez,ann@acme.test,+1 555 0100,lead\n" +
		"5102,Eve,Ng,eve@corp.test,=HYPERLINK(\"http://x.test\"),customer\n" +
		"5103,Cy,Ode,cy@corp.test,,subscriber\n"
	semicolonBOM = "\ufeffVorname;Nachname;E-Mail;Umsatz\n" +
		"Jürgen;Müller;bob@corp.test;1.234,50\n" +
		"Zoë;Weiß;zoe@corp.test;-12,00\n"
	quotedNewlines = "Name,Work Email,Notes\n" +
		"\"Doe, Jane\",jane@acme.test,\"Met at the fair.\nWants a demo \"\"next week\"\".\"\n" +
		"Eve,eve@corp.test,\"Line one\nLine two\"\n"
	noHeader = "dmitri@corp.test,Dmitri,12\nghost@corp.test,Ghost,7\n"
)

// TestJobsDialects uploads the export styles of the big tools through the
// API, in each way an upload can come, and compares the results with
// testdata/jobs_*.csv.
func TestJobsDialects(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{})
	mp, mpType := multipartBody(t, "file", "hubspot.csv", []byte(hubspotCSV))
	mpgz, mpgzType := multipartBody(t, "file", "quoted.csv.gz", gzipped(t, []byte(quotedNewlines)))
	tests := []struct {
		name, target, contentType string
		body                      []byte
		header                    []string
	}{
		{"mailchimp", "/v1/jobs", "text/csv", []byte(mailchimpCSV), nil},
		{"hubspot_multipart", "/v1/jobs", mpType, mp, nil},
		{"semicolon_bom_gzip", "/v1/jobs", "text/csv", gzipped(t, []byte(semicolonBOM)), []string{"Content-Encoding", "gzip"}},
		{"quoted_newlines_multipart_gzip", "/v1/jobs", mpgzType, mpgz, nil},
		{"no_header_column", "/v1/jobs?column=1", "", []byte(noHeader), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := env.create(t, tt.target, tt.contentType, tt.body, tt.header...)
			env.waitDone(t, id)
			rec := env.do(t, "GET", "/v1/jobs/"+id+"/results", "", nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("results: %d %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			goldenFile(t, "jobs_"+tt.name+".csv", rec.Body.Bytes())
		})
	}
}

// TestJobsSummary checks the status body of a finished job: counts by
// verdict and reason, and the safe-to-send advice.
func TestJobsSummary(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{})
	id := env.create(t, "/v1/jobs", "text/csv", []byte(mailchimpCSV))
	st := env.waitDone(t, id)
	for _, k := range []string{"created_at", "started_at", "finished_at", "id"} {
		delete(st, k)
	}
	body, _ := json.Marshal(st)
	golden(t, "jobs_status_done", body)
}

// TestJobsExportOptions: JSONL, the verdict filter, and neutralisation
// with its raw override.
func TestJobsExportOptions(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{})
	id := env.create(t, "/v1/jobs", "text/csv", []byte(hubspotCSV))
	env.waitDone(t, id)
	tests := []struct {
		query, contentType string
		status             int
		contains, lacks    []string
		lines              int
	}{
		{"", "text/csv; charset=utf-8", 200, []string{`'=HYPERLINK(""http://x.test"")`, ",+1 555 0100,"}, []string{",=HYPERLINK", "'+1"}, 4},
		{"?neutralize=false", "text/csv; charset=utf-8", 200, []string{`,"=HYPERLINK(""http://x.test"")"`, ",+1 555 0100,"}, nil, 4},
		{"?neutralize=maybe", "application/json; charset=utf-8", 400, []string{"invalid_neutralize"}, nil, 1},
		{"?raw=true", "text/csv; charset=utf-8", 200, []string{`,"=HYPERLINK(""http://x.test"")"`, ",+1 555 0100,"}, nil, 4},
		{"?verdict=deliverable,risky", "text/csv; charset=utf-8", 200, []string{"ann@acme.test", "eve@corp.test"}, []string{"cy@corp.test"}, 3},
		{"?verdict=undeliverable&format=jsonl", "application/x-ndjson", 200, []string{`"fields":{"Record ID":"5103"`, `"email":"cy@corp.test"`, `"code":550`}, []string{"ann@"}, 1},
		{"?format=xml", "application/json; charset=utf-8", 400, []string{"invalid_format"}, nil, 1},
		{"?verdict=maybe", "application/json; charset=utf-8", 400, []string{"invalid_verdict"}, nil, 1},
		{"?raw=perhaps", "application/json; charset=utf-8", 400, []string{"invalid_raw"}, nil, 1},
		{"?partial=maybe", "application/json; charset=utf-8", 400, []string{"invalid_partial"}, nil, 1},
		{"?partial=true", "text/csv; charset=utf-8", 200, []string{"ann@acme.test"}, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rec := env.do(t, "GET", "/v1/jobs/"+id+"/results"+tt.query, "", nil)
			if rec.Code != tt.status {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.contentType {
				t.Errorf("content type %q, want %q", ct, tt.contentType)
			}
			body := rec.Body.String()
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(body, s) {
					t.Errorf("body has %q:\n%s", s, body)
				}
			}
			if n := strings.Count(strings.TrimSpace(body), "\n") + 1; n != tt.lines {
				t.Errorf("%d lines, want %d:\n%s", n, tt.lines, body)
			}
		})
	}
}

// TestJobsRejected: bad uploads get a 4xx whose message helps, and leave
// no job behind.
func TestJobsRejected(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{MaxUploadBytes: 4096, MaxRows: 50})
	nofile, nofileType := multipartBody(t, "upload", "list.csv", []byte(mailchimpCSV))
	tests := []struct {
		name, target, contentType string
		body                      []byte
		status                    int
		code, message             string
	}{
		{"unterminated quote", "/v1/jobs", "text/csv", []byte("email,name\njane@acme.test,Jane\nbob@corp.test,\"Bob\nann@acme.test,Ann\n"), 400, "invalid_csv", "line 3"},
		{"not csv", "/v1/jobs", "text/csv", append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0, 7, 1}, 40)...), 400, "invalid_csv", "Excel"},
		{"no email column", "/v1/jobs", "text/csv", []byte("name,city\nJane,Paris\nBob,Rome\n"), 400, "invalid_csv", "no column looks like email"},
		{"unknown column", "/v1/jobs?column=Mail", "text/csv", []byte(mailchimpCSV), 400, "invalid_csv", "no such column"},
		{"header only", "/v1/jobs", "text/csv", []byte("email,name\n"), 400, "invalid_csv", "no data rows"},
		{"too many rows", "/v1/jobs", "text/csv", []byte("email\n" + strings.Repeat("jane@acme.test\n", 51)), 413, "upload_too_large", "50 rows"},
		{"too large", "/v1/jobs", "text/csv", []byte("email,pad\n" + strings.Repeat("jane@acme.test,"+strings.Repeat("x", 200)+"\n", 30)), 413, "upload_too_large", "too large"},
		{"gzip bomb", "/v1/jobs", "text/csv", gzipped(t, []byte("email,pad\n"+strings.Repeat("jane@acme.test,"+strings.Repeat("x", 200)+"\n", 3000))), 413, "upload_too_large", "too large"},
		{"multipart without file", "/v1/jobs", nofileType, nofile, 400, "missing_file", "field named file"},
		{"json", "/v1/jobs", "application/json", []byte(`{"emails":["a@b.test"]}`), 415, "unsupported_media_type", "text/csv"},
		{"private callback", "/v1/jobs?callback_url=http://127.0.0.1:9/hook", "text/csv", []byte(mailchimpCSV), 400, "invalid_callback_url", "public host"},
		{"bad callback", "/v1/jobs?callback_url=ftp://example.test/x", "text/csv", []byte(mailchimpCSV), 400, "invalid_callback_url", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.do(t, "POST", tt.target, tt.contentType, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			if body.Error.Code != tt.code || !strings.Contains(body.Error.Message, tt.message) {
				t.Errorf("error %+v, want code %s and a message with %q", body.Error, tt.code, tt.message)
			}
			var n int
			if err := env.db.QueryRow(`SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM job_rows) + (SELECT count(*) FROM job_addresses)`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d rows left behind", n)
			}
		})
	}
}

// TestJobsStoreFull: an upload that would pass jobs.max_stored_rows is a
// 507 that says what to do, and stores nothing.
func TestJobsStoreFull(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{MaxStoredRows: 60})
	if rec := env.do(t, "POST", "/v1/jobs", "text/csv", []byte("email\n"+strings.Repeat("jane@acme.test\n", 40))); rec.Code != 202 {
		t.Fatalf("first upload: %d %s", rec.Code, rec.Body)
	}
	rec := env.do(t, "POST", "/v1/jobs", "text/csv", []byte("email\n"+strings.Repeat("bob@acme.test\n", 30)))
	if rec.Code != http.StatusInsufficientStorage || !strings.Contains(rec.Body.String(), "store_full") {
		t.Fatalf("upload past the limit: %d %s, want 507 store_full", rec.Code, rec.Body)
	}
	var n int
	if err := env.db.QueryRow(`SELECT count(*) FROM job_rows`).Scan(&n); err != nil || n != 40 {
		t.Fatalf("%d rows stored, %v; want the first upload's 40", n, err)
	}
}

// TestJobsUploadNotBoundByBodyLimit: uploads are bounded by
// jobs.max_upload_bytes, not by the small http.max_body_bytes (2048 here).
func TestJobsUploadNotBoundByBodyLimit(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{})
	var b strings.Builder
	b.WriteString("email,note\n")
	for i := range 400 {
		fmt.Fprintf(&b, "user%d@acme.test,%s\n", i, strings.Repeat("n", 20))
	}
	if b.Len() < 10000 {
		t.Fatal("body too small to test the limit")
	}
	env.create(t, "/v1/jobs", "text/csv", []byte(b.String()))
	if rec := env.do(t, "POST", "/v1/verify", "application/json", []byte(`{"email": "`+strings.Repeat("a", 4096)+`"}`)); rec.Code != 413 {
		t.Errorf("verify body limit lost: %d", rec.Code)
	}
}

// TestJobsCancel: results of a running job are refused with 409; DELETE
// cancels it and removes its data; the id is then unknown.
func TestJobsCancel(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{})
	id := env.create(t, "/v1/jobs", "text/csv", []byte("email\nann@slow.test\nbob@slow.test\n"))
	if rec := env.do(t, "GET", "/v1/jobs/"+id+"/results", "", nil); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "job_not_done") {
		t.Errorf("results of a running job: %d %s", rec.Code, rec.Body)
	}
	if rec := env.do(t, "DELETE", "/v1/jobs/"+id, "", nil); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	for _, target := range []string{"/v1/jobs/" + id, "/v1/jobs/" + id + "/results"} {
		if rec := env.do(t, "GET", target, "", nil); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "job_not_found") {
			t.Errorf("GET %s after DELETE: %d %s", target, rec.Code, rec.Body)
		}
	}
	if rec := env.do(t, "DELETE", "/v1/jobs/"+id, "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("second DELETE: %d", rec.Code)
	}
	var n int
	if err := env.db.QueryRow(`SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM job_rows) + (SELECT count(*) FROM job_addresses)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows left after DELETE", n)
	}
}

func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("body differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// exportFails is a Jobs whose one job is done but whose export fails
// before writing anything (the job was deleted meanwhile, or the store
// failed).
type exportFails struct {
	Jobs
	err error
}

func (f exportFails) Status(_ context.Context, id string) (jobs.Status, error) {
	return jobs.Status{ID: id, Status: jobs.Done}, nil
}

func (f exportFails) Export(context.Context, string, io.Writer, jobs.ExportOptions) error {
	return f.err
}

// TestJobsExportErrorBeforeFirstByte: an export that fails before its first
// byte is answered with a JSON error, not with the file's Content-Type and
// Content-Disposition.
func TestJobsExportErrorBeforeFirstByte(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
		want string
	}{
		{jobs.ErrNotFound, http.StatusNotFound, "job_not_found"},
		{errors.New("disk I/O error"), http.StatusInternalServerError, "internal"},
	} {
		for _, format := range []string{"csv", "jsonl"} {
			e := New(Config{DefaultTimeout: time.Second, MaxTimeout: time.Second}, Deps{Jobs: exportFails{err: tt.err}})
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/jobs/abc/results?format="+format, nil))
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("%s, %v: %d %s", format, tt.err, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s, %v: Content-Type %q", format, tt.err, ct)
			}
			if cd := rec.Header().Get("Content-Disposition"); cd != "" {
				t.Errorf("%s, %v: Content-Disposition %q", format, tt.err, cd)
			}
			if strings.Contains(rec.Body.String(), "disk") {
				t.Errorf("internal error echoed: %s", rec.Body)
			}
		}
	}
}

// TestJobsFinishDone: a done job cannot be finished early.
func TestJobsFinishDone(t *testing.T) {
	env := newJobsEngine(t, jobs.Config{})
	id := env.create(t, "/v1/jobs", "text/csv", []byte(hubspotCSV))
	env.waitDone(t, id)
	rec := env.do(t, "POST", "/v1/jobs/"+id+"/finish", "", nil)
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "job_not_running") {
		t.Fatalf("%d %s, want 409 job_not_running", rec.Code, rec.Body)
	}
	if rec := env.do(t, "POST", "/v1/jobs/nosuchjob/finish", "", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown job: %d %s", rec.Code, rec.Body)
	}
}

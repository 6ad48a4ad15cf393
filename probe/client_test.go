package probe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// replyGolden is what readReply made of one input.
type replyGolden struct {
	Code     int      `json:"code"`
	Enhanced string   `json:"enhanced"`
	Text     string   `json:"text"`
	Lines    []string `json:"lines,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// TestReadReply reads each raw reply under testdata/replies/*.txt and
// compares the result with its .golden file. Run with -update to rewrite
// the golden files after a deliberate change.
func TestReadReply(t *testing.T) {
	inputs, err := filepath.Glob("testdata/replies/*.txt")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			c := &client{r: bufio.NewReaderSize(bytes.NewReader(raw), readBufferSize)}
			r, err := c.readReply()
			got := replyGolden{Code: r.Code, Enhanced: r.Enhanced, Text: r.Text}
			if err != nil {
				got = replyGolden{Error: err.Error()}
			} else if len(c.lines) > 1 {
				got.Lines = c.lines
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			golden := strings.TrimSuffix(in, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("got\n%s\nwant\n%s", b, want)
			}
		})
	}
}

// TestReplyErrors checks that hostile and broken replies map to the
// typed errors, whatever the golden files say.
func TestReplyErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"250 " + strings.Repeat("x", maxLineLen) + "\r\n", errLineTooLong},
		{strings.Repeat("250-x\r\n", maxReplyLines) + "250 x\r\n", errTooManyLines},
		{"250-a\r\n251 b\r\n", errMalformedReply},
		{"abc\r\n", errMalformedReply},
		{"25\r\n", errMalformedReply},
		{"650 too high\r\n", errMalformedReply},
		{"250-a\r\n", io.EOF},
		{"", io.EOF},
	}
	for _, tc := range tests {
		c := &client{r: bufio.NewReaderSize(strings.NewReader(tc.in), readBufferSize)}
		if _, err := c.readReply(); !errors.Is(err, tc.want) {
			name := tc.in
			if len(name) > 40 {
				name = name[:40] + "..."
			}
			t.Errorf("%q: err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestSplitEnhanced(t *testing.T) {
	tests := []struct {
		s        string
		code     int
		enhanced string
		rest     string
	}{
		{"5.1.1 User unknown", 550, "5.1.1", "User unknown"},
		{"5.1.10 Recipient address rejected", 550, "5.1.10", "Recipient address rejected"},
		{"4.7.0 try later", 421, "4.7.0", "try later"},
		{"2.0.0", 250, "2.0.0", ""},
		{"5.1.1 ", 550, "5.1.1", ""},
		{"4.1.1 class differs", 550, "", "4.1.1 class differs"},
		{"5.1 too short", 550, "", "5.1 too short"},
		{"5.1.1000 detail too long", 550, "", "5.1.1000 detail too long"},
		{"5.1.1.2 four parts", 550, "", "5.1.1.2 four parts"},
		{"5.1.1x", 550, "", "5.1.1x"},
		{"User unknown", 550, "", "User unknown"},
		{"", 550, "", ""},
	}
	for _, tc := range tests {
		enh, rest, ok := splitEnhanced(tc.s, tc.code)
		if enh != tc.enhanced || rest != tc.rest || ok != (tc.enhanced != "") {
			t.Errorf("splitEnhanced(%q, %d) = %q, %q, %v; want %q, %q", tc.s, tc.code, enh, rest, ok, tc.enhanced, tc.rest)
		}
	}
}

// TestNoDATA checks the rule the whole package is built around: the probe
// never sends DATA. The client writes only allowed verbs, and no string
// in the package's code spells DATA or BDAT.
func TestNoDATA(t *testing.T) {
	for _, v := range []string{"DATA", "BDAT", "data", "VRFY", "EXPN", "AUTH", "TURN", "ETRN"} {
		if allowedVerb(v) {
			t.Errorf("allowedVerb(%q) = true", v)
		}
	}
	// cmd refuses DATA before writing anything.
	server, conn := net.Pipe()
	defer server.Close()
	c := &client{host: "mx.test", raw: conn, conn: conn, r: bufio.NewReader(conn), ctx: t.Context(),
		limits: timeouts{command: time.Second}}
	written := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		written <- b
	}()
	for _, v := range []string{"DATA", "BDAT"} {
		if _, err := c.cmd("test", v, ""); !errors.Is(err, errVerbNotAllowed) {
			t.Errorf("cmd(%s): err = %v, want errVerbNotAllowed", v, err)
		}
	}
	// Nor can an argument smuggle a second command.
	if _, err := c.cmd("test", "RCPT", "TO:<a@b.c>\r\nDATA"); !errors.Is(err, errBadArgument) {
		t.Errorf("RCPT with CRLF: err = %v, want errBadArgument", err)
	}
	conn.Close()
	if b := <-written; len(b) != 0 {
		t.Errorf("client wrote %q", b)
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, w := range strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool { return r < 'A' || r > 'Z' }) {
				if w == "DATA" || w == "BDAT" {
					t.Errorf("%s: string literal %s spells %s", fset.Position(lit.Pos()), lit.Value, w)
				}
			}
			return true
		})
	}
}

func TestCatchAllCache(t *testing.T) {
	c := newCatchAllCache(10)
	now := time.Unix(1_700_000_000, 0)
	c.put("a.test", CatchAllYes, time.Hour, now)
	c.put("b.test", CatchAllNo, time.Minute, now)
	if st, ok := c.get("a.test", now.Add(59*time.Minute)); !ok || st != CatchAllYes {
		t.Errorf("a.test = %v, %v", st, ok)
	}
	if _, ok := c.get("b.test", now.Add(time.Minute)); ok {
		t.Error("b.test still cached after its TTL")
	}
	if _, ok := c.get("c.test", now); ok {
		t.Error("c.test cached without a put")
	}
	for i := range 100 {
		c.put(strconv.Itoa(i)+".test", CatchAllNo, time.Hour, now)
		if n := c.len(); n > 10 {
			t.Fatalf("cache holds %d entries, max 10", n)
		}
	}
	// The newest entry always survives its own insertion.
	if _, ok := c.get("99.test", now); !ok {
		t.Error("newest entry evicted")
	}
	c.put("zero.test", CatchAllYes, 0, now)
	if _, ok := c.get("zero.test", now); ok {
		t.Error("zero TTL cached")
	}
}

// TestTestLocal checks the catch-all test's local part: 20 of [a-z0-9],
// the same for a domain within one engine, different between domains and
// between engines (each has its own random key).
func TestTestLocal(t *testing.T) {
	newE := func() *Engine {
		e, err := New(Config{HELO: "probe.example.com", MailFrom: "v@example.com"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	e1, e2 := newE(), newE()
	seen := map[string]bool{}
	for i := range 1000 {
		domain := "d" + strconv.Itoa(i) + ".test"
		l := e1.testLocal(domain)
		if len(l) != testLocalLen || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Fatalf("testLocal(%s) = %q", domain, l)
		}
		if again := e1.testLocal(domain); again != l {
			t.Fatalf("testLocal(%s) = %q, then %q: want it stable", domain, l, again)
		}
		if other := e2.testLocal(domain); other == l {
			t.Fatalf("two engines chose %q for %s: want a key per engine", l, domain)
		}
		if seen[l] {
			t.Fatalf("testLocal repeated %q across domains", l)
		}
		seen[l] = true
	}
}

func TestRcptMax(t *testing.T) {
	for limits, want := range map[string]int{
		"RCPTMAX=50":                50,
		"MAILMAX=10 RCPTMAX=5":      5,
		"rcptmax=7":                 7,
		"MAILMAX=10":                0,
		"RCPTMAX=abc":               0,
		"RCPTMAX=99999999999999999": 0,
	} {
		c := &client{ext: map[string]string{"LIMITS": limits}}
		if got := c.rcptMax(); got != want {
			t.Errorf("LIMITS %s: rcptMax = %d, want %d", limits, got, want)
		}
	}
}

func TestBackoffGrowth(t *testing.T) {
	e, err := New(Config{HELO: "probe.example.com", MailFrom: "v@example.com", BackoffMin: time.Second, BackoffMax: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := newDispatcher(e, "mx.test")
	var got []time.Duration
	for range 5 {
		d.mu.Lock()
		got = append(got, d.pauseLocked())
		d.mu.Unlock()
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff = %v, want %v", got, want)
		}
	}
	d.healthy()
	d.mu.Lock()
	if p := d.pauseLocked(); p != time.Second {
		t.Errorf("after success backoff = %v, want 1s", p)
	}
	d.mu.Unlock()
}

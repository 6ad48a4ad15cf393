package fleet

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseRates(t *testing.T) {
	tests := []struct {
		in      []string
		want    []Rate
		wantErr bool
	}{
		{nil, nil, false},
		{[]string{"google.com=20", " Outlook.com.=2.5 "}, []Rate{{"google.com", 20}, {"outlook.com", 2.5}}, false},
		{[]string{"google.com"}, nil, true},
		{[]string{"=20"}, nil, true},
		{[]string{"google.com=0"}, nil, true},
		{[]string{"google.com=-3"}, nil, true},
		{[]string{"google.com=fast"}, nil, true},
		{[]string{"google.com=NaN"}, nil, true},
		{[]string{"http://google.com=20"}, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseRates(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseRates(%q) error = %v", tt.in, err)
			continue
		}
		if !tt.wantErr && (len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) || (len(got) > 1 && got[1] != tt.want[1])) {
			t.Errorf("ParseRates(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestProviderMatchesWholeLabels(t *testing.T) {
	c := &Client{cfg: Config{Rates: []Rate{{"google.com", 20}, {"l.google.com", 5}, {"outlook.com", 10}}}}
	tests := []struct {
		host string
		want float64
	}{
		{"gmail-smtp-in.l.google.com", 5}, // the longest suffix wins
		{"aspmx.google.com.", 20},
		{"GOOGLE.COM", 20},
		{"notgoogle.com", 0},
		{"example-com.mail.protection.outlook.com", 10},
		{"mx.example.net", 0},
	}
	for _, tt := range tests {
		r, ok := c.provider(tt.host)
		if ok != (tt.want > 0) || r.PerSecond != tt.want {
			t.Errorf("provider(%q) = %v %v, want %v", tt.host, r, ok, tt.want)
		}
	}
}

// TestUnreachableAtStart: a Redis that does not answer at start leaves the
// client degraded, logged once, and every operation returns at once with
// the local answer's fallbacks (a miss, no wait). No Redis is needed.
func TestUnreachableAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs bytes.Buffer
	c, err := Open(Config{URL: "redis://" + addr + "/0", Rates: []Rate{{"test", 1}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Health() != "degraded" {
		t.Fatalf("Health = %q", c.Health())
	}
	ctx := context.Background()
	start := time.Now()
	for range 100 {
		if _, _, ok := c.Cache("result").Get(ctx, "a@b.test"); ok {
			t.Fatal("hit without Redis")
		}
		c.Cache("result").Set(ctx, "a@b.test", []byte("x"), time.Minute)
		if d := c.AllowRcpt(ctx, "mx.test"); d != 0 {
			t.Fatalf("AllowRcpt = %s without Redis", d)
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("300 operations took %s while degraded", d)
	}
	if n := strings.Count(logs.String(), "redis unreachable"); n != 1 {
		t.Errorf("%d warnings:\n%s", n, logs.String())
	}
	if s := c.Stats(); s.Up || s.Outages != 1 || s.Caches["result"].LocalMisses != 100 {
		t.Errorf("stats: %+v", s)
	}
	var nilClient *Client
	if nilClient.Health() != "" {
		t.Error("a nil client must report no health")
	}
}

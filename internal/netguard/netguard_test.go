package netguard

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// TestPublic reads testdata/public.txt: an address, "public" or
// "private", and why.
func TestPublic(t *testing.T) {
	f, err := os.Open("testdata/public.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 2 || (fields[1] != "public" && fields[1] != "private") {
			t.Fatalf("public.txt:%d: want an address and public or private", line)
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil {
			t.Fatalf("public.txt:%d: %v", line, err)
		}
		want := fields[1] == "public"
		if got := Public(a); got != want {
			t.Errorf("public.txt:%d: Public(%s) = %v, want %v (%s)", line, a, got, want, strings.Join(fields[2:], " "))
		}
		n++
	}
	if err := sc.Err(); err != nil || n < 50 {
		t.Fatalf("read %d cases: %v", n, err)
	}
}

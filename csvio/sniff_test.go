package csvio

import "testing"

func TestLooksLikeEmail(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"ann@example.com", true},
		{"  ann@example.com\u00a0", true},
		{"ann.lee+news@sub.example.co.uk", true},
		{"\u200bann@example.com", true},
		{"ann@example", false},
		{"ann@.com", false},
		{"ann@example.", false},
		{"@example.com", false},
		{"ann@@example.com", false},
		{"a@b@example.com", false},
		{"Ann Lee <ann@example.com>", false},
		{"example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := looksLikeEmail(tt.in); got != tt.want {
			t.Errorf("looksLikeEmail(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

// TestAddressLike: the cells that keep a first row above a column of
// addresses from being taken as its header, and header names that do not.
func TestAddressLike(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"jane@example", true},
		{"jane@@example.com", true},
		{"@example.com", true},
		{"Jane <jane@example.com>", true},
		{"jane at example.com", true},
		{"jane AT example.co.uk", true},
		{"jane(at)example.com", true},
		{"jane [at] example.com", true},
		{"jane.example.com", true},
		{" jane.doe ", true},
		{"Contact", false},
		{"E-Mail-Adr.", false},
		{"Email at work", false},
		{"Address at sign-up", false},
		{"Work address", false},
		{"at example.com", false},
		{"", false},
	} {
		if got := addressLike(tt.in); got != tt.want {
			t.Errorf("addressLike(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

// TestEmailColumn covers the header-name rules: normalization, tiers, and
// the value checks that keep look-alike names from winning.
func TestEmailColumn(t *testing.T) {
	addr := []string{"a@example.com", "b@example.org"}
	tests := []struct {
		name   string
		header []string
		rows   [][]string
		want   int
	}{
		{"Mailchimp", []string{"Email Address", "First Name"}, rows2(addr, []string{"A", "B"}), 0},
		{"upper case", []string{"ID", "EMAIL"}, rows2([]string{"1", "2"}, addr), 1},
		{"E-mail", []string{"Name", "E-mail"}, rows2([]string{"A", "B"}, addr), 1},
		{"email_address", []string{"name", "email_address"}, rows2([]string{"A", "B"}, addr), 1},
		{"German", []string{"Vorname", "E-Mail-Adresse"}, rows2([]string{"A", "B"}, addr), 1},
		{"French", []string{"Nom", "Courriel"}, rows2([]string{"A", "B"}, addr), 1},
		{"plain email beats Work Email", []string{"Work Email", "Email"}, rows2(addr, addr), 1},
		{"Work Email beats Owner Email", []string{"Owner Email", "Work Email"}, rows2(addr, addr), 1},
		{"Email Domain is not the address", []string{"Email Domain", "Contact"}, rows2([]string{"example.com", "example.org"}, addr), 1},
		{"Email Opt Out is not the address", []string{"Email Opt Out", "Primary Email"}, rows2([]string{"0", "1"}, addr), 1},
		{"named column empty in sample", []string{"Name", "Email"}, rows2([]string{"A", "B"}, []string{"", ""}), 1},
		{"Email holding yes/no loses to values", []string{"Email", "Contact"}, rows2([]string{"yes", "no"}, addr), 1},
		{"name trusted when no values match", []string{"Name", "Email"}, rows2([]string{"A", "B"}, []string{"Ann <a at example>", "x"}), 1},
		{"tier 3 by values", []string{"Name", "Subscriber E-mail 2"}, rows2([]string{"A", "B"}, addr), 1},
		{"values only", []string{"Name", "Contact"}, rows2([]string{"A", "B"}, addr), 1},
		{"nothing", []string{"Name", "City"}, rows2([]string{"A", "B"}, []string{"Paris", "Lyon"}), -1},
	}
	for _, tt := range tests {
		if got := emailColumn(tt.header, tt.rows); got != tt.want {
			t.Errorf("%s: emailColumn(%q) = %d; want %d", tt.name, tt.header, got, tt.want)
		}
	}
}

// rows2 zips two columns into rows.
func rows2(a, b []string) [][]string {
	rows := make([][]string, len(a))
	for i := range a {
		rows[i] = []string{a[i], b[i]}
	}
	return rows
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{
		100: "100 bytes", 1 << 10: "1 KiB", 200 << 20: "200 MiB", 2 << 30: "2 GiB", 1500: "1500 bytes",
	} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestSepLine: Excel's "sep=X" first line, and lines that only resemble it.
func TestSepLine(t *testing.T) {
	for _, tt := range []struct {
		in    string
		delim rune // 0: not a sep line
		rest  string
	}{
		{"sep=;\nEmail;Name\n", ';', "Email;Name\n"},
		{"SEP=,\r\nEmail,Name\r\n", ',', "Email,Name\r\n"},
		{"sep=\t\nEmail\tName\n", '\t', "Email\tName\n"},
		{"sep=|", '|', ""},
		{"sep=:\nEmail:Name\n", 0, ""},
		{"sep=;x\nEmail;Name\n", 0, ""},
		{"sep=\nEmail\n", 0, ""},
		{"separator,email\n", 0, ""},
	} {
		rest, delim, ok := sepLine([]byte(tt.in))
		if ok != (tt.delim != 0) || delim != tt.delim || string(rest) != tt.rest {
			t.Errorf("sepLine(%q) = %q, %q, %v; want %q, %q", tt.in, rest, delim, ok, tt.rest, tt.delim)
		}
	}
}

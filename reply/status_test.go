package reply

import "testing"

func TestDescribe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5.1.1", "Bad destination mailbox address"},
		{"4.1.1", "Bad destination mailbox address"},
		{"2.1.5", "Destination address valid"},
		{"5.0.0", "Other undefined Status"},
		{"5.1.10", "Recipient address has null MX"},
		{"5.2.1", "Mailbox disabled, not accepting messages"},
		{"4.2.2", "Mailbox full"},
		{"5.3.4", "Message too big for system"},
		{"4.4.7", "Delivery time expired"},
		{"5.5.3", "Too many recipients"},
		{"5.6.7", "Non-ASCII addresses not permitted for that sender/recipient"},
		{"5.7.1", "Delivery not authorized, message refused"},
		{"5.7.13", "User Account Disabled"},
		{"5.7.17", "Mailbox owner has changed"},
		{"5.7.26", "Multiple authentication checks failed"},
		{"5.7.27", "Sender address has null MX"},
		{"5.7.30", "REQUIRETLS support required"},
		{"3.1.1", ""},    // class 3 does not exist (RFC 3463 §3.1)
		{"5.1.99", ""},   // not registered
		{"5.9.1", ""},    // no subject 9
		{"5.1", ""},      // malformed
		{"5.1.1 ", ""},   // trailing text
		{"5.1.1111", ""}, // detail too long
		{"", ""},
	}
	for _, tt := range tests {
		if got := Describe(tt.in); got != tt.want {
			t.Errorf("Describe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRegistry walks the whole table: every registered code has a meaning
// and a source, and reads consistently under every class.
func TestRegistry(t *testing.T) {
	counts := map[int]int{}
	for subject := 0; subject <= 9; subject++ {
		for detail := 0; detail <= 40; detail++ {
			st, ok := lookupStatus(subject, detail)
			if !ok {
				continue
			}
			counts[subject]++
			if st.meaning == "" || st.src == "" {
				t.Errorf("X.%d.%d: meaning %q, source %q", subject, detail, st.meaning, st.src)
			}
			if subject > 7 {
				t.Errorf("X.%d.%d: subject outside RFC 3463 §3", subject, detail)
			}
		}
	}
	// Per-subject sizes of the registry as Preflight knows it.
	want := map[int]int{0: 1, 1: 11, 2: 5, 3: 7, 4: 8, 5: 7, 6: 11, 7: 31}
	for subject, n := range want {
		if counts[subject] != n {
			t.Errorf("subject %d: %d codes, want %d", subject, counts[subject], n)
		}
	}
}

func TestValidStatus(t *testing.T) {
	for s, want := range map[string]bool{"5.1.1": true, "4.7.0": true, "2.0.0": true, "5.1.10": true, "5.1": false, "3.1.1": false, "5.a.1": false, "5..1": false, "": false, "5.1.1.1": false} {
		if got := ValidStatus(s); got != want {
			t.Errorf("ValidStatus(%q) = %v, want %v", s, got, want)
		}
	}
}

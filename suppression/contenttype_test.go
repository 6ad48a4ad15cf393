package suppression

import (
	"errors"
	"strings"
	"testing"
)

// TestParseEventsBadContentType: a Content-Type that cannot be parsed is
// ErrMalformed in our own words, without mime's error text.
func TestParseEventsBadContentType(t *testing.T) {
	body := []byte(`{"email": "a@example.com", "message": "550 5.1.1 no such user"}`)
	for _, ct := range []string{"application/json; charset", "application/json;;", "/json", "application/json; a=\"b"} {
		_, err := ParseEvents(body, ct)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: err = %v, want ErrMalformed", ct, err)
		}
		if msg := err.Error(); strings.Contains(msg, "mime") || !strings.Contains(msg, "Content-Type header cannot be parsed") {
			t.Errorf("%q: message %q", ct, msg)
		}
	}
	if _, err := ParseEvents(body, "application/json; charset=utf-8"); err != nil {
		t.Errorf("a good content type: %v", err)
	}
}

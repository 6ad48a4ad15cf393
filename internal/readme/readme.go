// Package readme keeps generated sections of README.md in step with the code:
// a test renders a section from the code and either checks it against the
// README or, with -update, rewrites it.
package readme

import (
	"bytes"
	"fmt"
	"os"
)

// Section replaces or checks the text between the lines that start with
// "<!-- name" and "<!-- /name -->" in the file at path. With update false it
// returns an error when the file's section differs from body.
func Section(path, name, body string, update bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	open := []byte("<!-- " + name)
	closing := []byte("<!-- /" + name + " -->")
	i := bytes.Index(data, open)
	j := bytes.Index(data, closing)
	if i < 0 || j < i {
		return fmt.Errorf("%s: markers for section %q not found", path, name)
	}
	start := i + bytes.IndexByte(data[i:], '\n') + 1
	current := string(data[start:j])
	if current == body {
		return nil
	}
	if !update {
		return fmt.Errorf("%s: section %q is out of date; run the test with -update", path, name)
	}
	out := append([]byte{}, data[:start]...)
	out = append(out, body...)
	out = append(out, data[j:]...)
	return os.WriteFile(path, out, 0o644)
}

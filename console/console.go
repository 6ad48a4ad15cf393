// Package console holds the web console and the signup-form widget: static
// files embedded in the binary, with no CDN and no build step. The console
// is plain HTML, CSS and JavaScript (no framework), so what is committed is
// what is served.
package console

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the console's files: index.html, demo.html, widget.js and
// assets/.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

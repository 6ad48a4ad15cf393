package handlers

import (
	"bytes"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/console"
)

// pageCSP keeps the console's pages to their own files: no inline script,
// no third party, no framing.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

type consoleRoutes struct {
	files fs.FS
	demo  *template.Template
}

func (a *API) registerConsole(r *gin.Engine) {
	files := console.Files()
	cr := &consoleRoutes{files: files, demo: template.Must(template.ParseFS(files, "demo.html"))}
	r.GET("/", cr.file("index.html"))
	r.GET("/widget.js", cr.file("widget.js"))
	r.GET("/assets/*file", cr.asset)
	r.GET("/demo", cr.demoPage)
}

func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (cr *consoleRoutes) serve(c *gin.Context, name string) {
	b, err := fs.ReadFile(cr.files, name)
	if err != nil {
		abort(c, http.StatusNotFound, "not_found", "no such file")
		return
	}
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	if strings.HasSuffix(name, ".html") {
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Referrer-Policy", "no-referrer")
	}
	c.Data(http.StatusOK, contentType(name), b)
}

func (cr *consoleRoutes) file(name string) gin.HandlerFunc {
	return func(c *gin.Context) { cr.serve(c, name) }
}

func (cr *consoleRoutes) asset(c *gin.Context) {
	name := path.Clean("/" + c.Param("file"))
	cr.serve(c, "assets"+name)
}

// demoPage shows the widget on a sample signup form, with the publishable
// key given as ?key=.
func (cr *consoleRoutes) demoPage(c *gin.Context) {
	data := struct {
		Key, Email string
		Submitted  bool
	}{Key: c.Query("key"), Email: c.Query("email"), Submitted: c.Query("submitted") == "1"}
	if !strings.HasPrefix(data.Key, "pk_") {
		data.Key = "" // only a publishable key belongs in a page
	}
	var b bytes.Buffer
	if err := cr.demo.Execute(&b, data); err != nil {
		abort(c, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	c.Header("Content-Security-Policy", pageCSP)
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", b.Bytes())
}

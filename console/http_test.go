package console_test

import "net/http"

// httpHandler serves one HTML page, made on each request, at every path.
func httpHandler(html func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(html()))
	})
}

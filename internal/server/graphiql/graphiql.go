// Package graphiql serves GraphiQL from the binary: a page of our own and the
// browser bundles it loads, vendored unchanged from the npm packages
// graphiql@4.1.2, react@18.2.0 and react-dom@18.2.0 (the versions gqlgen's
// playground loads from a CDN), so that the page works with no network beyond
// this server. See assets/README.md for how to update them.
package graphiql

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed index.html assets
var files embed.FS

// contentSecurityPolicy lets the page load nothing from anywhere but this
// server; GraphiQL sets inline styles and its stylesheet embeds its fonts.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the GraphiQL page on GET / and its files under GET /graphiql/.
// The page talks to /graphql on the same origin.
func Handler() http.Handler {
	page, err := files.ReadFile("index.html")
	if err != nil {
		panic(err) // embedded above
	}
	assets, err := fs.Sub(files, "assets")
	if err != nil {
		panic(err)
	}
	fileServer := http.StripPrefix("/graphiql", http.FileServerFS(assets))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /graphiql/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		// The bundles live in directories named after their version and never
		// change; the page's own script may.
		if strings.Count(r.URL.Path, "/") > 2 {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
	return mux
}

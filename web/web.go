// Package web serves billd's operator dashboard: a single page, written in plain
// HTML, CSS and JavaScript with no build step, embedded in the binary. The page speaks
// to the same /query endpoint every other client uses (HTTP for queries and mutations,
// graphql-transport-ws for subscriptions) with the API key the operator types in, so
// it can do exactly what that key may do and nothing more.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed dashboard
var embedded embed.FS

// Prefix is the URL path the dashboard is served under.
const Prefix = "/dashboard/"

// asset is one embedded file, read once, with the ETag of its content.
type asset struct {
	name string
	body []byte
	etag string
}

// securityHeaders keep the page to its own origin: scripts, styles and images from
// itself only, requests (fetch and websocket) to itself only, and never framed.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
	// Revalidate every time (cheap, thanks to the ETag): a new billd binary
	// serves its own dashboard at once.
	"Cache-Control": "no-cache",
}

// Dashboard returns the handler serving the dashboard's files under /dashboard/
// (index.html at /dashboard/ itself); /dashboard redirects there. It answers GET
// and HEAD only, and 404 for anything it does not hold.
func Dashboard() http.Handler {
	assets := map[string]asset{}
	err := fs.WalkDir(embedded, "dashboard", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "dashboard/")
		assets[name] = asset{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: reading the embedded dashboard: " + err.Error()) // cannot happen: the files are compiled in
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			target := Prefix
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[path.Clean(name)]
		if !ok || path.Clean(name) != name {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		for k, v := range securityHeaders {
			h.Set(k, v)
		}
		h.Set("ETag", a.etag)
		// ServeContent sets Content-Type from the name and answers If-None-Match and Range.
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}

// Package web is Chatr's browser client: a Vue 3 single-page app written as
// plain ES modules (no bundler, no build step), with Vue and Bulma taken from
// the npm registry (package-lock.json) and embedded in the binary, so the
// page loads nothing from elsewhere and runs under a strict
// Content-Security-Policy.
//
// Before building, `npm ci` in this folder fetches node_modules; only the
// two vendored files named below are embedded. The package knows nothing of
// the server: it serves files.
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

//go:embed index.html app
//go:embed node_modules/vue/dist/vue.esm-browser.prod.js
//go:embed node_modules/bulma/css/bulma.min.css
var files embed.FS

// ContentSecurityPolicy is the policy the app is written for. Handler sends
// it with index.html when the surrounding server has not set one.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// vendored maps the URL the app code uses for a library to its embedded file.
var vendored = map[string]string{
	"/vendor/vue.esm-browser.prod.js": "node_modules/vue/dist/vue.esm-browser.prod.js",
	"/vendor/bulma.min.css":           "node_modules/bulma/css/bulma.min.css",
}

type asset struct {
	body        []byte
	contentType string
	cache       string
	etag        string
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// Assets returns the embedded files as they are in this folder: index.html,
// app/ and the two vendored files under node_modules/.
func Assets() fs.FS { return files }

// Handler serves the app: index.html at "/" and at /invite/<token>, the app's modules under
// /app/, and the vendored libraries under /vendor/<hash>/<name> (cached
// forever, the hash changes with their content). References to
// /vendor/<name> in the app's files are rewritten to the hashed URLs when
// the handler is built; the unhashed URLs are served too, revalidated.
func Handler() http.Handler {
	routes, err := buildRoutes()
	if err != nil {
		panic("web: embedded files: " + err.Error()) // the embed patterns guarantee them
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := routes[r.URL.Path]
		if !ok && isInvitePath(r.URL.Path) {
			a, ok = routes["/"], true
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", a.cache)
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(a.contentType, "text/html") && h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", ContentSecurityPolicy)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// isInvitePath tells an invite link, /invite/<token>: the app opens it
// (the server checks the token when the app posts it).
func isInvitePath(p string) bool {
	token, ok := strings.CutPrefix(p, "/invite/")
	return ok && token != "" && len(token) <= maxInviteToken && !strings.Contains(token, "/")
}

// maxInviteToken bounds the token part of an invite link served as the app.
const maxInviteToken = 128

func buildRoutes() (map[string]*asset, error) {
	routes := map[string]*asset{}
	rewrite := map[string]string{}
	for url, file := range vendored {
		b, err := files.ReadFile(file)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		hash := hex.EncodeToString(sum[:])[:12]
		name := path.Base(url)
		hashed := "/vendor/" + hash + "/" + name
		rewrite[url] = hashed
		routes[hashed] = newAsset(b, name, cacheImmutable)
		routes[url] = newAsset(b, name, cacheRevalidate)
	}
	replace := func(b []byte) []byte {
		for from, to := range rewrite {
			b = bytes.ReplaceAll(b, []byte(from), []byte(to))
		}
		return b
	}
	index, err := files.ReadFile("index.html")
	if err != nil {
		return nil, err
	}
	routes["/"] = newAsset(replace(index), "index.html", cacheRevalidate)
	routes["/index.html"] = routes["/"]
	err = fs.WalkDir(files, "app", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		if ext := path.Ext(p); ext == ".js" || ext == ".css" || ext == ".html" {
			b = replace(b)
		}
		routes["/"+p] = newAsset(b, p, cacheRevalidate)
		return nil
	})
	return routes, err
}

func newAsset(b []byte, name, cache string) *asset {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	return &asset{body: b, contentType: ct, cache: cache, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

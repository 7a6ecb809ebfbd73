// Package web is Chatr's browser client: a Vue 3 single-page app written as
// plain ES modules with render functions (app/), and the browser libraries it
// uses, Vue's runtime-only build and the parts of Bulma it uses (lib/). The
// libraries come from the npm registry through package-lock.json and are
// committed as generated files (`make web-vendor` writes them, `make
// check-web-vendor` checks that they match the lockfile), so that `go build`
// needs no npm. The page loads nothing from elsewhere and runs under a strict
// Content-Security-Policy.
//
// A slow mobile connection pays about half a second a request, so the
// handler spends few requests and few bytes: the app's modules are linked
// into one minified module when the handler is first built (esbuild), every
// file but index.html is served under a content-hashed URL that browsers
// cache for a year, and text goes out brotli- or gzip-encoded, the libraries
// compressed at build time (lib/*.br, lib/*.gz) and the app's files with gzip
// once at start. The package knows nothing of the server: it serves files.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evanw/esbuild/pkg/api"
)

//go:embed index.html app lib
var files embed.FS

// ContentSecurityPolicy is the policy the app is written for. Handler sends
// it with index.html when the surrounding server has not set one.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// libs maps the names under /vendor/ that index.html and the app's modules
// use to the files of lib/. The app's modules were written against Vue's
// full build; they get the runtime-only build under that name too, which is
// all an app of render functions needs.
var libs = map[string]string{
	"vue.runtime.esm-browser.prod.js": "lib/vue.runtime.esm-browser.prod.js",
	"vue.esm-browser.prod.js":         "lib/vue.runtime.esm-browser.prod.js",
	"bulma.css":                       "lib/bulma.css",
}

// entry is the app's module that index.html loads: the handler serves it
// linked with everything it imports.
const entry = "app/main.js"

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
}

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// Codings are the content codings the handler can send, best first.
var codings = []string{"br", "gzip"}

type asset struct {
	contentType string
	cache       string
	hash        string            // of the identity body
	bodies      map[string][]byte // by content coding; "" is the identity
}

// Assets returns the embedded files as they are in this folder: index.html,
// app/ and lib/.
func Assets() fs.FS { return files }

var (
	routesOnce sync.Once
	routes     map[string]*asset
	routesErr  error
)

// Handler serves the app: index.html at "/" and /invite/<token> (revalidated), the libraries at
// /vendor/<hash>/<name> and the app's files at /app/<version>/<path>, cached
// forever (the URLs change with the content; index.html names the current
// ones), where app/main.js is the app linked into one module. The app's
// files are also served as written, revalidated, at /app/<path>, and the
// libraries at /vendor/<name>.
func Handler() http.Handler {
	routesOnce.Do(func() { routes, routesErr = buildRoutes() })
	if routesErr != nil {
		panic("web: embedded files: " + routesErr.Error()) // the embed patterns guarantee them
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
		serve(w, r, a)
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

// serve sends the asset in the best coding the request accepts, with a
// strong ETag of its own per coding, and answers If-None-Match with 304.
func serve(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cache)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(a.contentType, "text/html") && h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
	}
	body, etag := a.bodies[""], a.hash
	if len(a.bodies) > 1 {
		h.Add("Vary", "Accept-Encoding")
		for _, c := range codings {
			if b, ok := a.bodies[c]; ok && accepts(r.Header.Get("Accept-Encoding"), c) {
				h.Set("Content-Encoding", c)
				body, etag = b, a.hash+"-"+c
				break
			}
		}
	}
	h.Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// accepts reports whether an Accept-Encoding header value accepts the
// coding, by name or by "*", with a quality above zero.
func accepts(header, coding string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, coding) && name != "*" {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}

func buildRoutes() (map[string]*asset, error) {
	routes := map[string]*asset{}
	vendor, err := addLibs(routes)
	if err != nil {
		return nil, err
	}
	app, err := appFiles(vendor)
	if err != nil {
		return nil, err
	}
	for p, b := range app {
		routes["/"+p] = newAsset(p, b, cacheRevalidate)
	}
	// The linked entry is the app's only module a browser fetches; when it
	// cannot be linked, the modules load one by one from the same folder.
	if linked, err := link(app); err == nil {
		app[entry] = linked
	}
	version := versionOf(app)
	for p, b := range app {
		routes["/app/"+version+strings.TrimPrefix(p, "app")] = newAsset(p, b, cacheImmutable)
	}
	index, err := files.ReadFile("index.html")
	if err != nil {
		return nil, err
	}
	index = []byte(vendor.Replace(string(index)))
	index = appURL.ReplaceAll(index, []byte(`${1}/app/`+version+`/`))
	routes["/"] = newAsset("index.html", index, cacheRevalidate)
	routes["/index.html"] = routes["/"]
	sw, err := serviceWorker(app, index, version)
	if err != nil {
		return nil, err
	}
	routes["/sw.js"] = newAsset("sw.js", sw, cacheRevalidate)
	return routes, nil
}

// serviceWorker fills app/sw.js in: the version of the app shell and the
// URLs of its files, which are "/", the files index.html names and the
// icons the manifest names. Served at /sw.js, the worker's scope is the
// whole site.
func serviceWorker(app map[string][]byte, index []byte, version string) ([]byte, error) {
	shell := []string{"/"}
	for _, m := range shellURL.FindAllSubmatch(index, -1) {
		shell = append(shell, string(m[1]))
	}
	var manifest struct {
		Icons []struct{ Src string } `json:"icons"`
	}
	if err := json.Unmarshal(app[manifestFile], &manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestFile, err)
	}
	for _, icon := range manifest.Icons {
		shell = append(shell, "/app/"+version+"/"+path.Clean(icon.Src))
	}
	list, err := json.Marshal(shell)
	if err != nil {
		return nil, err
	}
	src, ok := app["app/sw.js"]
	if !ok {
		return nil, fmt.Errorf("no app/sw.js")
	}
	return []byte(strings.NewReplacer(
		"'__VERSION__'", `"`+version+"-"+hashOf(index)[:8]+`"`,
		"['__SHELL__']", string(list),
	).Replace(string(src))), nil
}

// manifestFile is the web app manifest index.html names.
const manifestFile = "app/manifest.webmanifest"

// shellURL matches the URL of a file of the app or a library in an
// attribute of index.html (the API's preloads are no part of the shell).
var shellURL = regexp.MustCompile(`(?:href|src)="(/(?:app|vendor)/[^"]+)"`)

// appURL matches a URL of the app's folder in an attribute of index.html.
var appURL = regexp.MustCompile(`(=\s*["']?)/app/`)

// addLibs adds the libraries' routes, with their precompressed copies, and
// returns what rewrites /vendor/<name> to their hashed URLs.
func addLibs(routes map[string]*asset) (*strings.Replacer, error) {
	var pairs []string
	for name, file := range libs {
		a, err := libAsset(file)
		if err != nil {
			return nil, err
		}
		hashed := "/vendor/" + a.hash[:12] + "/" + path.Base(file)
		routes[hashed] = a
		plain := *a
		plain.cache = cacheRevalidate
		routes["/vendor/"+name] = &plain
		pairs = append(pairs, "/vendor/"+name, hashed)
	}
	return strings.NewReplacer(pairs...), nil
}

func libAsset(file string) (*asset, error) {
	b, err := files.ReadFile(file)
	if err != nil {
		return nil, err
	}
	a := &asset{contentType: contentType(file), cache: cacheImmutable, hash: hashOf(b), bodies: map[string][]byte{"": b}}
	for c, ext := range map[string]string{"br": ".br", "gzip": ".gz"} {
		if z, err := files.ReadFile(file + ext); err == nil {
			a.bodies[c] = z
		}
	}
	return a, nil
}

// appFiles reads app/, with the libraries' URLs in its text files rewritten
// to their hashed ones.
func appFiles(vendor *strings.Replacer) (map[string][]byte, error) {
	app := map[string][]byte{}
	err := fs.WalkDir(files, "app", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		if compressible(p) {
			b = []byte(vendor.Replace(string(b)))
		}
		app[p] = b
		return nil
	})
	return app, err
}

// link bundles the entry module and the app's modules it imports into one
// minified module; the libraries stay separate modules, imported by URL.
func link(app map[string][]byte) ([]byte, error) {
	embedded := api.Plugin{Name: "app", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `.*`}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
			switch {
			case strings.HasPrefix(args.Path, "/vendor/"):
				return api.OnResolveResult{Path: args.Path, External: true}, nil
			case strings.HasPrefix(args.Path, "/app/"):
				return api.OnResolveResult{Path: args.Path[1:], Namespace: "app"}, nil
			case args.Kind == api.ResolveEntryPoint:
				return api.OnResolveResult{Path: path.Clean(args.Path), Namespace: "app"}, nil
			case strings.HasPrefix(args.Path, "./") || strings.HasPrefix(args.Path, "../"):
				return api.OnResolveResult{Path: path.Join(path.Dir(args.Importer), args.Path), Namespace: "app"}, nil
			}
			return api.OnResolveResult{}, fmt.Errorf("%s imports %q, which is neither in app/ nor under /vendor/", args.Importer, args.Path)
		})
		b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: "app"}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
			src, ok := app[args.Path]
			if !ok || path.Ext(args.Path) != ".js" {
				return api.OnLoadResult{}, fmt.Errorf("no module %s in app/", args.Path)
			}
			s := string(src)
			return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS}, nil
		})
	}}
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{entry},
		Bundle:            true,
		Format:            api.FormatESModule,
		Target:            api.ES2020,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		Outfile:           "main.js",
		Plugins:           []api.Plugin{embedded},
		LogLevel:          api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		return nil, fmt.Errorf("linking %s: %s", entry, res.Errors[0].Text)
	}
	return res.OutputFiles[0].Contents, nil
}

// versionOf names the app's files as a whole: a change to any of them gives
// every URL under /app/<version>/ a new version, and relative URLs between
// the files keep working.
func versionOf(app map[string][]byte) string {
	names := make([]string, 0, len(app))
	for p := range app {
		names = append(names, p)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, p := range names {
		fmt.Fprintf(sum, "%s %d\n", p, len(app[p]))
		sum.Write(app[p])
	}
	return hex.EncodeToString(sum.Sum(nil))[:12]
}

func newAsset(name string, b []byte, cache string) *asset {
	a := &asset{contentType: contentType(name), cache: cache, hash: hashOf(b), bodies: map[string][]byte{"": b}}
	if compressible(name) {
		if z := gzipped(b); len(z) < len(b) {
			a.bodies["gzip"] = z
		}
	}
	return a
}

func contentType(name string) string {
	if ct, ok := contentTypes[path.Ext(name)]; ok {
		return ct
	}
	return "application/octet-stream"
}

func compressible(name string) bool {
	ct := contentType(name)
	return strings.HasPrefix(ct, "text/") || ct == "image/svg+xml" || strings.HasSuffix(ct, "json")
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/chatr/chatr/web"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesTheApp(t *testing.T) {
	h := web.Handler()

	res := get(t, h, "GET", "/", nil)
	index := body(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("GET /: status %d", res.StatusCode)
	}
	if got, want := res.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("GET /: Content-Type %q, want %q", got, want)
	}
	if got, want := res.Header.Get("Cache-Control"), "no-cache"; got != want {
		t.Errorf("GET /: Cache-Control %q, want %q", got, want)
	}
	if got := res.Header.Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
		t.Errorf("GET /: CSP %q, want %q", got, web.ContentSecurityPolicy)
	}
	if !strings.Contains(index, `<div id="app">`) || strings.Contains(index, "<script>") || strings.Contains(index, "style=") {
		t.Errorf("index.html has inline script or style, or no #app:\n%s", index)
	}

	// The vendored files are referenced by content hash and cached forever.
	hashed := regexp.MustCompile(`/vendor/[0-9a-f]{12}/(bulma\.css|vue\.runtime\.esm-browser\.prod\.js)`).FindAllString(index, -1)
	if len(hashed) < 2 {
		t.Fatalf("index.html does not reference the hashed vendor files: %q", hashed)
	}
	for _, p := range hashed {
		res := get(t, h, "GET", p, nil)
		b := body(t, res)
		if res.StatusCode != 200 || len(b) < 10000 {
			t.Errorf("GET %s: status %d, %d bytes", p, res.StatusCode, len(b))
		}
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want immutable", p, got)
		}
		want := "text/css; charset=utf-8"
		if strings.HasSuffix(p, ".js") {
			want = "text/javascript; charset=utf-8"
		}
		if got := res.Header.Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", p, got, want)
		}
	}

	// App modules are revalidated, import Vue by its hashed URL, and answer
	// a matching If-None-Match with 304.
	res = get(t, h, "GET", "/app/main.js", nil)
	main := body(t, res)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /app/main.js: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	if !regexp.MustCompile(`/vendor/[0-9a-f]{12}/vue\.runtime\.esm-browser\.prod\.js`).MatchString(main) {
		t.Errorf("main.js does not import the hashed Vue URL:\n%s", main)
	}
	etag := res.Header.Get("ETag")
	if res := get(t, h, "GET", "/app/main.js", map[string]string{"If-None-Match": etag}); etag == "" || res.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET with ETag %q: status %d, want 304", etag, res.StatusCode)
	}
	if res := get(t, h, "GET", "/app/app.css", nil); res.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("app.css: Content-Type %q", res.Header.Get("Content-Type"))
	}
	if res := get(t, h, "GET", "/app/favicon.svg", nil); res.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon.svg: Content-Type %q", res.Header.Get("Content-Type"))
	}

	// An invite link is the app, which posts its token.
	if res := get(t, h, "GET", "/invite/Abc-123_x", nil); res.StatusCode != 200 || body(t, res) != index {
		t.Errorf("GET /invite/<token>: status %d, want 200 with index.html", res.StatusCode)
	}

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/nope", 404},
		{"GET", "/node_modules/vue/package.json", 404},
		{"GET", "/embed.go", 404},
		{"POST", "/", 405},
		{"HEAD", "/", 200},
		{"GET", "/invite/", 404},
		{"GET", "/invite/a/b", 404},
		{"GET", "/invite/" + strings.Repeat("t", 129), 404},
	} {
		if res := get(t, h, tc.method, tc.path, nil); res.StatusCode != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.want)
		}
	}
}

func TestHandlerKeepsASetCSP(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		web.Handler().ServeHTTP(w, r)
	})
	if got := get(t, h, "GET", "/", nil).Header.Get("Content-Security-Policy"); got != "default-src 'none'" {
		t.Errorf("CSP %q: the server's policy was replaced", got)
	}
}

// TestAssetsAreSmallAndSafe checks what is embedded: only the two libraries
// of lib/ (each with its gzip and brotli copies), and app code that cannot run under the CSP's
// absence of 'unsafe-eval' or that renders user text as HTML.
func TestAssetsAreSmallAndSafe(t *testing.T) {
	var vendored []string
	forbidden := regexp.MustCompile(`v-html|innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|template\s*:`)
	err := fs.WalkDir(web.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(p, "lib/") {
			vendored = append(vendored, p)
			return nil
		}
		if strings.HasSuffix(p, ".js") {
			b, err := fs.ReadFile(web.Assets(), p)
			if err != nil {
				return err
			}
			if m := forbidden.FindString(string(b)); m != "" {
				t.Errorf("%s uses %q", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vendored) != 6 {
		t.Errorf("embedded from lib/: %q, want only Vue's runtime build and Bulma's CSS, with their .gz and .br", vendored)
	}
}

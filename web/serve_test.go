package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatr/chatr/web"
)

// hashedURLs returns the content-addressed URLs that index.html names.
func hashedURLs(t *testing.T, h http.Handler) []string {
	t.Helper()
	index := body(t, get(t, h, "GET", "/", nil))
	urls := regexp.MustCompile(`/(app|vendor)/[0-9a-f]{12}/[^"]+`).FindAllString(index, -1)
	if len(urls) < 5 {
		t.Fatalf("index.html names %q, want the icon, two stylesheets, Vue and the app", urls)
	}
	return urls
}

func gunzip(t *testing.T, b string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestHandlerNegotiatesEncoding: every file goes out in the best coding the
// request accepts, and gzip decodes to the identity bytes. (Chromium decodes
// brotli in TestBrowserDecodesEveryEncoding.)
func TestHandlerNegotiatesEncoding(t *testing.T) {
	h := web.Handler()
	for _, p := range append(hashedURLs(t, h), "/", "/app/ui.js", "/vendor/bulma.css") {
		identity := get(t, h, "GET", p, map[string]string{"Accept-Encoding": "identity"})
		plain := body(t, identity)
		if identity.StatusCode != 200 || identity.Header.Get("Content-Encoding") != "" || len(plain) == 0 {
			t.Fatalf("GET %s (identity): %d, Content-Encoding %q", p, identity.StatusCode, identity.Header.Get("Content-Encoding"))
		}
		compressible := !strings.HasSuffix(p, ".png")
		for _, tc := range []struct{ accept, want string }{
			{"", ""},
			{"gzip", "gzip"},
			{"gzip, deflate, br, zstd", "br"},
			{"br;q=0, gzip;q=0.5", "gzip"},
			{"*", "br"},
			{"gzip;q=0", ""},
		} {
			res := get(t, h, "GET", p, map[string]string{"Accept-Encoding": tc.accept})
			b := body(t, res)
			got := res.Header.Get("Content-Encoding")
			want := tc.want
			if want == "br" && got == "gzip" && strings.HasPrefix(p, "/app/") || want == "br" && p == "/" {
				want = "gzip" // the app's files are compressed at start, with gzip only
			}
			if !compressible {
				want = ""
			}
			if got != want {
				t.Errorf("GET %s, Accept-Encoding %q: Content-Encoding %q, want %q", p, tc.accept, got, want)
			}
			if compressible && !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s: Vary %q, want Accept-Encoding", p, res.Header.Get("Vary"))
			}
			if got != "" && len(b) >= len(plain) {
				t.Errorf("GET %s in %s: %d bytes, identity %d", p, got, len(b), len(plain))
			}
			if got == "gzip" && gunzip(t, b) != plain {
				t.Errorf("GET %s: the gzip body does not decode to the identity body", p)
			}
			if got == "" && b != plain {
				t.Errorf("GET %s, Accept-Encoding %q: identity body differs", p, tc.accept)
			}
		}
	}
}

// TestHandlerCachesByContent: index.html is revalidated, everything it names
// is cached for a year under a URL that changes with the content, and each
// coding has its own ETag, which a conditional request answers with 304.
func TestHandlerCachesByContent(t *testing.T) {
	h := web.Handler()
	if cc := get(t, h, "GET", "/", nil).Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET /: Cache-Control %q, want no-cache", cc)
	}
	for _, p := range hashedURLs(t, h) {
		if cc := get(t, h, "GET", p, nil).Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q, want a year, immutable", p, cc)
		}
	}
	for _, p := range append(hashedURLs(t, h), "/", "/app/store.js") {
		etags := map[string]string{}
		for _, accept := range []string{"identity", "gzip", "br"} {
			res := get(t, h, "GET", p, map[string]string{"Accept-Encoding": accept})
			etag := res.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{32}(-br|-gzip)?"$`).MatchString(etag) {
				t.Fatalf("GET %s (%s): ETag %q, want a strong one", p, accept, etag)
			}
			if other, ok := etags[etag]; ok && res.Header.Get("Content-Encoding") != other {
				t.Errorf("GET %s: ETag %s for both %q and %q", p, etag, other, res.Header.Get("Content-Encoding"))
			}
			etags[etag] = res.Header.Get("Content-Encoding")

			res = get(t, h, "GET", p, map[string]string{"Accept-Encoding": accept, "If-None-Match": etag})
			if b := body(t, res); res.StatusCode != http.StatusNotModified || b != "" {
				t.Errorf("GET %s (%s) If-None-Match %s: %d with %d bytes, want 304 and none", p, accept, etag, res.StatusCode, len(b))
			}
			if res := get(t, h, "GET", p, map[string]string{"Accept-Encoding": accept, "If-None-Match": `"0123"`}); res.StatusCode != 200 {
				t.Errorf("GET %s with a stale ETag: %d, want 200", p, res.StatusCode)
			}
		}
	}
}

// TestHandlerLinksTheApp: the app's entry as index.html loads it is one
// module that imports nothing from app/, only the libraries by hashed URL,
// and is smaller than the modules it replaces.
func TestHandlerLinksTheApp(t *testing.T) {
	h := web.Handler()
	var entry string
	for _, p := range hashedURLs(t, h) {
		if strings.HasSuffix(p, "/main.js") {
			entry = p
		}
	}
	linked := body(t, get(t, h, "GET", entry, nil))
	if m := regexp.MustCompile(`(from|import)\s*\(?\s*["'](\.{1,2}/|/app/)[^"']*["']`).FindString(linked); m != "" {
		t.Errorf("GET %s still imports a module of the app: %s", entry, m)
	}
	if !regexp.MustCompile(`from\s*["']/vendor/[0-9a-f]{12}/vue\.runtime\.esm-browser\.prod\.js["']`).MatchString(linked) {
		t.Errorf("GET %s does not import Vue's runtime build by its hashed URL", entry)
	}
	sources := 0
	err := fsWalkJS(func(b []byte) { sources += len(b) })
	if err != nil {
		t.Fatal(err)
	}
	if len(linked) >= sources*3/4 {
		t.Errorf("the linked app is %d bytes, the modules %d: not minified?", len(linked), sources)
	}
}

func fsWalkJS(fn func([]byte)) error {
	entries, err := os.ReadDir("app")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".js") {
			b, err := os.ReadFile(filepath.Join("app", e.Name()))
			if err != nil {
				return err
			}
			fn(b)
		}
	}
	return nil
}

// TestLibMatchesLockfile rebuilds lib/ from node_modules (as `make
// check-web-vendor` does) and compares: the committed libraries are what the
// lockfile and bulma.scss make.
func TestLibMatchesLockfile(t *testing.T) {
	if _, err := os.Stat("node_modules/.package-lock.json"); err != nil {
		msg := "web/node_modules is missing: run `make deps` to check lib/ against the lockfile"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out := t.TempDir()
	if b, err := exec.Command("node", "vendor.mjs", out).CombinedOutput(); err != nil {
		t.Fatalf("node vendor.mjs: %v\n%s", err, b)
	}
	want, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	have, _ := os.ReadDir("lib")
	if len(have) != len(want) {
		t.Errorf("lib/ has %d files, the build makes %d", len(have), len(want))
	}
	for _, e := range want {
		built, _ := os.ReadFile(filepath.Join(out, e.Name()))
		committed, err := os.ReadFile(filepath.Join("lib", e.Name()))
		if err != nil || !bytes.Equal(built, committed) {
			t.Errorf("lib/%s differs from what package-lock.json and bulma.scss make: run `make web-vendor`", e.Name())
		}
	}
}

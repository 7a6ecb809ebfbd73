package web_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatr/chatr/web"
)

// TestServiceWorkerScript: /sw.js is the worker with the app's version and
// shell filled in, revalidated on every visit (so a new version reaches
// every browser); the shell is "/" and the hashed files index.html and the
// manifest name, each of which the handler serves.
func TestServiceWorkerScript(t *testing.T) {
	h := web.Handler()
	res := get(t, h, "GET", "/sw.js", nil)
	src := body(t, res)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /sw.js: %d, Content-Type %q, Cache-Control %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	if strings.Contains(src, "__VERSION__") || strings.Contains(src, "__SHELL__") {
		t.Fatal("/sw.js still has its placeholders")
	}
	version := regexp.MustCompile(`const VERSION = "([0-9a-f]{12})-[0-9a-f]{8}";`).FindStringSubmatch(src)
	if version == nil {
		t.Fatalf("/sw.js has no version:\n%s", src)
	}
	m := regexp.MustCompile(`const SHELL = (\[.*\]);`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("/sw.js has no shell list")
	}
	var shell []string
	if err := json.Unmarshal([]byte(m[1]), &shell); err != nil {
		t.Fatal(err)
	}
	for _, u := range hashedURLs(t, h) {
		if !slices.Contains(shell, u) {
			t.Errorf("the shell lacks %s, which index.html names: %q", u, shell)
		}
	}
	for _, want := range []string{"/", "/app/" + version[1] + "/icon.svg", "/app/" + version[1] + "/icon-maskable.svg"} {
		if !slices.Contains(shell, want) {
			t.Errorf("the shell lacks %s: %q", want, shell)
		}
	}
	for _, u := range shell {
		if strings.HasPrefix(u, "/.auth") || strings.HasPrefix(u, "/api") {
			t.Errorf("the shell names an API answer, %s", u)
		}
		if res := get(t, h, "GET", u, nil); res.StatusCode != 200 {
			t.Errorf("GET %s (in the shell): %d", u, res.StatusCode)
		}
	}
	// The version follows the app: the same URL again, the same script.
	if again := body(t, get(t, h, "GET", "/sw.js", nil)); again != src {
		t.Error("/sw.js changes between requests")
	}
}

package web_test

// The installable app: Chromium finds nothing missing for an install (its
// own check, through DevTools), the service worker replaces the caches of
// older versions, and a page opened while the server is down shows,
// read-only, the chats and messages it saw last; the worker's copy of them
// belongs to one user and goes with sign-out.

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// swControls holds when the service worker is active and controls the page.
const swControls = `!!navigator.serviceWorker && !!navigator.serviceWorker.controller && navigator.serviceWorker.controller.state === 'activated'`

// cacheNames lists the page's Cache Storage.
func cacheNames(u *user) []string {
	u.t.Helper()
	return evalAwait[[]string](u, `caches.keys()`)
}

// evalAwait evaluates a JavaScript expression and awaits the promise it
// gives.
func evalAwait[T any](u *user, expr string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		u.t.Fatalf("%s: evaluating %s: %v", u.name, expr, err)
	}
	return v
}

func TestInstallable(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	// Chromium installs nothing from an incognito context, which newUser
	// makes: this tab lives in the browser's own.
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	alice := &user{t: t, name: "Alice", ctx: ctx, base: ts.url}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchScript}); err != nil {
		t.Fatal(err)
	}
	// A cache an older version of the app left behind.
	if _, err := chromedp.Call(alice.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `if (window.caches && !sessionStorage.oldCache) { sessionStorage.oldCache = '1'; caches.open('chatr-shell-0123456789ab-old'); }`,
	}); err != nil {
		t.Fatal(err)
	}
	alice.do("open the app", chromedp.Navigate(ts.url+"/"))
	alice.waitFor("the sign-in form shows", signInReady)
	alice.waitFor("the service worker controls the page", swControls)

	res, err := chromedp.Call(alice.ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		t.Fatalf("Page.getInstallabilityErrors: %v", err)
	}
	for _, e := range res.InstallabilityErrors {
		var args []string
		for _, a := range e.ErrorArguments {
			args = append(args, a.Name+"="+a.Value)
		}
		t.Errorf("Chromium cannot install the app: %s %v", e.ErrorID, args)
	}

	var manifest struct {
		Name            string
		StartURL        string `json:"start_url"`
		Display         string
		ThemeColor      string `json:"theme_color"`
		BackgroundColor string `json:"background_color"`
		Icons           []struct{ Src, Sizes, Type, Purpose string }
	}
	href := eval[string](alice, `document.querySelector('link[rel=manifest]').href`)
	if err := json.Unmarshal([]byte(fetchText(alice, href)), &manifest); err != nil {
		t.Fatalf("the manifest: %v", err)
	}
	if manifest.Name != "Chatr" || manifest.StartURL != "/" || manifest.Display != "standalone" || manifest.ThemeColor == "" || manifest.BackgroundColor == "" {
		t.Errorf("manifest = %+v; want a name, start_url /, display standalone and theme colours", manifest)
	}
	maskable := false
	for _, icon := range manifest.Icons {
		maskable = maskable || strings.Contains(icon.Purpose, "maskable")
		if got := fetchStatus(alice, strings.TrimSuffix(href, "manifest.webmanifest")+icon.Src); got != 200 {
			t.Errorf("icon %s: HTTP %d", icon.Src, got)
		}
	}
	if !maskable {
		t.Error("the manifest has no maskable icon")
	}

	names := cacheNames(alice)
	shell := 0
	for _, n := range names {
		if strings.HasPrefix(n, "chatr-shell-") {
			shell++
		}
		if strings.HasSuffix(n, "-old") {
			t.Errorf("the cache of an older version survives the new worker's activation: %q", names)
		}
	}
	if shell != 1 {
		t.Errorf("caches %q: want one app shell cache", names)
	}
	// The shell holds the hashed files index.html names.
	kept := evalAwait[[]string](alice, `caches.open(`+js(firstWith(names, "chatr-shell-"))+`).then((c) => c.keys()).then((ks) => ks.map((r) => new URL(r.url).pathname))`)
	for _, want := range []string{"/", "main.js", "bulma.css", "vue.runtime.esm-browser.prod.js", "icon.svg"} {
		if !anyHasSuffix(kept, want) {
			t.Errorf("the shell cache lacks %s: %q", want, kept)
		}
	}
	alice.checkPage()
}

func firstWith(list []string, prefix string) string {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return s
		}
	}
	return ""
}

func anyHasSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

// TestOffline: with the server down, the app starts from the service
// worker's caches on the chats and messages it saw last, says it is
// offline and cannot send; it comes back by itself ("Retry now") when the
// server does. Sign-out deletes what was kept, and the next user's page
// never sees it.
func TestOffline(t *testing.T) {
	browser := newBrowser(t)
	db := filepath.Join(t.TempDir(), "chatr.db")
	ts := startServer(t, db, "127.0.0.1:0", 0)
	addr := ts.srv.Addr()
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Coffee break")
	createChat(alice, "Release planning")
	send(alice, "kept for the train ride")
	alice.waitFor("the message is stored", hasMessage("kept for the train ride"))
	alice.waitFor("the service worker controls the page", swControls)
	// The page's first requests went out before the worker was in: a
	// reload goes through it.
	alice.do("reload", chromedp.Reload())
	alice.waitReady()
	alice.waitFor("the messages show", hasMessage("kept for the train ride"))
	alice.waitFor("the worker kept Alice's chats and messages", `caches.keys().then((ks) => ks.filter((k) => k.startsWith('chatr-data-')))
		.then((ks) => ks.length === 1 && caches.open(ks[0])).then((c) => c && c.keys()).then((rs) => !!rs && rs.some((r) => r.url.endsWith('/messages')) && rs.some((r) => r.url.endsWith('/api/chats')))`)

	ts.stop()
	alice.do("reload without the server", chromedp.Reload())
	alice.waitFor("the page says it is offline", `!!document.querySelector('#offline-banner')`)
	alice.waitFor("the chats show", chatListed("Coffee break")+` && `+chatListed("Release planning"))
	alice.waitFor("the messages show", hasMessage("kept for the train ride"))
	alice.waitFor("the composer is read-only", `document.querySelector('#composer-input').disabled && document.querySelector('.send-button').disabled`)
	alice.screenshot("offline-light")

	ts = startServer(t, db, addr, 0)
	// "Retry now", unless the page's own retry has already found the server.
	alice.do("retry now", chromedp.Evaluate[chromedp.Void](`document.querySelector('#offline-retry')?.click()`))
	alice.waitReady()
	alice.waitFor("the messages show", hasMessage("kept for the train ride"))
	// Back online the app leaves its offline view: until the banner has gone
	// and the composer takes text again, the composer may still be replaced
	// (a CI run typed into one that was removed mid-keystroke).
	alice.waitFor("the page is online again", `!document.querySelector('#offline-banner') && !!document.querySelector('#composer-input') && !document.querySelector('#composer-input').disabled`)
	send(alice, "back online")

	alice.click("#sign-out")
	alice.waitFor("the sign-in form shows", signInReady)
	alice.waitFor("sign-out deleted the kept answers", `caches.keys().then((ks) => !ks.some((k) => k.startsWith('chatr-data-')))`)

	// Bob on the same device: nothing of Alice's is kept for him, even
	// with the server gone.
	bob := &user{t: t, name: "Bob", ctx: alice.ctx, base: alice.base}
	bob.do("type the name", chromedp.SendKeys(chromedp.CSS("#guest-name"), bob.name), chromedp.Click(chromedp.CSS("#guest-submit")))
	bob.waitReady()
	bob.waitFor("Bob's answers are kept apart", `fetch('/.auth/me').then((r) => r.json()).then((me) => caches.keys().then((ks) => {
		const data = ks.filter((k) => k.startsWith('chatr-data-')); return data.length === 1 && data[0] === 'chatr-data-' + me.clientPrincipal.userId; }))`)
	ts.stop()
	bob.do("reload without the server", chromedp.Reload())
	bob.waitFor("the page says it is offline", `!!document.querySelector('#offline-banner')`)
	if eval[bool](bob, chatListed("Coffee break")) || eval[bool](bob, `document.body.innerText.includes('kept for the train ride')`) {
		t.Error("Bob's offline page shows Alice's chats or messages")
	}
	if got := eval[string](bob, `document.querySelector('.me-name')?.textContent || ''`); got != "Bob" {
		t.Errorf("offline, the page is signed in as %q, want Bob", got)
	}
	bob.checkPage()
}

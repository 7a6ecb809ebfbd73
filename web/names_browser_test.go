package web_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/server"
)

// TestBrowserNameRule: the name field's rule (app/names.js) accepts exactly
// the names the server's auth.CleanName accepts, over auth's table of names
// and one sample of every character class the rule tells apart; a name the
// rule refuses shows its reason and signs nobody in.
func TestBrowserNameRule(t *testing.T) {
	ts := startServerWith(t, server.Config{DB: t.TempDir() + "/chatr.db"})
	browser := newBrowser(t)
	u := newUser(t, browser, ts.url, "Alice")
	u.do("open the app", chromedp.Navigate(ts.url+"/"))
	u.waitFor("the sign-in form shows", `!!document.querySelector('#guest-name')`)

	b, err := os.ReadFile("../auth/testdata/names.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Name string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, c := range cases {
		names = append(names, c.Name)
	}
	// Every character of the Basic Multilingual Plane's classes the rule
	// distinguishes, one at a time, alone and after a letter.
	for _, r := range []rune{0x00A0, 0x00AD, 0x0300, 0x061C, 0x0600, 0x115F, 0x1680, 0x180E, 0x2000, 0x200A, 0x200B,
		0x200C, 0x2060, 0x2061, 0x2064, 0x206A, 0x2800, 0x3000, 0x3164, 0xE000, 0xF8FF, 0xFE0F, 0xFE20, 0xFEFF, 0xFFA0,
		0xFFF9, 0xFFFB, 0x1D173, 0x1D17A, 0xE0001, 0xE0100, 0xF0000, 0x0085, 0x007F, 0x009F, 0x0483, 0x0488, 0x0903} {
		names = append(names, string(r), "A"+string(r), "A"+string(r)+"B")
	}
	arg, _ := json.Marshal(names)
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	verdicts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`import('/app/names.js').then((m) => `+string(arg)+
		`.map((n) => m.checkName(n, `+jsInt(auth.DefaultMaxNameLength)+`).error))`,
		awaitPromise))
	if err != nil {
		t.Fatalf("running the name rule in the page: %v", err)
	}
	if len(verdicts) != len(names) {
		t.Fatalf("%d verdicts for %d names", len(verdicts), len(names))
	}
	for i, name := range names {
		_, serverErr := auth.CleanName(name, auth.DefaultMaxNameLength)
		if (serverErr == nil) != (verdicts[i] == "") {
			t.Errorf("name %+q: server says %v, browser says %q", name, serverErr, verdicts[i])
		}
	}

	// A blank-looking name: the field says why, and the app stays signed out.
	u.do("type a blank-looking name", chromedp.SendKeys(chromedp.CSS("#guest-name"), "\u3164\u3164"), chromedp.Click(chromedp.CSS("#guest-submit")))
	u.waitFor("the field shows the reason", `(document.querySelector('#guest-name-error')||{}).textContent === 'The name must not contain invisible characters'`)
	signedIn, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`fetch('/.auth/me').then((r) => r.json()).then((j) => j.clientPrincipal !== null)`, awaitPromise))
	if err != nil || signedIn {
		t.Errorf("after a refused name: signed in %v (%v), want signed out", signedIn, err)
	}
	u.checkPage()
}

func awaitPromise(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }

func jsInt(n int) string { b, _ := json.Marshal(n); return string(b) }

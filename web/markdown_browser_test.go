package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/server"
)

// mdResult is what the page reports of one rendered text.
type mdResult struct {
	HTML      string   `json:"html"` // the DOM as serialised, for the failure message
	Text      string   `json:"text"`
	Tags      []string `json:"tags"`
	Hrefs     []string `json:"hrefs"`
	Attrs     []string `json:"attrs"` // attribute names seen
	Millis    float64  `json:"ms"`
	Structure string   `json:"structure"`
}

// TestBrowserMarkdown renders a corpus of ordinary and hostile message texts
// with app/markdown.js in Chromium, under the server's CSP: only the tags of
// the subset come out, links have safe schemes only, nothing runs, and every
// text renders fast.
func TestBrowserMarkdown(t *testing.T) {
	ts := startServerWith(t, server.Config{DB: t.TempDir() + "/chatr.db"})
	browser := newBrowser(t)
	u := newUser(t, browser, ts.url, "Alice")
	u.do("open the app", chromedp.Navigate(ts.url+"/"))
	u.waitFor("the app loads", `!!document.querySelector('#guest-name')`)

	stars := strings.Repeat("*", 4096)
	nested := strings.Repeat("**_~~", 400) + "x" + strings.Repeat("~~_**", 400)
	hostile := []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<a href="javascript:alert(1)">x</a>`,
		`[click](javascript:alert(1))`,
		`[click](JaVaScRiPt:alert(1))`,
		`[click]( javascript:alert(1))`,
		`[click](java&#115;cript:alert(1))`,
		`[click](data:text/html,<script>alert(1)</script>)`,
		`[click](vbscript:msgbox(1))`,
		`[x](https://example.com/"onmouseover="alert(1))`,
		`[**x**](https://example.com) and [[y]](https://e.com)`,
		"```\n<script>alert(1)</script>\n```",
		"```html\n<b>unterminated",
		"`<b>code</b>`",
		"> <iframe src=javascript:alert(1)>",
		strings.Repeat("> ", 200) + "deep",
		stars,
		strings.Repeat("_", 4096),
		strings.Repeat("~", 4096),
		strings.Repeat("`", 4096),
		strings.Repeat("[", 2000) + strings.Repeat("](", 1000),
		strings.Repeat("*a ", 1365),
		strings.Repeat("**a", 1365),
		nested,
		strings.Repeat("- ", 2048),
		strings.Repeat("1. x\n", 800),
		"**unclosed *italic ~~strike `code",
		"<style>body{display:none}</style>",
		"\u202eevil\u202c <svg onload=alert(1)>",
		"https://example.com/<script>",
		strings.Repeat("https://a.b/ ", 300),
		"\\*not italic\\* \\<b\\>",
	}
	ordinary := map[string]string{ // text -> structure
		"**bold** and *it* and _it2_ and ~~gone~~ and `code`": "P(STRONG EM EM S CODE)",
		"snake_case_name stays":                               "P()",
		"2 * 3 * 4":                                           "P()",
		"```go\nfmt.Println(\"hi\")\n```":                     "DIV(BUTTON PRE(CODE))",
		"> quoted\n> more":                                    "BLOCKQUOTE(P(BR))",
		"- one\n- two\n- three":                               "UL(LI LI LI)",
		"3. c\n4. d":                                          "OL(LI LI)",
		"see [docs](https://example.com/a?b=1) now":           "P(A)",
		"mail [me](mailto:a@example.com)":                     "P(A)",
		"bare https://example.com/x.":                         "P(A)",
		"line one\nline two":                                  "P(BR)",
		"para\n\npara":                                        "P() P()",
	}
	var texts []string
	texts = append(texts, hostile...)
	for k := range ordinary {
		texts = append(texts, k)
	}
	arg, _ := json.Marshal(texts)
	script := `Promise.all([import('/app/markdown.js'), import('/vendor/vue.runtime.esm-browser.prod.js')]).then(([md, vue]) => ` + string(arg) + `.map((text) => {
	  const el = document.createElement('div');
	  const t0 = performance.now();
	  vue.render(vue.h('div', md.render(text)), el);
	  const ms = performance.now() - t0;
	  const all = [...el.firstChild.querySelectorAll('*')];
	  const attrs = new Set();
	  for (const n of all) for (const a of n.attributes) attrs.add(a.name);
	  const shape = (n) => [...n.children].map((c) => c.tagName + (['P','BLOCKQUOTE','UL','OL','DIV','PRE'].includes(c.tagName) ? '(' + shape(c) + ')' : '')).join(' ');
	  return { html: el.firstChild.outerHTML.slice(0, 300), text: el.textContent, tags: [...new Set(all.map((n) => n.tagName))],
	    hrefs: all.filter((n) => n.tagName === 'A').map((n) => n.getAttribute('href')), attrs: [...attrs], ms, structure: shape(el.firstChild) };
	}))`
	ctx, cancel := context.WithTimeout(u.ctx, 60*time.Second)
	defer cancel()
	results, err := chromedp.Run(ctx, chromedp.Evaluate[[]mdResult](script, awaitPromise))
	if err != nil {
		t.Fatalf("rendering the corpus: %v", err)
	}
	allowedTags := map[string]bool{"P": true, "BR": true, "STRONG": true, "EM": true, "S": true, "CODE": true, "PRE": true,
		"BLOCKQUOTE": true, "UL": true, "OL": true, "LI": true, "A": true, "DIV": true, "BUTTON": true}
	allowedAttrs := map[string]bool{"class": true, "href": true, "target": true, "rel": true, "type": true, "title": true, "aria-label": true, "start": true}
	for i, r := range results {
		text := texts[i]
		short := text
		if len(short) > 60 {
			short = short[:60] + "…"
		}
		for _, tag := range r.Tags {
			if !allowedTags[tag] {
				t.Errorf("%q renders a %s: %s", short, tag, r.HTML)
			}
		}
		for _, a := range r.Attrs {
			if !allowedAttrs[a] {
				t.Errorf("%q renders attribute %s: %s", short, a, r.HTML)
			}
		}
		for _, href := range r.Hrefs {
			if !strings.HasPrefix(href, "https://") && !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "mailto:") {
				t.Errorf("%q renders a link to %q", short, href)
			}
		}
		if r.Millis > 1000 { // a quadratic parse of 4 KB takes seconds; a loaded machine, some hundreds of ms
			t.Errorf("%q took %.0f ms to render", short, r.Millis)
		}
		// What is typed stays visible: markup in a message shows as text.
		if strings.Contains(text, "<script>") && !strings.Contains(r.Text, "<script>") {
			t.Errorf("%q lost its <script> text: %q", short, r.Text)
		}
		if want, ok := ordinary[text]; ok && r.Structure != want {
			t.Errorf("%q renders as %s, want %s (%s)", short, r.Structure, want, r.HTML)
		}
	}
	if r := results[len(hostile)-1]; r.Text != `*not italic* \<b\>` && r.Text != `*not italic* <b>` {
		t.Errorf("escapes render as %q", r.Text)
	}
	if r := results[16]; len(r.Tags) > 1 || !strings.Contains(r.Text, stars) {
		t.Errorf("4 KB of asterisks render as %v, %d characters of text", r.Tags, len(r.Text))
	}
	u.checkPage()
}

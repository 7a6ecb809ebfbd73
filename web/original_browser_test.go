package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// originalPage renders what it receives the way the original Chatr client
// does: message text, announcements and user names through innerHTML, on a
// page of its own origin without a Content-Security-Policy (the original is
// served by a static-site host). The socket URL comes in the fragment.
const originalPage = `<!doctype html><html><body><div id="log"></div><script>
window.__pwned = 0; window.__shown = 0;
const log = document.getElementById('log');
function show(html) { const d = document.createElement('div'); d.innerHTML = html; log.appendChild(d); window.__shown++; }
const ws = new WebSocket(decodeURIComponent(location.hash.slice(1)), 'json.webpubsub.azure.v1');
ws.onopen = () => ws.send(JSON.stringify({type: 'event', event: 'joinChat', dataType: 'text', data: 'room', ackId: 1}));
ws.onmessage = (e) => {
  const f = JSON.parse(e.data);
  if (f.type !== 'message') return;
  if (f.from === 'group' && typeof f.data === 'string') { show(f.data); return; }
  if (f.from === 'group') { show(f.data.fromUserName + ': ' + f.data.message); return; }
  const ev = f.data && f.data.chatEvent;
  if (ev === 'userOnline' || ev === 'memberJoined') { show(JSON.parse(f.data.data).userName); }
};
</script></body></html>`

// xssPayload counts its own runs: window.__pwned grows by one each time the
// markup is rendered live.
const xssPayload = `<img src=x onerror=__pwned++>`

// TestOriginalClientRunsNoScript: the original client's rendering (text
// through innerHTML) runs no script from what Chatr delivers, message text
// and names alike; the same page on a connection that declared render=text
// (so receives the text as written) does run it, which shows that the check
// can fail.
func TestOriginalClientRunsNoScript(t *testing.T) {
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, originalPage)
	}))
	t.Cleanup(pages.Close)
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		AllowedOrigins: []string{pages.URL}})

	sender := guestConn(t, ts.url, "Sender")
	if f, err := sender.Event("createChat", map[string]any{"name": "Room", "id": "room"}); err != nil || !f.Success {
		t.Fatalf("createChat: %v %+v", err, f.Error)
	}
	if f, err := sender.Event("joinChat", "room"); err != nil || !f.Success {
		t.Fatalf("joinChat: %v %+v", err, f.Error)
	}

	open := func(name, query string) *user {
		u := newUser(t, browser, pages.URL, name)
		u.do("open the original client's page", chromedp.Navigate(pages.URL+"/#"+url.QueryEscape(tokenURL(t, ts.url, name)+query)))
		u.waitFor("the page joined the chat", `window.__shown >= 1`)
		return u
	}
	orig := open("Orig", "")
	control := open("Control", "&render=text")

	// A user whose name is markup joins, then the sender and that user
	// post markup.
	evil := guestConn(t, ts.url, xssPayload)
	if f, err := evil.Event("joinChat", "room"); err != nil || !f.Success {
		t.Fatalf("joinChat: %v %+v", err, f.Error)
	}
	for _, c := range []*wsclient.Conn{sender, evil} {
		f, err := c.Call(map[string]any{"type": "sendToGroup", "group": "room", "dataType": "json",
			"data": map[string]any{"message": xssPayload + " the end"}})
		if err != nil || !f.Success {
			t.Fatalf("send: %v %+v", err, f)
		}
	}
	for _, u := range []*user{orig, control} {
		u.waitFor("both messages shown", `document.body.textContent.split('the end').length - 1 >= 2`)
	}
	control.waitFor("the payload ran in the control page", `window.__pwned >= 2`)
	if n := eval[int](orig, `window.__pwned`); n != 0 {
		t.Errorf("the original client's page ran injected script %d times", n)
	}
	if n := eval[int](orig, `document.querySelectorAll('#log img').length`); n != 0 {
		t.Errorf("the original client's page holds %d live <img> elements from user text", n)
	}
}

// tokenURL signs a guest in over HTTP and returns its hub socket URL.
func tokenURL(t *testing.T, base, name string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	b, _ := json.Marshal(map[string]string{"name": name})
	req, _ := http.NewRequest("POST", base+"/.auth/login/guest", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	res, err := hc.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("guest sign-in: %v %v", err, res)
	}
	res.Body.Close()
	res, err = hc.Get(base + "/api/getToken")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct{ URL string }
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.URL == "" {
		t.Fatalf("getToken: %v %+v", err, tok)
	}
	return tok.URL
}

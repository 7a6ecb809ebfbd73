package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// serverUnread is a page expression: the caller's unread count of a chat as
// the server counts it (GET /api/chats).
func serverUnread(chatID string) string {
	return `fetch('/api/chats').then((r) => r.json()).then((j) => (j.unread || {})[` + js(chatID) + `] || 0)`
}

// sameSession opens a second browser window signed in with u's session
// cookie (another device of the same user), without tabs restored from u's
// storage.
func sameSession(t *testing.T, browser context.Context, u *user) *user {
	t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u.base}})
	if err != nil {
		t.Fatalf("%s: reading the cookies: %v", u.name, err)
	}
	other := newUser(t, browser, u.base, u.name+" (second device)")
	for _, c := range got.Cookies {
		httpOnly := c.HTTPOnly
		if _, err := chromedp.Call(other.ctx, network.SetCookie, network.SetCookieParams{Name: c.Name, Value: c.Value,
			Domain: c.Domain, Path: c.Path, HTTPOnly: &httpOnly}); err != nil {
			t.Fatalf("%s: setting the cookies: %v", other.name, err)
		}
	}
	other.do("open the app", chromedp.Navigate(u.base+"/"))
	other.waitReady()
	return other
}

// userConn connects u's session to the hub as another client of the same
// user would (the plain JSON protocol).
func userConn(t *testing.T, u *user) *wsclient.Conn {
	t.Helper()
	url := evalAsync[string](u, `fetch('/api/getToken').then((r) => r.json()).then((j) => j.url)`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, url, "json.webpubsub.azure.v1", http.Header{"Origin": {u.base}})
	if err != nil {
		t.Fatalf("%s: dial the hub: %v", u.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// evalAsync evaluates a promise in u's page and returns what it resolves to.
func evalAsync[T any](u *user, expr string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, awaitPromise))
	if err != nil {
		u.t.Fatalf("%s: evaluating %s: %v", u.name, expr, err)
	}
	return v
}

// TestBrowserReadMarkerFollows: Alice has a chat open, scrolled to the
// bottom, while Bob sends five messages. Each is on her screen as it comes,
// so her read marker on the server reaches the last one and her unread
// count stays 0; her other connections hear chatRead up to it, and her
// second device's count drops to 0 with it.
func TestBrowserReadMarkerFollows(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Lounge")
	chatID := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	send(alice, "hello")
	alice.waitFor("the chat is scrolled to the bottom", atBottom)

	other := sameSession(t, browser, alice)
	other.waitFor("the second device lists the chat", chatListed("Lounge"))
	conn := userConn(t, alice)

	bob := guestConn(t, ts.url, "Bob")
	if f, err := bob.Event("joinChat", chatID); err != nil || !f.Success {
		t.Fatalf("joinChat: %v %+v", err, f)
	}
	for i := 1; i <= 5; i++ {
		f, err := bob.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json",
			"data": map[string]any{"message": fmt.Sprintf("from Bob %d", i)}})
		if err != nil || !f.Success {
			t.Fatalf("message %d: %v %+v", i, err, f)
		}
	}
	alice.waitFor("Alice sees the five messages", hasMessage("from Bob 5"))
	last := int64(eval[int](alice, `Number(`+msgSel("from Bob 5")+`.dataset.id)`))

	// The server's marker and count.
	alice.waitFor("the server counts nothing unread", serverUnread(chatID)+`.then((n) => n === 0)`)
	if n := eval[int](alice, `document.querySelectorAll('.chat-tab[data-chat-id="`+chatID+`"] .unread-badge').length`); n != 0 {
		t.Error("the open chat's tab shows an unread badge")
	}
	// Another connection of Alice's hears that the chat was read to the end.
	if _, err := conn.WaitFor(30*time.Second, func(f wsclient.Frame) bool {
		name, data, ok := f.ServerEvent()
		if !ok || name != "chatRead" {
			return false
		}
		var d struct {
			ChatID    string `json:"chatId"`
			MessageID int64  `json:"messageId"`
		}
		return json.Unmarshal([]byte(data), &d) == nil && d.ChatID == chatID && d.MessageID == last
	}); err != nil {
		t.Fatalf("no chatRead up to %d on Alice's other connection: %v", last, err)
	}
	// Alice's second device counted Bob's messages, then saw them read.
	other.waitFor("the second device counts nothing unread", `!document.querySelector('#chat-list .side-item[data-chat-id="`+chatID+`"] .unread-badge') && document.title === 'Chatr'`)
	alice.checkPage()
	other.checkPage()
}

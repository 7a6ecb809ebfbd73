package web_test

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOutbox: a message written while the server is down shows as
// pending, is kept in localStorage, and is sent once the connection is
// back: stored exactly once, shown once, no longer pending. The hub URL
// declares that the client renders text as text.
func TestBrowserOutbox(t *testing.T) {
	browser := newBrowser(t)
	db := filepath.Join(t.TempDir(), "chatr.db")
	ts := startServer(t, db, "127.0.0.1:0", 0)
	addr := ts.srv.Addr()

	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Outbox")
	send(alice, "online first")
	alice.waitFor("the first message is stored", hasMessage("online first"))
	hubURL := eval[string](alice, `window.__sockets[0] || ''`)
	if u, err := url.Parse(hubURL); err != nil || u.Query().Get("render") != "text" {
		t.Errorf("hub URL %q does not declare render=text", hubURL)
	}

	ts.stop()
	alice.waitFor("Alice sees the reconnecting banner", `!!document.querySelector('#conn-banner')`)
	send(alice, "written offline")
	alice.waitFor("the message shows as pending", `[...document.querySelectorAll('.chat-view .msg.is-pending .msg-text')].some((e) => e.textContent === 'written offline')`)
	saved := eval[string](alice, `JSON.stringify(Object.keys(localStorage).filter((k) => k.startsWith('chatr.outbox.')).map((k) => JSON.parse(localStorage.getItem(k))).flat().map((e) => e.text))`)
	if saved != `["written offline"]` {
		t.Errorf("outbox in localStorage: %s, want the pending message", saved)
	}

	startServer(t, db, addr, 0)
	alice.waitForIn("Alice reconnects", `!document.querySelector('#conn-banner')`, 30*time.Second)
	alice.waitForIn("the message is sent and confirmed", hasMessage("written offline")+` && !document.querySelector('.chat-view .msg.is-pending')`, 30*time.Second)
	alice.waitFor("the outbox in localStorage is empty", `!Object.keys(localStorage).some((k) => k.startsWith('chatr.outbox.'))`)
	// A last message: a doubled copy of the resent one would be stored before it.
	send(alice, "online last")
	alice.waitFor("the last message is stored", hasMessage("online last"))

	chatID := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	stored := storedTexts(t, alice, chatID)
	want := []string{"online first", "written offline", "online last"}
	if len(stored) != len(want) {
		t.Fatalf("stored %q, want %q (each once)", stored, want)
	}
	for i := range want {
		if stored[i] != want[i] {
			t.Fatalf("stored %q, want %q (each once)", stored, want)
		}
	}
	if got := shownMessages(alice); len(got) != len(want) {
		t.Errorf("shown %q, want %q", got, want)
	}
	alice.checkPage()
}

// storedTexts reads a chat's history from the server with u's session.
func storedTexts(t *testing.T, u *user, chatID string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`fetch('/api/chats/' + encodeURIComponent(`+js(chatID)+`) + '/messages?limit=100')
		.then((r) => r.json()).then((j) => j.messages.map((m) => m.message))`, awaitPromise))
	if err != nil {
		t.Fatalf("reading the history: %v", err)
	}
	return texts
}

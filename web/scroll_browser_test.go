package web_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/server"
)

// atBottom is true when the chat in front shows its newest message at the
// bottom (within a few pixels).
const atBottom = `(() => { const e = document.querySelector('.chat-view .messages'); return !!e && e.scrollHeight - e.scrollTop - e.clientHeight < 8; })()`

// TestBrowserOpensAtNewestMessage: a chat of one page (so with the "beginning
// of the conversation" header) that is taller than the screen opens scrolled
// to its newest message, header or not.
func TestBrowserOpensAtNewestMessage(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	const total = 40 // under one page of history, taller than the screen
	seedChat(t, ts.url, "Short story", "line", total)

	alice := newUser(t, browser, ts.url, "Alice")
	alice.viewport(1280, 600)
	alice.signIn()
	clickChat(alice, "Short story")
	alice.waitFor("the newest message shows", hasMessage(fmt.Sprintf("line %d", total)))
	alice.waitFor("the start of the chat shows", `!!document.querySelector('.chat-view .chat-start')`)
	if !eval[bool](alice, `(() => { const e = document.querySelector('.chat-view .messages'); return e.scrollHeight > e.clientHeight + 200; })()`) {
		t.Fatal("the chat fits on the screen: nothing to scroll")
	}
	// Nothing scrolls after the header appears: the view is at the bottom now or never.
	alice.waitFor("the chat shows its newest message at the bottom", atBottom)
	alice.checkPage()
}

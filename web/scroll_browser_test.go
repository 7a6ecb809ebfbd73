package web_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

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

// atBottomExactly is true when the chat in front is scrolled to its end,
// within 2 px.
const atBottomExactly = `(() => { const e = document.querySelector('.chat-view .messages'); return !!e && e.scrollHeight > e.clientHeight && e.scrollHeight - e.scrollTop - e.clientHeight <= 2; })()`

// TestBrowserOpensAtNewestInTallHistory: a chat of several pages, opened at
// 1440x900, shows its newest message at the very bottom, and still does
// after every late change of height has settled; reopened after a reload
// too.
func TestBrowserOpensAtNewestInTallHistory(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	const total = 130
	seedChat(t, ts.url, "Long story", "line 🎉 with an emoji and some words to wrap the text of it over the width of a bubble", total)

	alice := newUser(t, browser, ts.url, "Alice")
	alice.viewport(1440, 900)
	alice.signIn()
	for round := 0; round < 2; round++ {
		clickChat(alice, "Long story")
		alice.waitFor("the newest message shows", hasMessage(fmt.Sprintf("line 🎉 with an emoji and some words to wrap the text of it over the width of a bubble %d", total)))
		alice.waitFor("the chat is at its newest message, within 2 px", atBottomExactly)
		// Give late layout (fonts, the header, the member count) a chance
		// to move it: two animation frames after the page is idle.
		alice.do("settle", chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestIdleCallback(() => requestAnimationFrame(() => requestAnimationFrame(r))))`, awaitPromise))
		gap := eval[float64](alice, `(() => { const e = document.querySelector('.chat-view .messages'); return e.scrollHeight - e.scrollTop - e.clientHeight; })()`)
		if gap > 2 {
			t.Errorf("round %d: the chat opened %.0f px short of its newest message", round, gap)
		}
		alice.do("reload", chromedp.Reload())
		alice.waitReady()
	}
	alice.checkPage()
}

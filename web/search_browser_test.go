package web_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/server"
)

// TestBrowserSearch: Carol opens the search box with Ctrl+K, types two
// words and sees the results grouped by chat with the words marked, and
// none from Alice and Bob's private chat (which Bob finds); choosing the
// result opens the chat at that message, in view, with the messages around
// it. Markup in a message stays
// text, in the results too.
func TestBrowserSearch(t *testing.T) {
	// The fillers go at once: no rate limit in the way.
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: t.TempDir() + "/chatr.db",
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	browser := newBrowser(t)
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "general")
	send(alice, "the launch plan is ready")
	send(alice, "<i>launch</i> <img src=x onerror=alert(1)> plan B")
	const fillers = 55 // more than the page a chat opens with
	alice.do("send the fillers", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		for (let i = 0; i < %d; i++) window.chatr.send('filler ' + i);
	})()`, fillers), awaitPromise))
	alice.waitFor("the fillers are stored", hasMessage(fmt.Sprintf("filler %d", fillers-1)))

	bob := newUser(t, browser, ts.url, "Bob")
	bob.signIn()
	carol := newUser(t, browser, ts.url, "Carol")
	carol.signIn()
	messagePerson(alice, "Bob")
	alice.waitFor("the private tab is in front", `(document.querySelector('.chat-tab.is-active') || {dataset: {}}).dataset.chatId?.startsWith('private_')`)
	send(alice, "the secret launch plan for Bob")

	// What the search API answers each of them, once the index has it.
	found := func(u *user, q string) string {
		return `(() => { const x = new XMLHttpRequest(); x.open('GET', '/api/search?q=' + encodeURIComponent(` + js(q) + `), false); x.send();
			return x.status === 200 ? JSON.parse(x.responseText).results.map((r) => r.message).join('\n') : 'HTTP ' + x.status; })()`
	}
	bob.waitFor("Bob finds the private message", found(bob, "secret")+` === 'the secret launch plan for Bob'`)
	clickChat(carol, "general")
	carol.waitFor("Carol's chat shows the newest messages", hasMessage(fmt.Sprintf("filler %d", fillers-1)))
	carol.waitFor("the search index has general", found(carol, "launch plan")+`.split('\n').length === 2`)
	if got := eval[string](carol, found(carol, "secret")); got != "" {
		t.Errorf("Carol's search for secret found %q", got)
	}
	carol.do("press Ctrl+K", ctrlK)
	carol.waitFor("the search box has the focus", `document.activeElement && document.activeElement.id === 'search-input'`)
	carol.do("type the words", chromedp.SendKeys(chromedp.CSS("#search-input"), "launch plan"))
	carol.waitFor("results show", `document.querySelectorAll('#search-results .search-result').length === 2`)
	groups := eval[[]string](carol, `[...document.querySelectorAll('#search-results .search-group')].map((e) => e.textContent)`)
	if len(groups) != 1 || groups[0] != "general" {
		t.Errorf("result groups: got %q, want [general]", groups)
	}
	texts := eval[[]string](carol, `[...document.querySelectorAll('#search-results .search-result .search-text')].map((e) => e.textContent)`)
	want := []string{"<i>launch</i> <img src=x onerror=alert(1)> plan B", "the launch plan is ready"}
	if fmt.Sprint(texts) != fmt.Sprint(want) {
		t.Errorf("result texts: got %q, want %q", texts, want)
	}
	marks := eval[[]string](carol, `[...document.querySelectorAll('#search-results mark.search-hit')].map((e) => e.textContent)`)
	if fmt.Sprint(marks) != fmt.Sprint([]string{"launch", "plan", "launch", "plan"}) {
		t.Errorf("marked words: got %q", marks)
	}
	if n := eval[int](carol, `document.querySelectorAll('#search-results img, #search-results i').length`); n != 0 {
		t.Errorf("%d elements made of a message's markup", n)
	}
	if n := eval[int](carol, `[...document.querySelectorAll('#search-results .search-result')].filter((e) => e.textContent.includes('secret')).length`); n != 0 {
		t.Errorf("Carol sees %d results from a private chat she is not in", n)
	}

	carol.do("mark the older result", chromedp.Evaluate[chromedp.Void](
		`[...document.querySelectorAll('#search-results .search-result')].find((e) => e.querySelector('.search-text').textContent === 'the launch plan is ready').setAttribute('data-test-target', '1')`))
	carol.click(`#search-results .search-result[data-test-target]`)
	carol.waitFor("the panel closes", `!document.querySelector('#search-panel')`)
	carol.waitFor("the message is shown, in view", `[...document.querySelectorAll('.chat-view .msg')].some((e) => {
		const r = e.getBoundingClientRect();
		return e.querySelector('.msg-text').textContent === 'the launch plan is ready' && r.top >= 0 && r.bottom <= window.innerHeight; })`)
	carol.waitFor("with the messages after it", hasMessage("filler 0")+" && "+hasMessage("filler 5"))

	// A name finds the chat itself; Escape closes the box.
	carol.do("press Ctrl+K again", ctrlK)
	carol.do("type a chat's name", chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('#search-input'); e.value = ''; e.dispatchEvent(new Event('input')); })()`),
		chromedp.SendKeys(chromedp.CSS("#search-input"), "gener"))
	carol.waitFor("the chat is offered by name", `[...document.querySelectorAll('#search-results .search-name')].some((e) => e.textContent === 'general')`)
	carol.do("press Escape", chromedp.KeyEvent("\u001b"))
	carol.waitFor("the panel closes", `!document.querySelector('#search-panel')`)

	for _, u := range []*user{alice, bob, carol} {
		u.checkPage()
	}
}

// ctrlK presses Ctrl+K as a keyboard does.
var ctrlK = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "k", Code: "KeyK", WindowsVirtualKeyCode: 75, NativeVirtualKeyCode: 75, Modifiers: 2, // Ctrl
		})
		if err != nil {
			return err
		}
	}
	return nil
})

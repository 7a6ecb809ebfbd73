package web_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/server"
)

// msgSel finds, in the chat in front, the message whose text is text.
func msgSel(text string) string {
	return `[...document.querySelectorAll('.chat-view .msg[data-id]')].find((m) => (m.querySelector('.msg-text') || {}).textContent === ` + js(text) + `)`
}

// until waits until expr holds, taking an exception (an element not
// there yet) for false; a promise counts for what it resolves to.
func until(u *user, what, expr string) {
	u.t.Helper()
	u.waitFor(what, `(() => { try { const v = (`+expr+`); return v && typeof v.then === 'function' ? v.then((x) => !!x, () => false) : !!v; } catch { return false; } })()`)
}

// act clicks a message tool (hidden until hover or focus, so clicked from
// the page) on the message with text.
func act(u *user, text, tool string) {
	u.t.Helper()
	until(u, "message "+text+" shows", msgSel(text))
	u.do("click "+tool+" on "+text, chromedp.Evaluate[chromedp.Void](msgSel(text)+`.querySelector(`+js(tool)+`).click()`))
}

// TestBrowserMessages: two people and a bot. Alice edits, Bob reacts and
// replies, a reply to a message far back jumps to it, a mention of Alice
// is highlighted for her (a name without @ is not), Bob deletes his own
// message and Alice, the chat's owner, deletes his other one; the "New
// messages" line: see TestBrowserNewMessagesLine.
func TestBrowserMessages(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()
	createChat(alice, "Lounge")
	chatID := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	clickChat(bob, "Lounge")

	// Markdown, and an edit.
	send(alice, "the original **typo**")
	until(bob, "Bob sees bold text", `!!document.querySelector('.chat-view .msg .msg-text strong')`)
	act(alice, "the original typo", ".tool-edit")
	until(alice, "the editor opens", `!!document.querySelector('.msg-edit textarea')`)
	alice.do("change the text", chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('.msg-edit textarea'); t.value = 'the original text'; t.dispatchEvent(new Event('input')); })()`))
	alice.do("save", chromedp.Click(chromedp.CSS(".msg-edit .edit-save")))
	until(bob, "Bob sees the edit", `!!`+msgSel("the original text")+` && !!`+msgSel("the original text")+`.querySelector('.msg-edited')`)

	// A reaction, seen by both with who made it.
	act(bob, "the original text", ".tool-react")
	until(bob, "the picker opens", `!!document.querySelector('.emoji-picker')`)
	bob.do("pick 🎉", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('.emoji-picker .emoji-choice')].find((b) => b.textContent === '🎉').click()`))
	until(alice, "Alice sees Bob's reaction", msgSel("the original text")+`.querySelector('.reaction[data-emoji="🎉"] .reaction-count').textContent === '1'`)
	if title := eval[string](alice, msgSel("the original text")+`.querySelector('.reaction').title`); title != "Bob reacted with 🎉" {
		t.Errorf("reaction title %q", title)
	}
	until(bob, "Bob's own reaction is on", msgSel("the original text")+`.querySelector('.reaction').getAttribute('aria-pressed') === 'true'`)

	// A reply through the composer.
	act(bob, "the original text", ".tool-reply")
	until(bob, "the reply bar shows", `!!document.querySelector('.reply-bar')`)
	send(bob, "my answer")
	until(alice, "Alice sees the reply's quote", `(() => { const m = `+msgSel("my answer")+`; const q = m && m.querySelector('.reply-quote'); return !!q && q.textContent.includes('the original text'); })()`)

	// Mentions: only the server's list highlights.
	send(bob, "hey @alice look")
	send(bob, "Alice without the at")
	until(alice, "the mention is highlighted", `(`+msgSel("hey @alice look")+` || { classList: new Set() }).classList.contains('is-mention')`)
	until(alice, "the other message shows", `!!`+msgSel("Alice without the at"))
	if eval[bool](alice, msgSel("Alice without the at")+`.classList.contains('is-mention')`) {
		t.Error("a name without @ is highlighted as a mention")
	}

	// Deletions: Bob his own, with confirmation; Alice (owner) Bob's other.
	act(bob, "Alice without the at", ".tool-delete")
	bob.do("confirm", chromedp.Click(chromedp.CSS(".confirm-delete-message")))
	act(alice, "hey @alice look", ".tool-delete")
	alice.do("confirm", chromedp.Click(chromedp.CSS(".confirm-delete-message")))
	for _, u := range []*user{alice, bob} {
		until(u, "two messages show as deleted", `document.querySelectorAll('.chat-view .msg.is-deleted .msg-deleted').length === 2`)
		if eval[bool](u, `document.querySelector('.chat-view').textContent.includes('Alice without the at')`) {
			t.Errorf("%s still sees a deleted text", u.name)
		}
	}

	// A reply to a message far back: the quote jumps there, loading it.
	c := guestConn(t, ts.url, "Archivist")
	if f, err := c.Event("joinChat", chatID); err != nil || !f.Success {
		t.Fatalf("joinChat: %v %+v", err, f)
	}
	for i := 1; i <= 120; i++ {
		if f, err := c.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json",
			"data": map[string]any{"message": fmt.Sprintf("filler %d", i)}}); err != nil || !f.Success {
			t.Fatalf("filler %d: %v %+v", i, err, f)
		}
	}
	if f, err := c.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json",
		"data": map[string]any{"message": "about that original", "replyTo": 1}}); err != nil || !f.Success {
		t.Fatalf("reply: %v %+v", err, f)
	}
	alice.do("reload", chromedp.Reload())
	alice.waitReady()
	until(alice, "the reply shows", `!!`+msgSel("about that original"))
	// The chat reopens at the newest messages, or at a "New messages" line
	// when the reload beat Alice's read marker; the original is then
	// already loaded and the jump only scrolls to it.
	if eval[bool](alice, `!!`+msgSel("the original text")) {
		t.Log("the original is loaded already: this run checks the scroll and flash, not the load around it")
	}
	act(alice, "about that original", ".reply-quote")
	until(alice, "the original is loaded, on screen and flashed", `(() => { const m = `+msgSel("the original text")+`; if (!m) return false;
		const r = m.getBoundingClientRect(), b = document.querySelector('.messages').getBoundingClientRect();
		return m.classList.contains('is-flash') && r.top >= b.top && r.bottom <= b.bottom; })()`)

	alice.checkPage()
	bob.checkPage()
}

// TestBrowserNewMessagesLine: messages arrive while Alice is in another
// chat; coming back, the "New messages" line is above the first unread at
// the top of the list, only what was on screen is marked read, and the
// rest once she scrolls down.
func TestBrowserNewMessagesLine(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Lounge")
	chatID := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	send(alice, "before")
	c := guestConn(t, ts.url, "Archivist")
	if f, err := c.Event("joinChat", chatID); err != nil || !f.Success {
		t.Fatalf("joinChat: %v %+v", err, f)
	}
	createChat(alice, "Elsewhere")
	for i := 1; i <= 30; i++ {
		if f, err := c.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json",
			"data": map[string]any{"message": fmt.Sprintf("unread %d", i)}}); err != nil || !f.Success {
			t.Fatalf("unread %d: %v %+v", i, err, f)
		}
	}
	until(alice, "30 unread", `(document.querySelector('.chat-tab[data-chat-id="`+chatID+`"] .unread-badge') || {}).textContent === '30'`)
	alice.click(`.chat-tab[data-chat-id="` + chatID + `"] .tab-main`)
	until(alice, "the line is above the first unread, at the top", `(() => { const l = document.querySelector('.new-line'); if (!l) return false;
		const next = l.nextElementSibling; const b = document.querySelector('.messages').getBoundingClientRect();
		return next && next.querySelector('.msg-text').textContent === 'unread 1' && Math.abs(l.getBoundingClientRect().top - b.top) < 40; })()`)
	unread := `fetch('/api/chats').then((r) => r.json()).then((j) => (j.unread || {})[` + js(chatID) + `] || 0)`
	alice.waitFor("only what was on screen is read", unread+`.then((n) => n > 0 && n < 30)`)
	if eval[bool](alice, `(() => { const m = `+msgSel("unread 30")+`; const b = document.querySelector('.messages').getBoundingClientRect(); return m.getBoundingClientRect().top < b.bottom; })()`) {
		t.Fatal("all 30 unread messages fit on screen: the test proves nothing")
	}
	alice.do("scroll to the end", chromedp.Evaluate[chromedp.Void](`(() => { const m = document.querySelector('.messages'); m.scrollTop = m.scrollHeight; })()`))
	alice.waitFor("everything is read", unread+`.then((n) => n === 0)`)
	alice.checkPage()
}

// TestBrowserAdminDeletesMessage: a server admin who is neither the author
// nor the chat's owner deletes a message from the page; the author and a
// third member see "message deleted", and the moderation log names the
// admin.
func TestBrowserAdminDeletesMessage(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"), Admins: "@boss"})
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	boss := newUser(t, browser, ts.url, "Boss")
	for _, u := range []*user{alice, bob, boss} {
		u.signIn()
	}
	createChat(alice, "Lounge")
	clickChat(bob, "Lounge")
	send(bob, "buy cheap watches")
	clickChat(boss, "Lounge")
	act(boss, "buy cheap watches", ".tool-delete")
	boss.do("confirm", chromedp.Click(chromedp.CSS(".confirm-delete-message")))
	for _, u := range []*user{alice, bob, boss} {
		until(u, "the message shows as deleted", `document.querySelectorAll('.chat-view .msg.is-deleted .msg-deleted').length === 1 && !document.body.textContent.includes('cheap watches')`)
	}
	log := eval[string](boss, `(() => { const x = new XMLHttpRequest(); x.open('GET', '/api/admin/modlog', false); x.send();
		const e = JSON.parse(x.responseText).events[0]; return e.action + ' ' + (e.messageId > 0); })()`)
	if log != "deleteMessage true" {
		t.Errorf("newest moderation log entry: %q, want the admin's deleteMessage", log)
	}
	for _, u := range []*user{alice, bob, boss} {
		u.checkPage()
	}
}

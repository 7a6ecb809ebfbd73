package web_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/server"
)

// pressKey sends one key as a keyboard does (a keydown the page may cancel,
// then a keyup), like pressEnter.
func pressKey(key string, code int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: key, Code: key, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code,
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestBrowserMentionAutocomplete: Bob types "@al" in the composer, the
// list offers Alice, Tab and Enter put "@alice " in the text; the message
// sent carries the mention (the server's list), so Alice, reading another
// chat, gets a mention count, and sees the message highlighted. With
// --mention-all-max 1, @all is offered to the chat's owner only, and the
// server refuses it from Bob.
func TestBrowserMentionAutocomplete(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MentionAllMax: 1}})
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()
	createChat(alice, "Lounge")
	chatID := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	clickChat(bob, "Lounge")
	createChat(alice, "Elsewhere")

	offered := `[...document.querySelectorAll('#mention-list .mention-option')].map((o) => o.querySelector('.mention-name').textContent + ' ' + o.querySelector('.mention-handle').textContent).join()`
	for _, k := range []struct {
		name string
		code int64
	}{{"Tab", 9}, {"Enter", 13}} {
		bob.do("clear the composer", chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('#composer-input'); t.value = ''; t.dispatchEvent(new Event('input')); })()`))
		bob.do("type @al", chromedp.SendKeys(chromedp.CSS("#composer-input"), "@al"))
		bob.waitFor("the list offers Alice", offered+` === 'Alice @alice'`)
		bob.do("press "+k.name, pressKey(k.name, k.code))
		bob.waitFor(k.name+" puts the handle in the text", `document.querySelector('#composer-input').value === '@alice ' && !document.querySelector('#mention-list')`)
		if focused := eval[string](bob, `document.activeElement.id`); focused != "composer-input" {
			t.Errorf("after %s the focus is on %q, want the composer", k.name, focused)
		}
	}
	// Nobody else matches: the list closes.
	bob.do("type more", chromedp.SendKeys(chromedp.CSS("#composer-input"), "and @zz"))
	bob.waitFor("no list for a name nobody has", `!document.querySelector('#mention-list')`)
	bob.do("fix the text", chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('#composer-input'); t.value = '@alice look at this'; t.dispatchEvent(new Event('input')); })()`))
	bob.do("send", pressEnter)
	bob.waitFor("the composer is empty", `document.querySelector('#composer-input').value === ''`)

	alice.waitFor("Alice's sidebar counts a mention", `(document.querySelector('#chat-list .side-item[data-chat-id="`+chatID+`"] .mention-badge') || {}).textContent === '@1'`)
	alice.waitFor("the server counts it", `fetch('/api/chats').then((r) => r.json()).then((j) => (j.mentions || {})[`+js(chatID)+`] === 1)`)
	clickChat(alice, "Lounge")
	until(alice, "the message is highlighted for Alice", msgSel("@alice look at this")+`.classList.contains('is-mention')`)
	alice.waitFor("reading it clears the mention count", `!document.querySelector('#chat-list .side-item[data-chat-id="`+chatID+`"] .mention-badge')`)

	// @all: the owner is offered it, Bob is not and the server says no.
	alice.do("type @a", chromedp.SendKeys(chromedp.CSS("#composer-input"), "@a"))
	alice.waitFor("the owner is offered @all and @here is not", offered+` === 'Everyone @all'`)
	bob.do("type @a", chromedp.SendKeys(chromedp.CSS("#composer-input"), "@a"))
	bob.waitFor("Bob is offered Alice only", offered+` === 'Alice @alice'`)
	bob.do("type @all", chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('#composer-input'); t.value = '@all wake up'; t.dispatchEvent(new Event('input')); })()`))
	bob.do("send", pressEnter)
	bob.waitFor("the server refuses Bob's @all", `(document.querySelector('.msg.is-pending.is-failed .msg-status') || {}).textContent?.startsWith('Not sent: not allowed')`)
	alice.checkPage()
	bob.checkPage()
}

// touchAt holds a finger on the centre of the element expr finds for hold,
// then lifts it.
func touchAt(u *user, what, expr string, hold time.Duration) {
	u.t.Helper()
	xy := eval[[]float64](u, `(() => { const r = (`+expr+`).getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	u.do(what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p := input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchStart,
			TouchPoints: []*input.TouchPoint{{X: xy[0], Y: xy[1]}}}
		if _, err := cdp.Call(ctx, t, input.DispatchTouchEvent, p); err != nil {
			return err
		}
		// A long press is a length of time: nothing else to wait for.
		time.Sleep(hold)
		p.Type, p.TouchPoints = input.DispatchTouchEventTypeTouchEnd, []*input.TouchPoint{}
		_, err := cdp.Call(ctx, t, input.DispatchTouchEvent, p)
		return err
	}))
}

// shownTools lists the message actions visible on the message expr finds.
func shownTools(expr string) string {
	return `[...(` + expr + `).querySelectorAll('.msg-tools .msg-tool')].filter((b) => b.getClientRects().length).map((b) => b.getAttribute('aria-label')).join()`
}

// TestBrowserTouchMenu: on a phone (375x812, touch, no hover) a message's
// actions are hidden until its "⋯" button is tapped or the message is
// long-pressed; then reply, react, edit and delete (own message) or reply,
// react and delete (the chat's owner on another's) work by touch.
func TestBrowserTouchMenu(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Lounge")
	chatID := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	alice.do("phone with touch", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)))
	send(alice, "mine to change")
	bob := guestConn(t, ts.url, "Bob")
	if f, err := bob.Event("joinChat", chatID); err != nil || !f.Success {
		t.Fatalf("joinChat: %v %+v", err, f)
	}
	if f, err := bob.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json",
		"data": map[string]any{"message": "from Bob"}}); err != nil || !f.Success {
		t.Fatalf("Bob's message: %v %+v", err, f)
	}
	until(alice, "both messages show", msgSel("mine to change")+` && `+msgSel("from Bob"))
	if !eval[bool](alice, `matchMedia('(hover: none)').matches`) {
		t.Fatal("the emulated phone has hover: the touch layout is not under test")
	}
	if got := eval[string](alice, shownTools(msgSel("mine to change"))); got != "" {
		t.Fatalf("actions show before any touch: %q", got)
	}

	// The "⋯" button on her own message.
	more := msgSel("mine to change") + `.querySelector('.msg-more')`
	alice.waitFor("the ⋯ button shows", more+`.getClientRects().length > 0`)
	touchAt(alice, "tap ⋯", more, 50*time.Millisecond)
	alice.waitFor("her message's actions open", shownTools(msgSel("mine to change"))+` === 'Reply,Add a reaction,Edit,Delete'`)
	touchAt(alice, "tap Edit", msgSel("mine to change")+`.querySelector('.tool-edit')`, 50*time.Millisecond)
	alice.waitFor("the editor opens", `!!document.querySelector('.msg-edit textarea')`)
	alice.do("change the text", chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('.msg-edit textarea'); t.value = 'mine, changed'; t.dispatchEvent(new Event('input')); })()`))
	touchAt(alice, "tap Save", `document.querySelector('.msg-edit .edit-save')`, 50*time.Millisecond)
	until(alice, "the edit shows", msgSel("mine, changed")+`.querySelector('.msg-edited')`)
	if title := eval[string](alice, msgSel("mine, changed")+`.querySelector('.msg-edited').title`); !strings.HasPrefix(title, "Edited ") || !strings.ContainsAny(title, "0123456789") {
		t.Errorf("the edited mark's tooltip is %q, want the time of the edit", title)
	}

	// A long press on Bob's message.
	touchAt(alice, "long-press Bob's message", msgSel("from Bob")+`.querySelector('.msg-text')`, 900*time.Millisecond)
	alice.waitFor("Bob's message's actions open", shownTools(msgSel("from Bob"))+` === 'Reply,Add a reaction,Delete'`)
	touchAt(alice, "tap React", msgSel("from Bob")+`.querySelector('.tool-react')`, 50*time.Millisecond)
	alice.waitFor("the picker opens", `!!document.querySelector('.emoji-picker')`)
	touchAt(alice, "tap 👍", `[...document.querySelectorAll('.emoji-picker .emoji-choice')].find((b) => b.textContent === '👍')`, 50*time.Millisecond)
	until(alice, "the reaction shows", msgSel("from Bob")+`.querySelector('.reaction[data-emoji="👍"] .reaction-count').textContent === '1'`)

	touchAt(alice, "long-press Bob's message again", msgSel("from Bob")+`.querySelector('.msg-text')`, 900*time.Millisecond)
	alice.waitFor("the actions open again", shownTools(msgSel("from Bob"))+` === 'Reply,Add a reaction,Delete'`)
	touchAt(alice, "tap Reply", msgSel("from Bob")+`.querySelector('.tool-reply')`, 50*time.Millisecond)
	alice.waitFor("the reply bar shows", `(document.querySelector('.reply-bar') || {}).textContent?.includes('from Bob')`)
	send(alice, "answering Bob")
	until(alice, "the reply quotes Bob", msgSel("answering Bob")+`.querySelector('.reply-quote').textContent.includes('from Bob')`)

	touchAt(alice, "long-press Bob's message to delete it", msgSel("from Bob")+`.querySelector('.msg-text')`, 900*time.Millisecond)
	alice.waitFor("the actions open once more", shownTools(msgSel("from Bob"))+`.endsWith('Delete')`)
	touchAt(alice, "tap Delete", msgSel("from Bob")+`.querySelector('.tool-delete')`, 50*time.Millisecond)
	alice.waitFor("the confirmation shows", `!!document.querySelector('.confirm-delete-message')`)
	touchAt(alice, "confirm", `document.querySelector('.confirm-delete-message')`, 50*time.Millisecond)
	alice.waitFor("Bob's message shows as deleted", `document.querySelectorAll('.chat-view .msg.is-deleted').length === 1 && !document.querySelector('.chat-view').textContent.includes('from Bob')`)
	alice.checkPage()
}

// TestBrowserDraftsSurviveReload: text typed in chat A stays A's when
// Alice switches to chat B, and is back in A's composer after a reload.
func TestBrowserDraftsSurviveReload(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db")})
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Alpha")
	alpha := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	createChat(alice, "Beta")
	beta := eval[string](alice, `document.querySelector('.chat-view').dataset.chatId`)
	tab := func(id string) string { return `.chat-tab[data-chat-id="` + id + `"] .tab-main` }
	composer := `document.querySelector('#composer-input').value`

	alice.click(tab(alpha))
	alice.waitFor("Alpha is in front", `document.querySelector('.chat-view').dataset.chatId === `+js(alpha))
	alice.do("type without sending", chromedp.SendKeys(chromedp.CSS("#composer-input"), "half a thought"))
	alice.click(tab(beta))
	alice.waitFor("Beta's composer is empty", `document.querySelector('.chat-view').dataset.chatId === `+js(beta)+` && `+composer+` === ''`)
	alice.do("type in Beta", chromedp.SendKeys(chromedp.CSS("#composer-input"), "for Beta"))

	alice.do("reload", chromedp.Reload())
	alice.waitReady()
	alice.waitFor("Beta is in front with its draft", `document.querySelector('.chat-view').dataset.chatId === `+js(beta)+` && `+composer+` === 'for Beta'`)
	alice.click(tab(alpha))
	alice.waitFor("Alpha's draft is back", `document.querySelector('.chat-view').dataset.chatId === `+js(alpha)+` && `+composer+` === 'half a thought'`)
	// Sent, it is no longer a draft.
	alice.do("send it", pressEnter)
	alice.waitFor("the draft is sent", hasMessage("half a thought"))
	alice.do("reload again", chromedp.Reload())
	alice.waitReady()
	alice.click(tab(alpha))
	alice.waitFor("Alpha's composer is empty", `document.querySelector('.chat-view').dataset.chatId === `+js(alpha)+` && `+composer+` === ''`)
	alice.checkPage()
}

// TestBrowserCodeCopy: a fenced code block's Copy button puts the code, as
// written (markup, indentation and all), on the clipboard.
func TestBrowserCodeCopy(t *testing.T) {
	b := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db")})
	alice := newUser(t, b, ts.url, "Alice")
	alice.signIn()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(alice.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted,
			Origin: ts.url, BrowserContextID: chromedp.FromContext(alice.ctx).BrowserContextID}); err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	createChat(alice, "Code")
	const code = "if (a < b) {\n  <b>bold</b> **not bold**\n}"
	text := "look:\n```js\n" + code + "\n```"
	alice.do("write a code block", chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('#composer-input'); t.value = `+js(text)+`; t.dispatchEvent(new Event('input')); })()`))
	alice.do("send", pressEnter)
	alice.waitFor("the code block shows", `(document.querySelector('.chat-view .msg .md-code code') || {}).textContent === `+js(code))
	alice.click(".chat-view .msg .md-copy")
	alice.waitFor("the button says it copied", `document.querySelector('.chat-view .msg .md-copy').textContent === 'Copied'`)
	if got := evalAsync[string](alice, `navigator.clipboard.readText()`); got != code {
		t.Errorf("the clipboard holds %q, want %q", got, code)
	}
	alice.checkPage()
}

package web_test

// Browser tests of rooms, people and direct messages (issue 13): three
// users each, a real server and Chromium.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/server"
)

// fetchJSON runs fetch(path).then(r => r.json()) in the user's page, signed
// in as that user, and returns expr applied to the answer (as j).
func fetchJSON[T any](u *user, path, expr string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](`fetch(`+js(path)+`).then((r) => r.json()).then((j) => `+expr+`)`, awaitPromise))
	if err != nil {
		u.t.Fatalf("%s: GET %s: %v", u.name, path, err)
	}
	return v
}

// activeChatID is the id of the chat in front.
func activeChatID(u *user) string {
	u.t.Helper()
	u.waitFor("a chat is in front", `!!document.querySelector('.chat-tab.is-active')`)
	return eval[string](u, `document.querySelector('.chat-tab.is-active').dataset.chatId`)
}

// memberNames lists the names of a chat's members as /api/chats tells u.
func memberNames(u *user, chatID string) []string {
	u.t.Helper()
	return fetchJSON[[]string](u, "/api/chats", `Object.values(((j.chats || {})[`+js(chatID)+`] || {}).members || {}).map((m) => m.userName).sort()`)
}

// sideItem finds a chat's sidebar entry by chat id.
func sideItem(list, chatID string) string {
	return `document.querySelector('#` + list + ` .side-item[data-chat-id="` + chatID + `"]')`
}

func TestBrowserJoinAndLeave(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	carol := newUser(t, browser, ts.url, "Carol")
	for _, u := range []*user{alice, bob, carol} {
		u.signIn()
	}

	t.Log("step: create a public chat with a topic; the others join it explicitly")
	alice.click("#new-chat")
	alice.waitFor("the create dialog shows", `document.activeElement && document.activeElement.id === 'chat-name'`)
	alice.do("fill in the dialog", chromedp.SendKeys(chromedp.CSS("#chat-name"), "Garden"),
		chromedp.SendKeys(chromedp.CSS("#chat-topic"), "Tomatoes and more"))
	if !eval[bool](alice, `document.querySelector('#visibility-public').checked`) {
		t.Errorf("a new chat is not public by default")
	}
	alice.screenshot("create-chat-light")
	alice.click("#create-chat-submit")
	alice.waitFor("Garden is in front", `(document.querySelector('.chat-tab.is-active .tab-name') || {}).textContent === 'Garden'`)
	chatID := activeChatID(alice)

	bob.click("#browse-chats")
	bob.waitFor("Bob can join Garden", browseListed("Garden"))
	if in := eval[bool](bob, chatListed("Garden")); in {
		t.Errorf("Garden is in Bob's chats before he joined")
	}
	bob.screenshotSizes("browse", true)
	joinChat(bob, "Garden")
	joinChat(carol, "Garden")
	bob.waitFor("Garden is in Bob's chats", chatListed("Garden"))
	alice.waitFor("Alice sees Carol's join", `[...document.querySelectorAll('.chat-view .note')].some((e) => e.textContent.includes('Carol has joined'))`)

	t.Log("step: closing the tab keeps the membership")
	bob.click(`.chat-tab[data-chat-id="` + chatID + `"] .tab-close`)
	bob.waitFor("the tab is closed", `!document.querySelector('.chat-tab[data-chat-id="`+chatID+`"]')`)
	bob.waitFor("Garden stays in Bob's chats", chatListed("Garden"))
	send(alice, "First tomato of the year")
	bob.waitFor("the unread count goes on", sideItem("chat-list", chatID)+`?.querySelector('.unread-badge')?.textContent === '1'`)
	send(alice, "@Bob want one?")
	bob.waitFor("a mention is counted", sideItem("chat-list", chatID)+`?.querySelector('.mention-badge')?.textContent === '@1'`)
	bob.waitFor("two unread", sideItem("chat-list", chatID)+`?.querySelector('.unread-badge')?.textContent === '2'`)
	for _, u := range []*user{alice, carol} {
		if got := strings.Join(memberNames(u, chatID), ","); got != "Alice,Bob,Carol" {
			t.Errorf("%s: members after Bob closed his tab: %s, want Alice,Bob,Carol", u.name, got)
		}
	}
	if eval[bool](alice, `[...document.querySelectorAll('.chat-view .note')].some((e) => e.textContent.includes('Bob has left'))`) {
		t.Errorf("closing a tab announced that Bob left")
	}
	bob.do("reload", chromedp.Reload())
	bob.waitReady()
	bob.waitFor("after a reload Garden is still Bob's, with its unread count", chatListed("Garden")+` && `+sideItem("chat-list", chatID)+`?.querySelector('.unread-badge')?.textContent === '2'`)
	clickChat(bob, "Garden")
	bob.waitFor("Bob reads what was sent while the tab was closed", hasMessage("@Bob want one?"))
	bob.waitFor("reading clears the counts", `!`+sideItem("chat-list", chatID)+`.querySelector('.unread-badge, .mention-badge')`)

	t.Log("step: leaving asks first")
	bob.click(`#chat-list .side-item[data-chat-id="` + chatID + `"] .chat-menu-button`)
	bob.click(`#chat-list .dropdown.is-active .leave-chat`)
	bob.waitFor("the confirmation shows", `!!document.querySelector('#confirm-leave')`)
	bob.screenshot("leave-confirm-light")
	bob.do("cancel", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('.modal-card-foot .button')].find((b) => b.textContent === 'Cancel').click()`))
	bob.waitFor("the dialog closes", `!document.querySelector('.modal')`)
	if got := strings.Join(memberNames(alice, chatID), ","); got != "Alice,Bob,Carol" {
		t.Errorf("members after Bob cancelled leaving: %s", got)
	}
	bob.click(`#chat-list .side-item[data-chat-id="` + chatID + `"] .chat-menu-button`)
	bob.click(`#chat-list .dropdown.is-active .leave-chat`)
	bob.click("#confirm-leave")
	bob.waitFor("Garden leaves Bob's chats and tabs", `!(`+chatListed("Garden")+`) && !document.querySelector('.chat-tab[data-chat-id="`+chatID+`"]')`)
	alice.waitFor("Alice reads that Bob left", `[...document.querySelectorAll('.chat-view .note')].some((e) => e.textContent.includes('Bob has left'))`)
	for _, u := range []*user{alice, carol} {
		if got := strings.Join(memberNames(u, chatID), ","); got != "Alice,Carol" {
			t.Errorf("%s: members after Bob left: %s, want Alice,Carol", u.name, got)
		}
	}
	bob.click("#browse-chats")
	bob.waitFor("Garden can be joined again", browseListed("Garden"))
	send(alice, "after Bob left")
	carol.waitFor("Carol still gets messages", hasMessage("after Bob left"))
	for _, u := range []*user{alice, bob, carol} {
		u.checkPage()
	}
}

func TestBrowserDirectMessageToOfflineUser(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"), OfflineGrace: 300 * time.Millisecond})
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	carol := newUser(t, browser, ts.url, "Carol")
	for _, u := range []*user{alice, bob, carol} {
		u.signIn()
	}
	// Carol leaves: her cookie stays, her sockets close.
	carol.do("leave the app", chromedp.Navigate("about:blank"))
	alice.waitFor("the server counts Carol offline", `fetch('/api/users?q=carol').then((r) => r.json()).then((j) => Object.values(j.users).some((u) => u.userName === 'Carol' && !u.online))`)

	t.Log("step: the directory finds Carol, offline, with when she was last seen")
	openPeople(alice)
	alice.do("search for Carol", chromedp.SendKeys(chromedp.CSS("#people-search"), "car"))
	alice.waitFor("only Carol matches", personShown("Carol")+` && !(`+personShown("Bob")+`)`)
	alice.waitFor("Carol shows as last seen", personStatus("Carol")+`.startsWith('last seen')`)
	alice.screenshotSizes("people-search", true)
	handle := eval[string](alice, `([...document.querySelectorAll('#people-list .person')].find((e) => e.querySelector('.person-name').textContent === 'Carol').querySelector('.handle') || {}).textContent || ''`)
	if !strings.HasPrefix(handle, "@") {
		t.Errorf("Carol's handle shows as %q, want @...", handle)
	}
	if handle != "" {
		alice.do("clear the search", chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('#people-search'); e.value = ''; e.dispatchEvent(new Event('input')); })()`))
		alice.waitFor("everyone is listed again", personShown("Bob"))
		alice.do("search by handle", chromedp.SendKeys(chromedp.CSS("#people-search"), handle))
		alice.waitFor("the handle finds Carol", personShown("Carol")+` && !(`+personShown("Bob")+`)`)
	}

	t.Log("step: a DM to Carol while she is offline")
	messagePerson(alice, "Carol")
	chatID := activeChatID(alice)
	send(alice, "Are you there, Carol?")
	alice.waitFor("the DM is in Alice's sidebar", sideItem("dm-list", chatID)+`?.textContent.includes('Carol')`)
	alice.waitFor("Carol shows offline beside it", sideItem("dm-list", chatID)+`?.querySelector('.presence-dot.is-offline')`)
	alice.click(`.chat-tab[data-chat-id="` + chatID + `"] .tab-close`)
	alice.waitFor("the DM stays in the sidebar after its tab closes", sideItem("dm-list", chatID)+` !== null`)
	alice.screenshotSizes("dm-offline", true)
	if eval[bool](bob, sideItem("dm-list", chatID)+` !== null`) {
		t.Errorf("Bob sees Alice and Carol's DM")
	}

	t.Log("step: Carol comes back and finds it")
	carol.do("come back", chromedp.Navigate(ts.url+"/"))
	carol.waitReady()
	carol.waitFor("the DM is in Carol's sidebar with one unread", sideItem("dm-list", chatID)+`?.querySelector('.unread-badge')?.textContent === '1'`)
	alice.waitFor("Alice sees Carol online", sideItem("dm-list", chatID)+`?.querySelector('.presence-dot.is-online')`)
	carol.click(`#dm-list .side-item[data-chat-id="` + chatID + `"] .side-main`)
	carol.waitFor("Carol reads it", hasMessage("Are you there, Carol?"))
	send(carol, "Here now")
	alice.waitFor("Alice's sidebar counts Carol's answer", sideItem("dm-list", chatID)+`?.querySelector('.unread-badge')?.textContent === '1'`)
	for _, u := range []*user{alice, bob, carol} {
		u.checkPage()
	}
}

func TestBrowserGroupDM(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	carol := newUser(t, browser, ts.url, "Carol")
	for _, u := range []*user{alice, bob, carol} {
		u.signIn()
	}
	alice.click("#new-group-dm")
	alice.waitFor("the dialog lists people", `document.querySelectorAll('#groupdm-options .pick-option').length >= 2`)
	pick := func(name string) {
		alice.do("pick "+name, chromedp.Evaluate[chromedp.Void](
			`[...document.querySelectorAll('#groupdm-options .pick-option')].find((e) => e.querySelector('.person-name').textContent === `+js(name)+`).querySelector('input').click()`))
	}
	pick("Bob")
	alice.waitFor("one person is not enough", `document.querySelector('#groupdm-submit').disabled`)
	pick("Carol")
	alice.waitFor("two people may start", `!document.querySelector('#groupdm-submit').disabled`)
	alice.screenshotSizes("groupdm-dialog", false)
	alice.click("#groupdm-submit")
	alice.waitFor("the group DM is in front", `(document.querySelector('.chat-tab.is-active') || {dataset: {}}).dataset.chatId?.startsWith('dm_')`)
	chatID := activeChatID(alice)
	for _, u := range []*user{alice, bob, carol} {
		u.waitFor("the group DM is in the sidebar, named after the others", sideItem("dm-list", chatID)+`?.querySelector('.group-count')?.textContent === '3'`)
	}
	send(alice, "Lunch at noon?")
	for _, u := range []*user{bob, carol} {
		u.click(`#dm-list .side-item[data-chat-id="` + chatID + `"] .side-main`)
		u.waitFor("the message arrives", hasMessage("Lunch at noon?"))
	}
	if name := eval[string](bob, sideItem("dm-list", chatID)+`.querySelector('.dm-name').textContent`); name != "Alice, Carol" && name != "Carol, Alice" {
		t.Errorf("Bob's group DM is named %q, want the two others", name)
	}
	send(carol, "Yes!")
	alice.waitFor("Alice gets Carol's answer", hasMessage("Yes!"))
	bob.waitFor("Bob gets Carol's answer", hasMessage("Yes!"))
	for _, u := range []*user{alice, bob, carol} {
		u.checkPage()
	}
}

func TestBrowserRename(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	carol := newUser(t, browser, ts.url, "Carol")
	for _, u := range []*user{alice, bob, carol} {
		u.signIn()
	}
	messagePerson(bob, "Alice")
	chatID := activeChatID(bob)
	openPeople(carol)
	carol.waitFor("Carol sees Alice in the directory", personShown("Alice"))

	alice.click("#profile-button")
	alice.waitFor("the profile menu shows the handle", `(document.querySelector('#my-handle') || {}).textContent?.startsWith('@')`)
	alice.screenshot("profile-menu-light")
	alice.click("#rename-me")
	alice.waitFor("the rename field has the focus", `document.activeElement && document.activeElement.id === 'rename-input'`)
	alice.do("type the new name", chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('#rename-input'); e.value = 'Alicia'; e.dispatchEvent(new Event('input')); })()`))
	alice.click("#rename-submit")
	alice.waitFor("Alice's own name changes", `!document.querySelector('.modal') && document.querySelector('.me-name').textContent === 'Alicia'`)
	bob.waitFor("Bob's DM shows the new name", sideItem("dm-list", chatID)+`?.querySelector('.dm-name')?.textContent === 'Alicia'`)
	carol.do("search again", chromedp.SendKeys(chromedp.CSS("#people-search"), "ali"))
	carol.waitFor("Carol's directory shows the new name", personShown("Alicia")+` && !(`+personShown("Alice")+`)`)
	bob.do("reload", chromedp.Reload())
	bob.waitReady()
	bob.waitFor("the new name stays after a reload", sideItem("dm-list", chatID)+`?.querySelector('.dm-name')?.textContent === 'Alicia'`)
	for _, u := range []*user{alice, bob, carol} {
		u.checkPage()
	}
}

func TestBrowserSignInErrors(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	u := newUser(t, browser, ts.url, "Alice")
	for code, want := range map[string]string{
		"domain": "email address is not in a domain", "org": "organization", "claim": "group or role", "banned": "banned",
	} {
		u.do("open the page of a refused sign-in", chromedp.Navigate(ts.url+"/?signin_error="+code))
		u.waitFor("the page says why ("+code+")", `(document.querySelector('#signin-error') || {}).textContent?.includes(`+js(want)+`)`)
		if code == "banned" {
			u.screenshot("signin-banned-light")
		}
	}
	u.do("open the page", chromedp.Navigate(ts.url+"/"))
	u.waitFor("the sign-in form shows", `!!document.querySelector('#guest-name')`)
	if eval[bool](u, `!!document.querySelector('#signin-error')`) {
		t.Errorf("an error shows without signin_error")
	}
	u.checkPage()
}

// screenshotSizes saves the screen at a desktop size and at a phone's (and
// with the phone's drawer open when drawer is set), then restores the
// test's size.
func (u *user) screenshotSizes(name string, drawer bool) {
	u.t.Helper()
	u.viewport(1440, 900)
	u.screenshot(name + "-1440")
	u.viewport(375, 812)
	u.screenshot(name + "-375")
	if !drawer {
		u.viewport(1280, 800)
		return
	}
	u.click(".topbar-burger")
	u.waitFor("the drawer opens", `!!document.querySelector('.sidebar.is-open')`)
	u.screenshot(name + "-375-drawer")
	u.do("close the drawer", chromedp.KeyEvent("\u001b"))
	u.waitFor("the drawer closes", `!document.querySelector('.sidebar.is-open')`)
	u.viewport(1280, 800)
}

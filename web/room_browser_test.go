package web_test

// Browser tests of a room's features (app/room.js): private rooms, settings
// seen live, invites by name and by link, the member panel with presence
// and moderation, and a ban seen by the banned user's open page. Three
// users where the flow needs a bystander.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/server"
)

// clickWhere waits until the JavaScript expression names an element, then
// clicks it.
func clickWhere(u *user, what, expr string) {
	u.t.Helper()
	u.waitFor(what+" shows", `!!(`+expr+`)`)
	u.do("click "+what, chromedp.Evaluate[chromedp.Void](`(`+expr+`).click()`))
}

// press clicks the element sel names from the page's script: a toast may
// lie over the header's buttons for a while.
func press(u *user, sel string) {
	u.t.Helper()
	clickWhere(u, sel, `document.querySelector(`+js(sel)+`)`)
}

// setField replaces the value of an input as typing would.
func setField(u *user, sel, text string) {
	u.t.Helper()
	u.waitFor(sel+" shows", `!!document.querySelector(`+js(sel)+`)`)
	u.do("set "+sel, chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector(`+js(sel)+`); e.value = `+js(text)+`; e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change')); })()`))
}

// fetchText is the body of a GET from the user's page.
func fetchText(u *user, path string) string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(`+js(path)+`).then((r) => r.text())`, awaitPromise))
	if err != nil {
		u.t.Fatalf("%s: GET %s: %v", u.name, path, err)
	}
	return s
}

// fetchStatus is the HTTP status of a GET from the user's page.
func fetchStatus(u *user, path string) int {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(`+js(path)+`).then((r) => r.status)`, awaitPromise))
	if err != nil {
		u.t.Fatalf("%s: GET %s: %v", u.name, path, err)
	}
	return n
}

func headerShows(name, topic string) string {
	return `(document.querySelector('#room-name') || {}).textContent === ` + js(name) +
		` && (document.querySelector('#room-topic') || {}).textContent === ` + js(topic)
}

// changeSettings opens the settings dialog, lets set fill it, and saves.
func changeSettings(u *user, set func()) {
	u.t.Helper()
	openRoomSettings(u)
	set()
	press(u, "#room-settings-save")
	u.waitFor("the settings dialog closes", `!document.querySelector('#settings-dialog')`)
}

func openRoomSettings(u *user) {
	u.t.Helper()
	press(u, "#room-menu")
	press(u, "#room-settings")
	u.waitFor("the settings dialog shows", `!!document.querySelector('#settings-dialog')`)
}

func chooseRadio(u *user, name, value string) {
	u.t.Helper()
	clickWhere(u, name+" "+value, `document.querySelector('input[name=`+js(name)+`][value=`+js(value)+`]')`)
}

// inviteByName invites people through the invite dialog's search.
func inviteByName(u *user, names ...string) {
	u.t.Helper()
	press(u, "#room-invite")
	u.waitFor("the invite dialog shows", `!!document.querySelector('#invite-dialog')`)
	for _, name := range names {
		setField(u, "#invite-search", name)
		clickWhere(u, name+" in the results", `[...document.querySelectorAll('#invite-results li')].find((e) => e.querySelector('.member-name').textContent === `+js(name)+`)?.querySelector('button:not(:disabled)')`)
	}
	press(u, "#invite-people")
	u.waitFor("the invitation is sent", toastShown("Invited "))
	clickWhere(u, "Done", `[...document.querySelectorAll('#invite-dialog .modal-card-foot .button')].find((b) => b.textContent === 'Done')`)
	u.waitFor("the invite dialog closes", `!document.querySelector('#invite-dialog')`)
}

// openInvited opens the chat a user was added to, from the toast's action
// or the sidebar.
func openInvited(u *user, name string) {
	u.t.Helper()
	u.waitFor("the invitation arrives", toastShown("You were added to “"+name+"”"))
	clickChat(u, name)
}

func memberRow(name string) string {
	return `[...document.querySelectorAll('#member-list .member')].find((e) => e.querySelector('.member-name').textContent === ` + js(name) + `)`
}

func openMembers(u *user) {
	u.t.Helper()
	if eval[bool](u, `!!document.querySelector('#member-panel')`) {
		return
	}
	press(u, "#room-members")
	u.waitFor("the member panel shows", `!!document.querySelector('#member-list .member')`)
}

// memberAction runs one of a member's actions from the panel, confirming it
// when asked.
func memberAction(u *user, name, action string) {
	u.t.Helper()
	openMembers(u)
	clickWhere(u, "the actions of "+name, memberRow(name)+`?.querySelector('.member-menu')`)
	clickWhere(u, action+" "+name, memberRow(name)+`?.querySelector('[data-action=`+js(action)+`]')`)
	if action == "remove" || action == "owner" || action == "ban" {
		press(u, "#room-confirm")
		u.waitFor("the confirmation closes", `!document.querySelector('#confirm-dialog')`)
	}
}

// TestBrowserPrivateRoom: a room made private through its settings stays
// listed for its members and disappears for a third user (sidebar, and the
// API answers 404 as for a chat that does not exist); a rename and a topic
// set in the settings reach another member's open view at once.
func TestBrowserPrivateRoom(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	carol := newUser(t, browser, ts.url, "Carol")
	alice.signIn()
	bob.signIn()
	carol.signIn()

	createChat(alice, "Secret")
	id := activeChatID(alice)
	changeSettings(alice, func() { chooseRadio(alice, "visibility", "private") })
	alice.waitFor("the header marks it private", `document.querySelector('#room-header').dataset.visibility === 'private'`)
	inviteByName(alice, "Bob")
	openInvited(bob, "Secret")

	t.Log("step: settings seen live")
	changeSettings(alice, func() {
		setField(alice, "#room-name-input", "Plans")
		setField(alice, "#room-topic-input", "Q3 roadmap, no leaks")
	})
	alice.waitFor("Alice's header shows the change", headerShows("Plans", "Q3 roadmap, no leaks"))
	bob.waitFor("Bob's open view shows the change", headerShows("Plans", "Q3 roadmap, no leaks"))
	bob.waitFor("Bob's tab has the new name", `(document.querySelector('.chat-tab.is-active .tab-name') || {}).textContent === 'Plans'`)
	press(bob, "#room-menu")
	bob.waitFor("Bob's menu offers no settings (a member)", `!!document.querySelector('#room-leave') && !document.querySelector('#room-settings')`)
	press(bob, "#room-menu")

	t.Log("step: a third user does not see it")
	createChat(alice, "Open floor")
	carol.do("reload", chromedp.Reload())
	carol.waitReady()
	carol.openSidebar()
	carol.click("#browse-chats")
	carol.waitFor("Carol can browse the public chat", browseListed("Open floor"))
	if eval[bool](carol, browseListed("Plans")+` || `+browseListed("Secret")+` || `+chatListed("Plans")+` || `+chatListed("Secret")) {
		t.Errorf("Carol's sidebar or Browse chats lists the private room")
	}
	for _, p := range []string{"/api/chats/" + id, "/api/chats/" + id + "/messages", "/api/chats/" + id + "/members"} {
		if got := fetchStatus(carol, p); got != 404 {
			t.Errorf("Carol: GET %s: status %d, want 404", p, got)
		}
	}
	if got := fetchStatus(bob, "/api/chats/"+id); got != 200 {
		t.Errorf("Bob (a member): GET /api/chats/%s: status %d, want 200", id, got)
	}
	chats := fetchText(carol, "/api/chats")
	if strings.Contains(chats, id) {
		t.Errorf("Carol's /api/chats names the private room: %s", chats)
	}

	alice.viewport(1440, 900)
	openRoomSettings(alice)
	alice.screenshot("room-settings-1440")
	alice.viewport(375, 812)
	alice.screenshot("room-settings-375")
	alice.do("close", chromedp.KeyEvent("\u001b"))
	alice.waitFor("the dialog closes", `!document.querySelector('#settings-dialog')`)
	alice.viewport(1280, 800)

	t.Log("step: the owner deletes the room from its settings; Bob's view closes")
	clickChat(alice, "Plans")
	openRoomSettings(alice)
	press(alice, "#room-delete")
	press(alice, "#confirm-delete")
	bob.waitFor("Bob's view of the room closes", `!document.querySelector('.chat-view[data-chat-id=`+js(id)+`]') && !(`+chatListed("Plans")+`)`)
	bob.waitFor("Bob is told", toastShown("“Plans” was deleted"))
	for _, u := range []*user{alice, bob, carol} {
		u.checkPage()
	}
}

// TestBrowserInviteLink: an invite link created in the dialog lets a
// signed-out user sign in and land in the chat as a member, its uses are
// counted, and once revoked it shows a clear message; a forged link too.
func TestBrowserInviteLink(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	carol := newUser(t, browser, ts.url, "Carol")
	alice.signIn()
	carol.signIn()

	createChat(alice, "Guild")
	changeSettings(alice, func() { chooseRadio(alice, "visibility", "private") })
	press(alice, "#room-invite")
	press(alice, "#invite-tab-links")
	setField(alice, "#invite-expiry", "604800")
	setField(alice, "#invite-max-uses", "5")
	press(alice, "#invite-create")
	alice.waitFor("the link shows", `(document.querySelector('#invite-url') || {}).value?.includes('/invite/')`)
	url := eval[string](alice, `document.querySelector('#invite-url').value`)
	if !strings.HasPrefix(url, ts.url+"/invite/") {
		t.Fatalf("invite URL %q, want under %s/invite/", url, ts.url)
	}
	alice.waitFor("the link is listed, unused, with its limit", `[...document.querySelectorAll('#invite-list .invite-uses')].some((e) => e.textContent === '0 of 5 uses')`)
	alice.viewport(1440, 900)
	alice.screenshot("room-invite-links-1440")
	alice.viewport(375, 812)
	alice.screenshot("room-invite-links-375")
	alice.viewport(1280, 800)

	t.Log("step: a signed-out user opens the link, signs in, and is a member")
	bob.do("open the link", chromedp.Navigate(url))
	bob.waitFor("the sign-in form shows", `!!document.querySelector('#guest-name')`)
	bob.do("sign in", chromedp.SendKeys(chromedp.CSS("#guest-name"), "Bob"), chromedp.Click(chromedp.CSS("#guest-submit")))
	bob.waitReady()
	bob.waitFor("Bob is in the chat", headerShows("Guild", "")+` || (document.querySelector('#room-name') || {}).textContent === 'Guild'`)
	bob.waitFor("the address is the app's again", `location.pathname === '/'`)
	alice.waitFor("Alice's member count shows Bob", `(document.querySelector('#room-members .member-count') || {}).textContent === '2'`)
	press(alice, "#invite-tab-people")
	press(alice, "#invite-tab-links")
	alice.waitFor("the link counts one use", `[...document.querySelectorAll('#invite-list .invite-uses')].some((e) => e.textContent === '1 of 5 uses')`)

	t.Log("step: a revoked link says so")
	clickWhere(alice, "Revoke", `document.querySelector('#invite-list .invite-revoke')`)
	alice.waitFor("the link shows revoked", `!!document.querySelector('#invite-list .invite-row.is-revoked')`)
	carol.do("open the revoked link", chromedp.Navigate(url))
	carol.waitReady()
	carol.waitFor("Carol reads why", `(document.querySelector('#invite-notice-text') || {}).textContent?.includes('revoked')`)
	carol.screenshot("room-invite-revoked-1280")
	if eval[bool](carol, chatListed("Guild")) {
		t.Errorf("a revoked link made Carol a member")
	}
	clickWhere(carol, "OK", `[...document.querySelectorAll('#invite-notice .button')].find((b) => b.textContent === 'OK')`)

	t.Log("step: a forged link says so")
	carol.do("open a forged link", chromedp.Navigate(ts.url+"/invite/forged-token-0000"))
	carol.waitReady()
	carol.waitFor("Carol reads that it is not valid", `(document.querySelector('#invite-notice-text') || {}).textContent?.includes('not valid')`)
	for _, u := range []*user{alice, bob, carol} {
		u.checkPage()
	}
}

// TestBrowserMemberPanel: the panel lists members with roles and presence;
// the owner makes a moderator, the moderator removes a member, whose open
// view closes with a notice; a member who leaves the page shows offline.
func TestBrowserMemberPanel(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	carol := newUser(t, browser, ts.url, "Carol")
	alice.signIn()
	bob.signIn()
	carol.signIn()

	createChat(alice, "Crew")
	id := activeChatID(alice)
	inviteByName(alice, "Bob", "Carol")
	openInvited(bob, "Crew")
	openInvited(carol, "Crew")

	openMembers(alice)
	alice.waitFor("three members, all online", `document.querySelectorAll('#member-list .member.is-online').length === 3`)
	alice.waitFor("Alice is the owner", memberRow("Alice")+`?.dataset.role === 'owner' && !!`+memberRow("Alice")+`.querySelector('.role-badge.is-owner')`)

	t.Log("step: the owner makes Bob a moderator")
	memberAction(alice, "Bob", "promote")
	alice.waitFor("Bob is a moderator in Alice's panel", memberRow("Bob")+`?.dataset.role === 'moderator'`)
	openMembers(bob)
	bob.waitFor("Bob sees his badge", memberRow("Bob")+`?.querySelector('.role-badge.is-moderator')`)
	bob.waitFor("Bob may remove Carol but not Alice", `!!`+memberRow("Carol")+`?.querySelector('.member-menu') && !`+memberRow("Alice")+`?.querySelector('.member-menu')`)
	alice.viewport(1440, 900)
	alice.screenshot("room-members-1440")
	alice.viewport(375, 812)
	alice.screenshot("room-members-375")
	alice.viewport(1280, 800)

	t.Log("step: the moderator removes Carol")
	memberAction(bob, "Carol", "remove")
	carol.waitFor("Carol's view closes", `!document.querySelector('.chat-view[data-chat-id=`+js(id)+`]')`)
	carol.waitFor("Carol is told quietly", toastShown("You were removed from “Crew”"))
	alice.waitFor("Carol left Alice's panel", `!`+memberRow("Carol")+` && document.querySelectorAll('#member-list .member').length === 2`)

	t.Log("step: presence")
	bob.do("leave the page", chromedp.Navigate("about:blank"))
	alice.waitFor("Bob shows offline", memberRow("Bob")+`?.classList.contains('is-offline')`)
	alice.waitFor("with when he was last seen", memberRow("Bob")+`?.querySelector('.presence-text').textContent.startsWith('Last seen')`)
	alice.checkPage()
	carol.checkPage()
}

// TestBrowserBan: an admin bans a member from the member panel; the banned
// user's open page shows that the account is banned, and stops connecting.
func TestBrowserBan(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"), Admins: "@alice"})
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()

	createChat(alice, "Town hall")
	joinChat(bob, "Town hall")
	memberAction(alice, "Bob", "ban")
	bob.waitFor("Bob's page says he is banned", `(document.querySelector('#banned h1') || {}).textContent === 'Your account has been banned'`)
	bob.waitFor("and it stopped connecting", `window.chatr.connectionStats().state === 'stopped'`)
	sockets := eval[int](bob, `window.__sockets.length`)
	bob.viewport(1440, 900)
	bob.screenshot("banned-1440")
	bob.viewport(375, 812)
	bob.screenshot("banned-375")
	if got := eval[int](bob, `window.__sockets.length`); got != sockets {
		t.Errorf("the banned page opened %d more sockets", got-sockets)
	}
	if got := fetchStatus(bob, "/api/chats"); got != 401 {
		t.Errorf("banned Bob: GET /api/chats: status %d, want 401", got)
	}
	alice.checkPage()
}

// toastShown is true once a toast with text has been shown.
func toastShown(text string) string {
	return `window.__toasts.some((t) => t.includes(` + js(text) + `))`
}

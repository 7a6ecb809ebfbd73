package web_test

// Accessibility in the browser: axe-core audits every screen (sign-in, the
// empty main screen, a chat, each dialog, the pages, at desktop size, in
// dark mode and on a 375x812 phone) and the test fails on any serious or
// critical violation; dialogs keep and give back the focus and never start
// on a destructive button; the chat tabs and the sidebar's chats move with
// the arrow keys; a keyboard focus is always visible; and on a phone every
// control is at least 44 px on each side.
//
// axe-core comes from web/node_modules (`make deps`, pinned in
// package.json): the test injects it through DevTools; the server never
// serves it.

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// loadAxe reads axe-core's browser build, or skips the test without it
// (fails under CI=true).
func loadAxe(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile(filepath.Join("node_modules", "axe-core", "axe.min.js"))
		axeSource = string(b)
	})
	if axeErr != nil {
		msg := "axe-core not installed (run make deps): " + axeErr.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return axeSource
}

// axeViolation is one rule axe-core found broken, with the first elements
// that break it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// audit runs axe-core on the page as it is and fails the test on every
// serious or critical violation, printed with the elements at fault.
func (u *user) audit(screen string) {
	u.t.Helper()
	src := loadAxe(u.t)
	if !eval[bool](u, `!!window.axe`) {
		u.do("inject axe-core", chromedp.Evaluate[chromedp.Void](src))
	}
	// Let transitions (a dialog fading in, colours changing) end: axe
	// measures contrast on what is painted.
	u.waitFor("animations end", `document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)`)
	found := evalAwait[[]axeViolation](u, `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations
		.filter((v) => v.impact === 'serious' || v.impact === 'critical')
		.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 6).map((n) => n.target.join(' ') + ' | ' + (n.failureSummary || '').replace(/\s+/g, ' ')) })))`)
	for _, v := range found {
		u.t.Errorf("%s: %s: %s (%s): %s\n  %s", screen, u.name, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// TestAccessibility audits every screen with axe-core in light and dark
// mode, at desktop size and at 375x812.
func TestAccessibility(t *testing.T) {
	loadAxe(t)
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")

	type size struct {
		name string
		w, h int64
	}
	sizes := []size{{"desktop", 1280, 800}, {"phone", 375, 812}}
	schemes := []string{"light", "dark"}
	// each audits the screen as it is in every size and colour scheme.
	each := func(u *user, screen string) {
		t.Helper()
		for _, s := range sizes {
			u.viewport(s.w, s.h)
			for _, scheme := range schemes {
				u.colorScheme(scheme)
				u.audit(screen + " (" + s.name + ", " + scheme + ")")
			}
		}
		u.colorScheme("light")
		u.viewport(1280, 800)
	}

	alice.do("open the app", chromedp.Navigate(ts.url+"/"))
	alice.waitFor("the sign-in form shows", signInReady)
	each(alice, "sign-in")
	alice.signIn()
	each(alice, "empty main screen")

	// dialog opens a dialog by clicking each of open in turn, audits it
	// and closes it.
	dialog := func(u *user, name, shown string, open ...string) {
		t.Helper()
		u.openSidebar()
		for _, o := range open {
			clickWhere(u, name, o)
		}
		u.waitFor("the "+name+" dialog shows", shown)
		each(u, "the "+name+" dialog")
		u.do("close the dialog", chromedp.KeyEvent(kb.Escape))
		u.waitFor("the dialog closes", `!document.querySelector('[aria-modal="true"]')`)
	}
	dialog(alice, "create chat", `!!document.querySelector('#chat-name')`, `document.querySelector('#new-chat')`)
	dialog(alice, "group message", `!!document.querySelector('#groupdm-search')`, `document.querySelector('#new-group-dm')`)
	dialog(alice, "rename", `!!document.querySelector('#rename-input')`, `document.querySelector('#profile-button')`, `document.querySelector('#rename-me')`)
	dialog(alice, "delete account", `!!document.querySelector('#delete-account-input')`, `document.querySelector('#profile-button')`, `document.querySelector('#delete-account')`)

	createChat(alice, "Coffee break")
	createChat(alice, "Release planning")
	bob.signIn()
	clickChat(bob, "Release planning")
	send(alice, "Morning! Notes: https://example.com/notes/1.2")
	send(bob, "@Alice looks good, ship it")
	alice.waitFor("Bob's message shows", hasMessage("@Alice looks good, ship it"))
	alice.do("dismiss the toasts", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.toast .delete').forEach((b) => b.click())`))
	each(alice, "a chat")
	each(bob, "a chat, as a member")

	chatMenu := `[...document.querySelectorAll('#chat-list .side-item')].find((e) => e.querySelector('.side-name').textContent === 'Coffee break').querySelector('.chat-menu-button')`
	dialog(alice, "leave chat", `!!document.querySelector('#confirm-leave')`, chatMenu, `document.querySelector('.leave-chat')`)
	dialog(alice, "delete chat", `!!document.querySelector('#confirm-delete')`, chatMenu, `document.querySelector('.delete-chat')`)
	openRoomSettings(alice)
	each(alice, "the room settings dialog")
	alice.do("close the dialog", chromedp.KeyEvent(kb.Escape))
	alice.waitFor("the dialog closes", `!document.querySelector('[aria-modal="true"]')`)
	openMembers(alice)
	each(alice, "the member panel")

	alice.viewport(375, 812)
	press(alice, ".topbar-burger")
	alice.waitFor("the drawer opens", `!!document.querySelector('.sidebar.is-open')`)
	for _, scheme := range schemes {
		alice.colorScheme(scheme)
		alice.audit("the drawer (phone, " + scheme + ")")
	}
	alice.do("close the drawer", chromedp.KeyEvent(kb.Escape))
	alice.colorScheme("light")
	alice.viewport(1280, 800)

	openPeople(alice)
	each(alice, "people")
	alice.openSidebar()
	alice.click("#browse-chats")
	alice.waitFor("browse shows", `!!document.querySelector('#browse-list')`)
	each(alice, "browse chats")

	alice.checkPage()
	bob.checkPage()
}

// focusIn is true when the focused element is inside the dialog on top.
const focusInDialog = `(() => { const d = [...document.querySelectorAll('[aria-modal="true"]')].pop(); return !!d && d.contains(document.activeElement); })()`

// TestDialogFocus: a dialog opened from the keyboard takes the focus, keeps
// it through Tab and Shift+Tab, gives it back to its opener on Escape, and
// a confirmation starts on its safe button.
func TestDialogFocus(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()

	alice.do("focus New", chromedp.Focus(chromedp.CSS("#new-chat")))
	alice.do("open the dialog", chromedp.KeyEvent(kb.Enter))
	alice.waitFor("the create dialog has the focus", `document.activeElement.id === 'chat-name'`)
	n := eval[int](alice, `[...document.querySelectorAll('[aria-modal="true"] button, [aria-modal="true"] input')].length`)
	for i := 0; i < n+2; i++ {
		alice.do("Tab", chromedp.KeyEvent(kb.Tab))
		alice.waitFor("the focus stays in the dialog after Tab", focusInDialog)
	}
	for i := 0; i < n+2; i++ {
		alice.do("Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
		alice.waitFor("the focus stays in the dialog after Shift+Tab", focusInDialog)
	}
	alice.do("close", chromedp.KeyEvent(kb.Escape))
	alice.waitFor("the focus is back on New", `!document.querySelector('[aria-modal="true"]') && document.activeElement.id === 'new-chat'`)

	createChat(alice, "Coffee break")
	alice.do("open the chat's menu", chromedp.Evaluate[chromedp.Void](`document.querySelector('#chat-list .chat-menu-button').focus()`))
	alice.do("open the menu", chromedp.KeyEvent(kb.Enter))
	alice.waitFor("the menu opens", `!!document.querySelector('.delete-chat')`)
	alice.do("choose delete", chromedp.Evaluate[chromedp.Void](`document.querySelector('.delete-chat').focus()`), chromedp.KeyEvent(kb.Enter))
	alice.waitFor("the confirmation has the focus", `!!document.querySelector('#confirm-delete') && `+focusInDialog)
	if cls := eval[string](alice, `document.activeElement.className + ' ' + document.activeElement.textContent`); strings.Contains(cls, "is-danger") {
		t.Errorf("the delete confirmation opens with the focus on %q, a destructive button", cls)
	}
	alice.do("answer with Enter", chromedp.KeyEvent(kb.Enter))
	alice.waitFor("the dialog closes", `!document.querySelector('[aria-modal="true"]')`)
	if !eval[bool](alice, chatListed("Coffee break")) {
		t.Error("Enter in the delete confirmation deleted the chat: the default answer must be Cancel")
	}
	alice.waitFor("the focus is back on the menu's button", `!!document.activeElement.closest('#chat-list')`)
	alice.checkPage()
}

// TestKeyboardNavigation: the chat tabs follow the ARIA tab pattern (one
// tab stop; arrows, Home and End move and bring the chat forward; Delete
// closes), the
// sidebar's chats move with Up and Down, and every control the Tab key
// reaches shows where the focus is.
func TestKeyboardNavigation(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	for _, name := range []string{"Alpha", "Bravo", "Charlie"} {
		createChat(alice, name)
	}
	active := `document.querySelector('.chat-tab.is-active .tab-name').textContent`
	focusedTab := `(document.activeElement.closest('.chat-tab')?.querySelector('.tab-name') || {}).textContent`
	if got := eval[int](alice, `document.querySelectorAll('[role="tab"][tabindex="0"]').length`); got != 1 {
		t.Errorf("%d tabs are in the Tab order, want 1 (the selected one)", got)
	}
	alice.do("focus the tab in front", chromedp.Focus(chromedp.CSS(`.chat-tab.is-active [role="tab"]`)))
	steps := []struct {
		key, want string
	}{
		{kb.ArrowLeft, "Bravo"}, {kb.ArrowLeft, "Alpha"}, {kb.ArrowLeft, "Charlie"}, {kb.ArrowRight, "Alpha"},
		{kb.End, "Charlie"}, {kb.Home, "Alpha"},
	}
	for _, s := range steps {
		alice.do("press a key", chromedp.KeyEvent(s.key))
		alice.waitFor(s.want+" is in front and focused", active+` === `+js(s.want)+` && `+focusedTab+` === `+js(s.want)+
			` && document.activeElement.getAttribute('aria-selected') === 'true' && document.activeElement.tabIndex === 0`)
	}

	alice.do("close Alpha with Delete", chromedp.KeyEvent(kb.Delete))
	alice.waitFor("Alpha's tab is closed", `![...document.querySelectorAll('.chat-tab .tab-name')].some((e) => e.textContent === 'Alpha')`)

	alice.do("focus the first chat in the sidebar", chromedp.Focus(chromedp.CSS(`#chat-list .side-main`)))
	sideFocus := `(document.activeElement.closest('.side-item')?.querySelector('.side-name') || {}).textContent`
	for _, s := range []struct{ key, want string }{{kb.ArrowDown, "Bravo"}, {kb.ArrowDown, "Charlie"}, {kb.ArrowUp, "Bravo"}, {kb.End, "Charlie"}, {kb.Home, "Alpha"}} {
		alice.do("press a key", chromedp.KeyEvent(s.key))
		alice.waitFor(s.want+" has the focus in the sidebar", sideFocus+` === `+js(s.want))
	}

	// Tab through the page: every stop shows a focus ring (an outline or a
	// box shadow that is not the control's resting one).
	alice.do("start at the top", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		alice.do("Tab", chromedp.KeyEvent(kb.Tab))
		got := eval[[]string](alice, `(() => { const e = document.activeElement; if (!e || e === document.body) return ['', ''];
			const s = getComputedStyle(e);
			const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1) || (s.boxShadow && s.boxShadow !== 'none');
			return [e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.') + ' ' + (e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30)), ring ? 'yes' : ''];
		})()`)
		if got[0] == "" || seen[got[0]] {
			continue
		}
		seen[got[0]] = true
		if got[1] == "" {
			t.Errorf("no visible focus on %s", got[0])
		}
	}
	if len(seen) < 10 {
		t.Errorf("the Tab key reached only %d controls: %v", len(seen), seen)
	}
	alice.checkPage()
}

// smallTargets lists the visible controls smaller than 44x44 CSS pixels
// (links inside running text excepted, as WCAG does; a radio button or a
// checkbox is its label).
const smallTargets = `[...document.querySelectorAll('button, a[href], [role="tab"], input[type="checkbox"], input[type="radio"], select, summary')]
	.map((e) => (e.matches('input') && e.closest('label')) || e)
	.filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth
		&& getComputedStyle(e).visibility !== 'hidden' && !e.closest('.msg-text, .is-sr-only, p'); })
	.filter((e) => { const r = e.getBoundingClientRect(); return r.width < 43.5 || r.height < 43.5; })
	.map((e) => { const r = e.getBoundingClientRect(); return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.') + ' ' + Math.round(r.width) + 'x' + Math.round(r.height) + ' ' + (e.getAttribute('aria-label') || e.textContent.trim().slice(0, 20)); })`

// TestTouchTargets: at 375x812 every button and link on the sign-in
// screen, the main screen, a chat, the drawer and a dialog is at least 44
// px wide and high.
func TestTouchTargets(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	alice.viewport(375, 812)
	check := func(screen string) {
		t.Helper()
		for _, s := range eval[[]string](alice, smallTargets) {
			t.Errorf("%s: a touch target under 44 px: %s", screen, s)
		}
	}
	alice.do("open the app", chromedp.Navigate(ts.url+"/"))
	alice.waitFor("the sign-in form shows", signInReady)
	check("sign-in")
	alice.signIn()
	check("empty main screen")
	alice.openSidebar()
	check("drawer")
	press(alice, "#new-chat")
	alice.waitFor("the create dialog shows", `!!document.querySelector('#chat-name')`)
	check("create dialog")
	alice.do("name the chat", chromedp.SendKeys(chromedp.CSS("#chat-name"), "Coffee break\n"))
	alice.waitFor("the chat is in front", `!!document.querySelector('#composer-input')`)
	send(alice, "Hello from a phone")
	check("a chat")
	alice.openSidebar()
	check("drawer with a chat")
	alice.checkPage()
}

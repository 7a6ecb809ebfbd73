package web_test

// What users see: settings that persist and apply at once (theme, density,
// language, notifications per chat, the sound), presence shown quietly,
// avatars of names that start with an emoji, and the reconnecting banner
// (Retry now, creating a chat offline, coming back soon after the server).

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// openSettings opens the settings dialog from the profile menu.
func openSettings(u *user) {
	u.t.Helper()
	press(u, "#profile-button")
	press(u, "#open-settings")
	u.waitFor("the settings dialog shows", `!!document.querySelector('#settings-form')`)
}

// pick chooses a radio button of the settings dialog.
func pick(u *user, name, value string) {
	u.t.Helper()
	press(u, "#settings-"+name+"-"+value)
}

// darkBackground is true when the page's background is dark.
const darkBackground = `(() => { const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number); return m[0] + m[1] + m[2] < 200; })()`

func TestBrowserSettings(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()
	createChat(alice, "Busy room")
	createChat(alice, "Quiet corner")
	joinChat(bob, "Busy room")

	t.Log("step: the dialog applies every choice at once")
	{
		if eval[bool](alice, darkBackground) {
			t.Fatal("the page starts dark in a light browser")
		}
		openSettings(alice)
		alice.waitFor("the defaults are picked", `document.querySelector('#settings-theme-system').checked && document.querySelector('#settings-notify-mentions').checked &&
			document.querySelector('#settings-density-comfortable').checked && !document.querySelector('#settings-sound').checked`)
		pick(alice, "theme", "dark")
		alice.waitFor("the page turns dark", `document.documentElement.dataset.theme === 'dark' && `+darkBackground)
		pick(alice, "density", "compact")
		alice.waitFor("messages get compact", `document.documentElement.classList.contains('is-compact')`)
		press(alice, "#settings-sound")
		pick(alice, "language", "de")
		alice.waitFor("the dialog speaks German", `document.querySelector('#settings-done').textContent === 'Fertig' && document.documentElement.lang === 'de'`)
		alice.screenshot("settings-de-dark")
		press(alice, "#settings-done")
		alice.waitFor("the dialog closes", `!document.querySelector('.modal')`)
		alice.waitFor("the sidebar speaks German", `document.querySelector('#chats-heading').textContent === 'Gruppenchats' && document.querySelector('#browse-chats').textContent === 'Chats entdecken'`)
		alice.waitFor("the composer speaks German", `document.querySelector('#composer-input').placeholder === 'Nachricht an Quiet corner'`)
	}

	t.Log("step: the settings persist across a reload")
	{
		alice.do("reload", chromedp.Reload())
		alice.waitReady()
		alice.waitFor("dark, compact and German again", `document.documentElement.dataset.theme === 'dark' && `+darkBackground+
			` && document.documentElement.classList.contains('is-compact') && document.querySelector('#chats-heading').textContent === 'Gruppenchats'`)
		saved := eval[map[string]any](alice, `(() => { const k = Object.keys(localStorage).find((k) => k.startsWith('chatr.settings.')); return k ? JSON.parse(localStorage.getItem(k)) : {}; })()`)
		if saved["theme"] != "dark" || saved["density"] != "compact" || saved["language"] != "de" || saved["sound"] != true {
			t.Errorf("stored settings %v, want theme dark, density compact, language de, sound on", saved)
		}
		// Bob's page is another user's: untouched.
		if eval[bool](bob, `document.documentElement.dataset.theme === 'dark' || document.querySelector('#chats-heading').textContent !== 'Group chats'`) {
			t.Error("Bob's page follows Alice's settings")
		}
	}

	t.Log("step: notifications per chat")
	{
		clickChat(alice, "Quiet corner") // Busy room is not in front
		clickWhere(alice, "the room menu", `document.querySelector('#room-menu')`)
		alice.waitFor("the menu offers the levels", `document.querySelectorAll('.chat-notify-item').length === 4`)
		alice.do("close the menu", chromedp.KeyEvent("\u001b"))
		clickChat(alice, "Busy room")
		press(alice, "#room-menu")
		press(alice, `.chat-notify-item[data-level="all"]`)
		clickChat(alice, "Quiet corner")

		unread := `(document.querySelector('#chat-list .side-item:not(.is-active) .unread-badge') || {}).textContent`
		send(bob, "an ordinary message")
		alice.waitFor("Busy room counts it", unread+` === '1'`)
		alice.waitFor("a chat set to all messages plays the sound", `window.chatr.soundsPlayed() === 1`)

		clickChat(alice, "Busy room")
		press(alice, "#room-menu")
		press(alice, `.chat-notify-item[data-level="none"]`)
		alice.waitFor("the level is kept", `Object.values(JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('chatr.settings.')))).chats).includes('none')`)
		clickChat(alice, "Quiet corner")
		send(bob, "another message")
		alice.waitFor("Busy room counts it", unread+` === '1'`)
		if n := eval[int](alice, `window.chatr.soundsPlayed()`); n != 1 {
			t.Errorf("%d sounds after a message in a chat set to none, want still 1", n)
		}
	}
	alice.checkPage()
	bob.checkPage()
}

func TestBrowserPresenceAndAvatars(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	bob := newUser(t, browser, ts.url, "Bob")
	fox := newUser(t, browser, ts.url, "🦊 Fox")
	fox.do("open the app", chromedp.Navigate(ts.url+"/"))
	setField(fox, "#guest-name", fox.name)
	fox.click("#guest-submit")
	fox.waitReady()
	bob.signIn()

	// A name that starts with an emoji shows the whole emoji, not half of
	// its surrogate pair and not an upper-cased letter after it.
	fox.waitFor("Fox's own avatar is the fox", `document.querySelector('#profile-button .avatar').textContent === '🦊' && document.querySelector('#profile-button .avatar').classList.contains('is-emoji')`)
	openPeople(bob)
	bob.waitFor("Bob sees Fox online with the fox avatar", personStatus(fox.name)+` === 'online' && [...document.querySelectorAll('#people-list .person')].some((e) => e.querySelector('.avatar').textContent === '🦊')`)
	bob.waitFor("Bob's avatar has initials", `[...document.querySelectorAll('#people-list .person .avatar')].some((e) => e.textContent === 'BO')`)

	// Fox goes away and comes back: the directory says so, no toast does.
	fox.do("leave the page", chromedp.Navigate("about:blank"))
	bob.waitFor("Bob sees Fox offline", personStatus(fox.name)+`.startsWith('last seen')`)
	fox.do("come back", chromedp.Navigate(ts.url+"/"))
	fox.waitReady()
	bob.waitFor("Bob sees Fox online again", personStatus(fox.name)+` === 'online'`)
	if toasts := eval[[]string](bob, `window.__toasts`); len(toasts) != 0 {
		t.Errorf("Bob got toasts %q for presence changes, want none", toasts)
	}
	bob.checkPage()
	fox.checkPage()
}

// socketTimes records when the page opens each WebSocket and when it is
// clicked, in page time.
const socketTimes = `
window.__socketAt = []; window.__clickAt = 0;
window.WebSocket = class extends window.WebSocket { constructor(url, protocols) { super(url, protocols); window.__socketAt.push(performance.now()); } };
document.addEventListener('click', (e) => { if (e.target.closest && e.target.closest('#conn-retry')) window.__clickAt = performance.now(); }, true);
`

func TestBrowserReconnectBanner(t *testing.T) {
	browser := newBrowser(t)
	db := filepath.Join(t.TempDir(), "chatr.db")
	ts := startServer(t, db, "127.0.0.1:0", 0)
	addr := ts.srv.Addr()
	alice := newUser(t, browser, ts.url, "Alice")
	if _, err := chromedp.Call(alice.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: socketTimes}); err != nil {
		t.Fatal(err)
	}
	alice.signIn()
	createChat(alice, "Before")

	ts.stop()
	alice.waitFor("the banner offers Retry now", `!!document.querySelector('#conn-banner #conn-retry')`)
	alice.screenshot("reconnecting-banner-light")

	t.Log("step: creating a chat offline says so")
	{
		alice.click("#new-chat")
		alice.waitFor("the create dialog shows", `document.activeElement && document.activeElement.id === 'chat-name'`)
		alice.do("name the chat", chromedp.SendKeys(chromedp.CSS("#chat-name"), "Offline plans\n"))
		// The ack timeout is 15 s: an answer well before it is the app's own.
		alice.waitForIn("the dialog says the page is offline", `(document.querySelector('#create-chat-error') || {}).textContent === 'You are offline: the chat can be created once the connection is back.'`, 10*time.Second)
		if eval[bool](alice, `!!document.querySelector('#create-chat-submit.is-loading')`) {
			t.Error("the Create button still spins")
		}
		alice.do("close the dialog", chromedp.KeyEvent("\u001b"))
		alice.waitFor("the dialog closes", `!document.querySelector('.modal')`)
	}

	t.Log("step: Retry now tries at once")
	{
		before := eval[int](alice, `window.__socketAt.length`)
		press(alice, "#conn-retry")
		alice.waitFor("a new attempt starts", `window.__socketAt.length > `+jsInt(before))
		delay := eval[float64](alice, `window.__socketAt.find((x) => x >= window.__clickAt) - window.__clickAt`)
		t.Logf("Retry now: the next attempt %.0f ms after the click", delay)
		if load, busy := machineBusy(); delay > 500 && !busy {
			t.Errorf("Retry now: the next attempt came %.0f ms after the click (load %.1f), want at once", delay, load)
		}
	}

	t.Log("step: the page comes back soon after the server")
	{
		startServer(t, db, addr, 0)
		back := time.Now()
		alice.waitForIn("the page reconnects", `!document.querySelector('#conn-banner')`, 30*time.Second)
		took := time.Since(back)
		load, busy := machineBusy()
		t.Logf("reconnected %v after the server came back (load average %.1f)", took.Round(10*time.Millisecond), load)
		if took > 2*time.Second && !busy {
			t.Errorf("the page came back %v after the server, want within 2s", took)
		}
		createChat(alice, "After")
	}
	alice.checkPage()
}

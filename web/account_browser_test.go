package web_test

import (
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAccount: a user downloads their data from the profile menu
// (their profile and the messages they sent), then deletes their account:
// the confirmation wants their handle, the page is back at the sign-in
// screen with the session gone, and the DM partner keeps the conversation.
func TestBrowserAccount(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()
	messagePerson(bob, "Alice")
	send(bob, "hello Alice")
	alice.waitFor("the DM reaches Alice", `!!document.querySelector('#dm-list') && document.querySelector('#dm-list').textContent.includes('Bob')`)
	handle := eval[string](alice, `(() => { const x = new XMLHttpRequest(); x.open('GET', '/api/me', false); x.send(); return JSON.parse(x.responseText).handle; })()`)

	alice.click("#profile-button")
	alice.waitFor("the menu offers the download", `!!document.querySelector('#download-my-data')`)
	export := eval[string](alice, `(() => { const a = document.querySelector('#download-my-data'); const x = new XMLHttpRequest();
		x.open('GET', a.getAttribute('href'), false); x.send();
		const d = JSON.parse(x.responseText); return a.getAttribute('download') + ' ' + d.user.userName + ' ' + d.chats.length; })()`)
	if export != "chatr-my-data.json Alice 1" {
		t.Errorf("download my data: %q, want the file name, Alice's profile and her one chat", export)
	}

	alice.click("#delete-account")
	alice.waitFor("the confirmation asks for the handle", `!!document.querySelector('#delete-account-input') && document.querySelector('#delete-account-submit').disabled`)
	alice.do("type a wrong handle", chromedp.SendKeys(chromedp.CSS("#delete-account-input"), "bob"))
	if !eval[bool](alice, `document.querySelector('#delete-account-submit').disabled`) {
		t.Error("the delete button is enabled for a handle that is not Alice's")
	}
	alice.do("type the handle", chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('#delete-account-input');
		e.value = '@' + `+js(handle)+`; e.dispatchEvent(new Event('input')); })()`))
	alice.waitFor("the delete button is enabled", `!document.querySelector('#delete-account-submit').disabled`)
	alice.click("#delete-account-submit")
	alice.waitFor("the page is back at sign-in", `!!document.querySelector('#guest-name')`)
	if st := eval[int](alice, `(() => { const x = new XMLHttpRequest(); x.open('GET', '/api/me', false); x.send(); return x.status; })()`); st != 401 {
		t.Errorf("GET /api/me after deletion: %d, want 401", st)
	}
	bob.waitFor("Bob's history shows the message kept", hasMessage("hello Alice"))
	alice.checkPage()
	bob.checkPage()
}

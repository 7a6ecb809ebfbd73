package web_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebhook: the owner makes an incoming webhook in the chat
// settings (its URL shown once, with a copy button), a notifier posts to
// it, and the message shows with a "bot" badge under the webhook's name,
// its Markdown rendered and its name as text; revoking it in the settings
// makes the URL answer 404. The API tokens dialog makes a token shown once.
func TestBrowserWebhook(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Deploys")
	send(alice, "hello team")

	alice.click("#room-menu")
	alice.waitFor("the menu offers the settings", `!!document.querySelector('#room-settings')`)
	alice.click("#room-settings")
	alice.waitFor("the integrations section shows", `!!document.querySelector('#integrations #webhook-name')`)
	alice.do("name the webhook", chromedp.SendKeys(chromedp.CSS("#webhook-name"), "CI"))
	alice.click("#webhook-create")
	alice.waitFor("the URL shows once", `!!document.querySelector('#webhook-url-value') && document.querySelector('#webhook-url-value').value.includes('/hooks/')`)
	hookURL := eval[string](alice, `document.querySelector('#webhook-url-value').value`)
	if !eval[bool](alice, `!!document.querySelector('#webhook-url-copy')`) {
		t.Error("no copy button beside the webhook URL")
	}

	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(hookURL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(`{"text":"deploy **done**","username":"<b>CI</b>"}`); st != 201 {
		t.Fatalf("post to the webhook: %d", st)
	}
	alice.waitFor("the webhook's message shows with the badge", `[...document.querySelectorAll('.chat-view .msg')].some((m) =>
		m.querySelector('.msg-bot') && m.querySelector('.msg-bot').textContent === 'bot' &&
		m.querySelector('.msg-sender').textContent === '<b>CI</b>' && !m.querySelector('.msg-sender b') &&
		m.querySelector('.msg-text strong') && m.querySelector('.msg-text').textContent === 'deploy done')`)
	if eval[bool](alice, `[...document.querySelectorAll('.chat-view .msg.is-mine')].some((m) => m.querySelector('.msg-bot'))`) {
		t.Error("Alice's own message has a bot badge")
	}

	alice.waitFor("the webhook is listed", `document.querySelectorAll('#integrations .integration').length === 1`)
	alice.click(".webhook-revoke")
	alice.waitFor("the webhook shows as revoked", `!!document.querySelector('#integrations .integration.is-revoked')`)
	if st := post(`{"text":"after revoke"}`); st != 404 {
		t.Errorf("post to a revoked webhook: %d, want 404", st)
	}
	alice.do("close the settings", chromedp.Evaluate[chromedp.Void](`document.querySelector('#settings-dialog .delete').click()`))
	alice.waitFor("the settings close", `!document.querySelector('#settings-dialog')`)

	// A member who may invite (the chat's default) adds webhooks from the
	// chat's menu, without the moderators' settings.
	bob := newUser(t, browser, ts.url, "Bob")
	bob.signIn()
	joinChat(bob, "Deploys")
	bob.click("#room-menu")
	bob.waitFor("the menu offers integrations, not the settings", `!!document.querySelector('#room-integrations') && !document.querySelector('#room-settings')`)
	bob.click("#room-integrations")
	bob.waitFor("the integrations dialog shows", `!!document.querySelector('#integrations-dialog #webhook-name')`)
	bob.do("name Bob's webhook", chromedp.SendKeys(chromedp.CSS("#webhook-name"), "Nightly"))
	bob.click("#webhook-create")
	bob.waitFor("Bob's URL shows once", `(document.querySelector('#webhook-url-value') || {}).value?.includes('/hooks/')`)
	bob.checkPage()

	alice.click("#profile-button")
	alice.waitFor("the menu offers API tokens", `!!document.querySelector('#api-tokens')`)
	alice.click("#api-tokens")
	alice.waitFor("the tokens dialog shows", `!!document.querySelector('#tokens-dialog #token-name')`)
	alice.do("name the token", chromedp.SendKeys(chromedp.CSS("#token-name"), "script"))
	alice.click("#token-create")
	alice.waitFor("the token shows once", `(document.querySelector('#api-token-value') || {}).value?.startsWith('chatr_')`)
	alice.waitFor("the token is listed", `document.querySelectorAll('#tokens-dialog .integration').length === 1`)
	alice.checkPage()
}

package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/chatr/chatr/server"
)

// TestBrowserOutgoingWebhooks: the chat's owner adds an outgoing webhook
// in the chat settings and sees its secret once; a message with its
// trigger word gets the receiver's answer as a reply; the webhook is
// deleted from the same section.
func TestBrowserOutgoingWebhooks(t *testing.T) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"text": "pong from the bot"}`)
	}))
	defer receiver.Close()
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Outgoing: server.Outgoing{AllowPrivate: []string{"127.0.0.1"}}})
	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	createChat(alice, "Ops")

	openRoomSettings(alice)
	alice.waitFor("the section lists none", `!!document.querySelector('#outgoing-none')`)
	setField(alice, "#outgoing-name", "Ping bot")
	setField(alice, "#outgoing-url", receiver.URL+"/hook")
	setField(alice, "#outgoing-triggers", "!ping, !pong")
	press(alice, "#outgoing-create")
	alice.waitFor("the secret shows once", `(document.querySelector('#outgoing-secret') || {}).value?.length >= 40`)
	alice.waitFor("the webhook is listed", `[...document.querySelectorAll('#outgoing-list .invite-row')].some((e) => e.textContent.includes('Ping bot') && e.textContent.includes('!ping !pong'))`)
	alice.screenshot("outgoing-webhooks-1440")
	press(alice, "#room-settings-save")
	alice.waitFor("the settings dialog closes", `!document.querySelector('#settings-dialog')`)

	send(alice, "!ping now")
	alice.waitFor("the bot's reply shows", hasMessage("pong from the bot"))

	openRoomSettings(alice)
	alice.waitFor("the secret is not shown again", `!!document.querySelector('#outgoing-list') && !document.querySelector('#outgoing-secret')`)
	press(alice, ".outgoing-delete")
	alice.waitFor("the list is empty", `!!document.querySelector('#outgoing-none')`)
}

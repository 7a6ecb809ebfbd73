package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// logBuffer is a log sink safe for the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged starts a node whose debug log the test reads.
func startLogged(t *testing.T, cfg server.Config) (*testnode.Node, *logBuffer) {
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return testnode.Start(t, cfg), logs
}

// call sends a request the way curl or a notifier does: a body with its
// content type, headers, no cookie. It returns the status, the headers and
// the JSON answer.
func call(t *testing.T, method, u, contentType, body string, header map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: status %d, not JSON: %q", method, u, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// botMessage waits for a chat message in chatID with the text and returns
// its data as members receive it.
func botMessage(t *testing.T, c *wsclient.Conn, chatID, text string) map[string]any {
	t.Helper()
	var m map[string]any
	_, err := c.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
		if f.Type != "message" || f.From != "group" || f.Group != chatID {
			return false
		}
		m = nil
		return json.Unmarshal(f.Data, &m) == nil && m["message"] == text
	})
	if err != nil {
		t.Fatalf("waiting for %q in %s: %v", text, chatID, err)
	}
	return m
}

// atRest fails the test when a secret is in the database's files or the log.
func atRest(t *testing.T, n *testnode.Node, logs *logBuffer, secrets ...string) {
	t.Helper()
	var files []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(n.DB + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	for _, s := range secrets {
		if bytes.Contains(files, []byte(s)) {
			t.Errorf("the database holds the secret %.12s…", s)
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds the secret %.12s…", s)
		}
	}
}

// Incoming webhooks take what notifiers send (curl's JSON, Slack's form
// payload, Alertmanager's slack_configs attachments), post it once per
// idempotency key under the webhook's name with the bot marker, and refuse
// what they must with the status notifiers understand.
func TestIncomingWebhook(t *testing.T) {
	n, logs := startLogged(t, server.Config{})
	alice := n.Guest("Alice")
	ca := alice.Connect(wsclient.Reliable)
	testnode.MustAck(t, ca, "createChat", map[string]string{"name": "Ops", "id": "ops"})
	testnode.MustAck(t, ca, "joinChat", "ops")

	var created struct{ ID, URL, Name, ChatID string }
	if st := alice.Do("POST", "/api/chats/ops/webhooks", map[string]string{"name": "CI"}, &created); st != 201 || created.URL == "" || created.ChatID != "ops" {
		t.Fatalf("create webhook: %d %+v", st, created)
	}
	secret := created.URL[strings.LastIndex(created.URL, "/")+1:]
	if created.URL != n.Base+"/hooks/"+secret {
		t.Errorf("webhook URL %q, want it on %s/hooks/", created.URL, n.Base)
	}

	// curl -X POST -H 'Content-Type: application/json' -d '{"text": ...}'
	st, _, out := call(t, "POST", created.URL, "application/json", `{"text":"build **green** on <https://ci.example/1|run 1>","icon_url":"https://x/i.png"}`, nil)
	if st != 201 || out["ok"] != true {
		t.Fatalf("curl post: %d %v", st, out)
	}
	m := botMessage(t, ca, "ops", "build **green** on [run 1](https://ci.example/1)")
	if m["fromUserName"] != "CI" || m["bot"] != true || !strings.HasPrefix(m["fromUserId"].(string), "hook:") {
		t.Errorf("webhook message as delivered: %v", m)
	}

	// Slack's form-encoded payload, with a username of the sender's choosing.
	form := url.Values{"payload": {`{"text":"deployed v2","username":"Deploy"}`}}.Encode()
	if st, _, out := call(t, "POST", created.URL, "application/x-www-form-urlencoded", form, nil); st != 201 {
		t.Fatalf("form post: %d %v", st, out)
	}
	if m := botMessage(t, ca, "ops", "deployed v2"); m["fromUserName"] != "Deploy" || m["bot"] != true {
		t.Errorf("form message: %v", m)
	}

	// Alertmanager's slack_configs: attachments only; the fallback is the text.
	am := `{"channel":"#ops","username":"Alertmanager","icon_emoji":":fire:","link_names":false,
		"attachments":[{"title":"[FIRING:1] HighLatency","title_link":"http://am/#/alerts","pretext":"","text":"p99 above 1s",
		"fallback":"[FIRING:1] HighLatency | http://am/#/alerts","color":"danger","mrkdwn_in":["fallback","pretext","text"]}]}`
	if st, _, out := call(t, "POST", created.URL, "application/json", am, nil); st != 201 || out["ok"] != true {
		t.Fatalf("alertmanager post: %d %v", st, out)
	}
	if m := botMessage(t, ca, "ops", "[FIRING:1] HighLatency | http://am/#/alerts"); m["fromUserName"] != "Alertmanager" {
		t.Errorf("alertmanager message: %v", m)
	}
	// Attachments without a fallback give their title and text.
	if st, _, _ := call(t, "POST", created.URL, "application/json", `{"attachments":[{"title":"Nightly","text":"3 tests failed"}]}`, nil); st != 201 {
		t.Fatalf("attachments post: %d", st)
	}
	botMessage(t, ca, "ops", "Nightly\n3 tests failed")

	// Exactly once under retries with an idempotency key.
	var ids []float64
	for range 3 {
		st, _, out := call(t, "POST", created.URL, "application/json", `{"text":"once"}`, map[string]string{"Idempotency-Key": "run-42"})
		if st != 201 && st != 200 {
			t.Fatalf("keyed post: %d %v", st, out)
		}
		ids = append(ids, out["id"].(float64))
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("retries with one key answered ids %v", ids)
	}
	count := 0
	for _, m := range alice.History("ops") {
		if m.Message == "once" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d copies of a message posted 3 times with one key", count)
	}

	// History carries the marker too.
	var page struct{ Messages []map[string]any }
	alice.Do("GET", "/api/chats/ops/messages", nil, &page)
	if len(page.Messages) == 0 || page.Messages[0]["bot"] != true || page.Messages[0]["fromUserName"] != "CI" {
		t.Errorf("history: %v", page.Messages)
	}

	// What is refused.
	for _, c := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"bad JSON", "application/json", `{"text":`, 400},
		{"no text", "application/json", `{"text":"  ","attachments":[]}`, 400},
		{"form without payload", "application/x-www-form-urlencoded", "text=hi", 400},
		{"1 MiB and more", "application/json", `{"text":"` + strings.Repeat("a", 1<<20) + `"}`, 413},
	} {
		if st, _, out := call(t, "POST", created.URL, c.contentType, c.body, nil); st != c.want || out["error"] == nil {
			t.Errorf("%s: %d %v, want %d with a JSON error", c.name, st, out, c.want)
		}
	}
	if st, _, _ := call(t, "POST", n.Base+"/hooks/nope", "application/json", `{"text":"x"}`, nil); st != 404 {
		t.Errorf("unknown webhook: %d, want 404", st)
	}

	// The list shows no URL; revoking makes the URL 404.
	var list struct{ Webhooks []map[string]any }
	if st := alice.Do("GET", "/api/chats/ops/webhooks", nil, &list); st != 200 || len(list.Webhooks) != 1 || list.Webhooks[0]["url"] != nil {
		t.Fatalf("list: %d %v", st, list)
	}
	bob := n.Guest("Bob")
	if st := bob.Do("GET", "/api/chats/ops/webhooks", nil, nil); st != 404 {
		t.Errorf("a non-member lists webhooks: %d, want 404", st)
	}
	if st := bob.Do("DELETE", "/api/chats/ops/webhooks/"+created.ID, nil, nil); st != 404 {
		t.Errorf("a non-member revokes a webhook: %d, want 404", st)
	}
	if st := alice.Do("DELETE", "/api/chats/ops/webhooks/"+created.ID, nil, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _, out := call(t, "POST", created.URL, "application/json", `{"text":"after revoke"}`, nil); st != 404 || out["error"] == nil {
		t.Errorf("revoked webhook: %d %v, want 404", st, out)
	}
	atRest(t, n, logs, secret)
}

// API tokens act as their user within their scope and chats, send through
// the socket's path (fan-out, exactly once per key), are refused once
// revoked, are rate limited, and are kept hashed and out of the log.
func TestAPITokens(t *testing.T) {
	n, logs := startLogged(t, server.Config{Admins: "@alice"})
	alice := n.Guest("Alice")
	ca := alice.Connect(wsclient.Reliable)
	testnode.MustAck(t, ca, "createChat", map[string]string{"name": "One", "id": "one"})
	testnode.MustAck(t, ca, "createChat", map[string]string{"name": "Two", "id": "two"})
	testnode.MustAck(t, ca, "joinChat", "one")
	testnode.MustAck(t, ca, "joinChat", "two")

	type made struct{ ID, Token, Scope string }
	mk := func(body map[string]any) made {
		t.Helper()
		var tok made
		if st := alice.Do("POST", "/api/tokens", body, &tok); st != 201 || !strings.HasPrefix(tok.Token, "chatr_") {
			t.Fatalf("create token %v: %d %+v", body, st, tok)
		}
		return tok
	}
	write := mk(map[string]any{"name": "script"})
	read := mk(map[string]any{"name": "reader", "scope": "read"})
	one := mk(map[string]any{"name": "one only", "chats": []string{"one"}})
	as := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	st, _, out := call(t, "POST", n.Base+"/api/chats/one/messages", "application/json", `{"text":"hello from a script"}`, as(write.Token))
	if st != 201 || out["fromUserId"] != alice.ID || out["id"] == nil {
		t.Fatalf("send with a token: %d %v", st, out)
	}
	if m := botMessage(t, ca, "one", "hello from a script"); m["fromUserId"] != alice.ID || m["bot"] != nil {
		t.Errorf("a user's token message as delivered: %v", m)
	}

	checks := []struct {
		name, method, path, token string
		want                      int
	}{
		{"read token reads", "GET", "/api/chats/one/messages", read.Token, 200},
		{"read token writes", "POST", "/api/chats/one/messages", read.Token, 403},
		{"chat token in its chat", "POST", "/api/chats/one/messages", one.Token, 201},
		{"chat token elsewhere", "GET", "/api/chats/two/messages", one.Token, 403},
		{"chat token lists chats", "GET", "/api/chats", one.Token, 403},
		{"token manages tokens", "GET", "/api/tokens", write.Token, 403},
		{"token opens a socket", "GET", "/api/getToken", write.Token, 403},
		{"token manages webhooks", "POST", "/api/chats/one/webhooks", write.Token, 403},
		{"token in a chat it is not in", "POST", "/api/chats/nope/messages", write.Token, 404},
		{"unknown token", "GET", "/api/chats", "chatr_nope", 401},
		{"not a token", "GET", "/api/chats", "abc", 401},
	}
	for _, c := range checks {
		if st, _, out := call(t, c.method, n.Base+c.path, "application/json", `{"text":"x","name":"x"}`, as(c.token)); st != c.want || st >= 400 && out["error"] == nil {
			t.Errorf("%s: %d %v, want %d", c.name, st, out, c.want)
		}
	}

	// Exactly once with a key, whoever retries.
	var first, again map[string]any
	st1, _, first := call(t, "POST", n.Base+"/api/chats/one/messages", "application/json", `{"text":"keyed","clientId":"k-1"}`, as(write.Token))
	st2, _, again := call(t, "POST", n.Base+"/api/chats/one/messages", "application/json", `{"text":"keyed"}`, map[string]string{
		"Authorization": "Bearer " + write.Token, "Idempotency-Key": "k-1"})
	if st1 != 201 || st2 != 200 || first["id"] != again["id"] {
		t.Errorf("keyed sends: %d %v then %d %v", st1, first["id"], st2, again["id"])
	}

	// Revoked: 401 JSON. The list shows the revocation and the last use.
	if st := alice.Do("DELETE", "/api/tokens/"+write.ID, nil, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _, out := call(t, "GET", n.Base+"/api/chats", "", "", as(write.Token)); st != 401 || out["error"] == nil {
		t.Errorf("revoked token: %d %v, want 401", st, out)
	}
	var list struct{ Tokens []map[string]any }
	alice.Do("GET", "/api/tokens", nil, &list)
	if len(list.Tokens) != 3 || list.Tokens[0]["revoked"] != true || list.Tokens[0]["lastUsed"] == nil || list.Tokens[0]["token"] != nil {
		t.Errorf("token list: %v", list.Tokens)
	}

	// A bot account, made by an admin, speaks with the marker.
	var bot struct{ UserID, Handle string }
	if st := alice.Do("POST", "/api/admin/bots", map[string]string{"name": "Deploy Bot"}, &bot); st != 201 || !strings.HasPrefix(bot.UserID, "bot:") {
		t.Fatalf("create bot: %d %+v", st, bot)
	}
	var botTok made
	if st := alice.Do("POST", "/api/admin/bots/"+bot.UserID+"/tokens", map[string]any{"name": "deploys", "chats": []string{"one"}}, &botTok); st != 201 {
		t.Fatalf("bot token: %d", st)
	}
	testnode.MustAck(t, ca, "inviteMembers", map[string]any{"chatId": "one", "userIds": []string{bot.UserID}})
	if st, _, out := call(t, "POST", n.Base+"/api/chats/one/messages", "application/json", `{"text":"v3 is live"}`, as(botTok.Token)); st != 201 {
		t.Fatalf("bot send: %d %v", st, out)
	}
	if m := botMessage(t, ca, "one", "v3 is live"); m["bot"] != true || m["fromUserName"] != "Deploy Bot" {
		t.Errorf("bot message: %v", m)
	}
	bob := n.Guest("Bob")
	if st := bob.Do("POST", "/api/admin/bots", map[string]string{"name": "Mine"}, nil); st != 403 {
		t.Errorf("a non-admin makes a bot: %d, want 403", st)
	}

	// The per-token rate: 429 with Retry-After.
	limited := false
	for range 80 {
		st, h, out := call(t, "GET", n.Base+"/api/chats/one/messages?limit=1", "", "", as(read.Token))
		if st == 429 {
			limited = h.Get("Retry-After") != "" && out["error"] != nil
			break
		}
	}
	if !limited {
		t.Error("80 requests at once with one token were never refused with 429 and Retry-After")
	}
	atRest(t, n, logs, write.Token, read.Token, one.Token, botTok.Token)
}

// With --user-tokens=false only admins make tokens.
func TestUserTokensOff(t *testing.T) {
	n := testnode.Start(t, server.Config{NoUserTokens: true})
	bob := n.Guest("Bob")
	var out map[string]any
	if st := bob.Do("POST", "/api/tokens", map[string]string{"name": "mine"}, &out); st != 403 || out["error"] == nil {
		t.Errorf("token with user tokens off: %d %v, want 403", st, out)
	}
}

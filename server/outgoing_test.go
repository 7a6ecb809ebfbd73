package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/outgoing"
	"github.com/chatr/chatr/server"
)

type outgoingHook struct {
	ID, Name, URL, Secret, CreatedBy string
	TriggerWords                     []string
}

// Outgoing webhooks end to end: only the chat's owner, moderators and
// admins manage them (a member 403, a non-member of a private chat 404 as
// for a missing chat); a trigger word calls the receiver with a signed
// payload, a 5xx answer is retried, and the answer is posted once as a
// reply under the webhook's name; a deleted webhook is called no more.
func TestOutgoingWebhooksOverHTTP(t *testing.T) {
	type call struct {
		payload  map[string]any
		verified bool
	}
	var (
		mu     sync.Mutex
		calls  []call
		secret string
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p map[string]any
		json.Unmarshal(body, &p)
		mu.Lock()
		ok := outgoing.Verify(secret, r.Header.Get(outgoing.TimestampHeader), r.Header.Get(outgoing.SignatureHeader), body, time.Now(), 5*time.Minute)
		calls = append(calls, call{p, ok})
		n := len(calls)
		mu.Unlock()
		if n == 1 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, `{"text": "deploying %s"}`, strings.TrimPrefix(p["text"].(string), "!deploy "))
	}))
	defer receiver.Close()

	nd := startNode(t, server.Config{Outgoing: server.Outgoing{AllowPrivate: []string{"127.0.0.1"}}})
	alice, bob, carol := nd.Guest("Alice"), nd.Guest("Bob"), nd.Guest("Carol")
	ca, cb := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Ops", "id": "ops"})
	mustAck(t, ca, "joinChat", "ops")
	mustAck(t, cb, "joinChat", "ops")
	mustAck(t, ca, "createChat", map[string]string{"name": "Hidden", "id": "hidden", "visibility": "private"})

	const path = "/api/chats/ops/outgoing-webhooks"
	in := map[string]any{"name": "Deploy bot", "url": receiver.URL + "/hook", "triggerWords": []string{"!deploy"}}
	var e struct{ Error, Message string }
	if st := bob.Do("POST", path, in, &e); st != http.StatusForbidden || e.Error != "forbidden" {
		t.Errorf("a member creates: %d %+v", st, e)
	}
	if st := bob.Do("GET", path, nil, &e); st != http.StatusForbidden {
		t.Errorf("a member lists: %d", st)
	}
	if st := carol.Do("GET", path, nil, &e); st != http.StatusForbidden {
		t.Errorf("a non-member of a public chat lists: %d", st)
	}
	var hidden, missing struct{ Error, Message string }
	stHidden := carol.Do("POST", "/api/chats/hidden/outgoing-webhooks", in, &hidden)
	stMissing := carol.Do("POST", "/api/chats/no-such-chat/outgoing-webhooks", in, &missing)
	if stHidden != http.StatusNotFound || stHidden != stMissing || hidden != missing {
		t.Errorf("a non-member of a private chat: %d %+v; a missing chat: %d %+v", stHidden, hidden, stMissing, missing)
	}
	if st := carol.Do("GET", "/api/chats/hidden/outgoing-webhooks", nil, nil); st != http.StatusNotFound {
		t.Errorf("a non-member of a private chat lists: %d", st)
	}
	for _, bad := range []map[string]any{
		{"name": "x", "url": "http://10.0.0.1/hook", "triggerWords": []string{"!x"}},
		{"name": "x", "url": "http://169.254.169.254/", "triggerWords": []string{"!x"}},
		{"name": "x", "url": "file:///etc/passwd", "triggerWords": []string{"!x"}},
		{"name": "x", "url": receiver.URL, "triggerWords": []string{}},
		{"name": "", "url": receiver.URL, "triggerWords": []string{"!x"}},
		{"name": "x", "url": receiver.URL, "triggerWords": []string{"two words"}},
	} {
		if st := alice.Do("POST", path, bad, &e); st != http.StatusBadRequest || e.Error != "invalid" {
			t.Errorf("create %v: %d %+v", bad, st, e)
		}
	}

	var hook outgoingHook
	if st := alice.Do("POST", path, in, &hook); st != http.StatusCreated || hook.ID == "" || len(hook.Secret) < 40 ||
		hook.Name != "Deploy bot" || hook.CreatedBy != alice.ID {
		t.Fatalf("create: %d %+v", st, hook)
	}
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()
	var list struct{ Webhooks []outgoingHook }
	if st := alice.Do("GET", path, nil, &list); st != 200 || len(list.Webhooks) != 1 || list.Webhooks[0].ID != hook.ID ||
		list.Webhooks[0].Secret != "" || list.Webhooks[0].TriggerWords[0] != "!deploy" {
		t.Errorf("list: %d %+v", st, list)
	}

	say(t, cb, "ops", "deploy without the bang")
	id := say(t, cb, "ops", "!deploy prod")
	var reply struct {
		Message, FromUserID, FromUserName string
		ID, ReplyTo                       int64
	}
	if _, err := cb.WaitFor(20*time.Second, func(f wsclient.Frame) bool {
		return f.Type == "message" && f.Group == "ops" && json.Unmarshal(f.Data, &reply) == nil && reply.Message == "deploying prod"
	}); err != nil {
		t.Fatalf("waiting for the reply: %v", err)
	}
	if reply.ReplyTo != id || reply.FromUserName != "Deploy bot" || reply.FromUserID != outgoing.SenderPrefix+hook.ID || reply.ID != id+1 {
		t.Errorf("reply %+v to message %d", reply, id)
	}
	mu.Lock()
	if len(calls) != 2 || !calls[0].verified || !calls[1].verified {
		t.Errorf("calls %+v, want two verified (a 503, then the answer)", calls)
	}
	if p := calls[1].payload; p["channel_id"] != "ops" || p["channel_name"] != "Ops" || p["user_id"] != bob.ID ||
		p["post_id"] != fmt.Sprint(id) || p["trigger_word"] != "!deploy" || p["text"] != "!deploy prod" {
		t.Errorf("payload %v", p)
	}
	mu.Unlock()
	replies := 0
	for _, m := range bob.History("ops") {
		if m.Message == "deploying prod" {
			replies++
		}
	}
	if replies != 1 {
		t.Errorf("%d replies in the history, want 1", replies)
	}

	if st := bob.Do("DELETE", path+"/"+hook.ID, nil, nil); st != http.StatusForbidden {
		t.Errorf("a member deletes: %d", st)
	}
	if st := alice.Do("DELETE", "/api/chats/hidden/outgoing-webhooks/"+hook.ID, nil, nil); st != http.StatusNotFound {
		t.Errorf("delete through another chat: %d", st)
	}
	if st := alice.Do("DELETE", path+"/"+hook.ID, nil, nil); st != http.StatusNoContent {
		t.Errorf("delete: %d", st)
	}
	if st := alice.Do("DELETE", path+"/"+hook.ID, nil, &e); st != http.StatusNotFound || e.Error != "not_found" {
		t.Errorf("delete again: %d %+v", st, e)
	}
	say(t, cb, "ops", "!deploy staging")
	// A marker webhook created after the deletion answers the next
	// trigger: when it has, the deleted one would have been called too.
	marker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"text": "marker"}`)
	}))
	defer marker.Close()
	in["url"], in["name"] = marker.URL, "Marker"
	if st := alice.Do("POST", path, in, &hook); st != http.StatusCreated {
		t.Fatalf("create the marker: %d", st)
	}
	say(t, cb, "ops", "!deploy later")
	waitChat(t, cb, "ops", "marker")
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 {
		t.Errorf("the deleted webhook was called: %d calls", len(calls))
	}
}

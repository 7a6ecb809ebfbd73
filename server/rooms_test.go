package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// A private room, over the real server: a non-member finds it by no path
// (the list, the chat, its members, its history, its invites, unread
// counts) and is answered as for a chat that does not exist; members see it
// with their role.
func TestPrivateRoomOverHTTP(t *testing.T) {
	nd := startNode(t, server.Config{})
	alice, bob, carol := nd.Guest("Alice"), nd.Guest("Bob"), nd.Guest("Carol")
	ca, cb := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Secret", "id": "secret", "visibility": "private", "topic": "plans"})
	mustAck(t, ca, "inviteMembers", map[string]any{"chatId": "secret", "userIds": []string{bob.ID}})
	added := waitEvent(t, cb, "addedToChat", nil)
	if !strings.Contains(added, `"id":"secret"`) || !strings.Contains(added, `"joined":true`) {
		t.Errorf("bob's addedToChat %s", added)
	}
	say(t, cb, "secret", "between us")

	type listing struct {
		Chats map[string]struct {
			Joined           bool
			Role, Visibility string
		}
		PrivateChats map[string]json.RawMessage
		Unread       map[string]int
		Mentions     map[string]int
	}
	var lb, lc listing
	if st := bob.Do("GET", "/api/chats", nil, &lb); st != 200 {
		t.Fatalf("bob's /api/chats: %d", st)
	}
	if c, ok := lb.Chats["secret"]; !ok || !c.Joined || c.Role != "member" || c.Visibility != "private" {
		t.Errorf("bob's listing of secret: %+v (listed %v)", c, ok)
	}
	if st := carol.Do("GET", "/api/chats", nil, &lc); st != 200 {
		t.Fatalf("carol's /api/chats: %d", st)
	}
	if _, ok := lc.Chats["secret"]; ok || lc.Unread["secret"] != 0 || lc.Mentions == nil {
		t.Errorf("carol's listing shows the private chat: %+v", lc)
	}
	for _, path := range []string{"", "/members", "/messages", "/invites"} {
		var got, none struct{ Error string }
		st := carol.Do("GET", "/api/chats/secret"+path, nil, &got)
		stNone := carol.Do("GET", "/api/chats/no-such-chat"+path, nil, &none)
		if st != http.StatusNotFound || st != stNone || got != none {
			t.Errorf("GET %s by a non-member: %d %+v; of a missing chat: %d %+v", path, st, got, stNone, none)
		}
	}
	var view struct {
		ID, Name, Topic, Role, Kind string
		Joined                      bool
		Members                     map[string]struct{ Role string }
	}
	if st := bob.Do("GET", "/api/chats/secret", nil, &view); st != 200 || view.Role != "member" || view.Topic != "plans" ||
		view.Kind != "group" || view.Members[alice.ID].Role != "owner" {
		t.Errorf("bob's GET /api/chats/secret: %d %+v", st, view)
	}
	var members struct {
		Members []struct {
			UserID, Role, Handle string
			Online               bool
		}
	}
	if st := bob.Do("GET", "/api/chats/secret/members", nil, &members); st != 200 || len(members.Members) != 2 ||
		!members.Members[0].Online || members.Members[0].Role != "owner" || members.Members[0].Handle == "" {
		t.Errorf("members: %d %+v", st, members)
	}
}

// Invite links over HTTP: 201 with a token and a URL, a use makes the
// caller a member and tells the members and the caller's connections;
// forged tokens 404, used-up and revoked ones 410; a cross-site POST is
// refused.
func TestInviteLinksOverHTTP(t *testing.T) {
	nd := startNode(t, server.Config{})
	alice, carol, dave := nd.Guest("Alice"), nd.Guest("Carol"), nd.Guest("Dave")
	ca, cc := alice.Connect(wsclient.JSON), carol.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Club", "id": "club", "visibility": "private"})

	var inv struct{ Token, URL, ID string }
	if st := alice.Do("POST", "/api/chats/club/invites", map[string]int{"maxUses": 1}, &inv); st != http.StatusCreated {
		t.Fatalf("create invite: %d", st)
	}
	if !strings.HasSuffix(inv.URL, "/invite/"+inv.Token) || len(inv.Token) < 40 || inv.ID == "" {
		t.Errorf("invite %+v", inv)
	}
	var errBody struct{ Error string }
	if st := carol.Do("POST", "/api/invites/"+inv.Token+"x", nil, &errBody); st != http.StatusNotFound {
		t.Errorf("forged token: %d %+v", st, errBody)
	}
	var view struct {
		ID     string
		Joined bool
	}
	if st := carol.Do("POST", "/api/invites/"+inv.Token, nil, &view); st != 200 || view.ID != "club" || !view.Joined {
		t.Fatalf("use: %d %+v", st, view)
	}
	waitEvent(t, cc, "addedToChat", func(d string) bool { return strings.Contains(d, `"club"`) })
	waitEvent(t, ca, "memberJoined", func(d string) bool { return strings.Contains(d, carol.ID) })
	say(t, cc, "club", "hello club")
	if st := dave.Do("POST", "/api/invites/"+inv.Token, nil, &errBody); st != http.StatusGone || errBody.Error != "gone" {
		t.Errorf("used-up token: %d %+v", st, errBody)
	}

	var second struct{ Token, ID string }
	if st := alice.Do("POST", "/api/chats/club/invites", nil, &second); st != http.StatusCreated {
		t.Fatalf("create invite: %d", st)
	}
	if st := carol.Do("DELETE", "/api/chats/club/invites/"+second.ID, nil, nil); st != http.StatusForbidden {
		t.Errorf("a member revoking another's invite: %d", st)
	}
	if st := alice.Do("DELETE", "/api/chats/club/invites/"+second.ID, nil, nil); st != http.StatusNoContent {
		t.Errorf("revoke: %d", st)
	}
	if st := dave.Do("POST", "/api/invites/"+second.Token, nil, &errBody); st != http.StatusGone {
		t.Errorf("revoked token: %d", st)
	}
	var list struct {
		Invites []struct {
			ID, Token string
			Uses      int
			Revoked   bool
		}
	}
	if st := alice.Do("GET", "/api/chats/club/invites", nil, &list); st != 200 || len(list.Invites) != 2 {
		t.Fatalf("list: %d %+v", st, list)
	}
	for _, i := range list.Invites {
		if i.Token != "" {
			t.Errorf("the list shows a token")
		}
	}
	for _, bad := range []any{map[string]int{"expiresInSeconds": 1}, map[string]int{"maxUses": -1}, "not an object"} {
		if st := alice.Do("POST", "/api/chats/club/invites", bad, nil); st != http.StatusBadRequest {
			t.Errorf("create invite %v: %d", bad, st)
		}
	}
	// A cross-site form posting to the invite endpoint with alice's cookie.
	req, _ := http.NewRequest("POST", nd.Base+"/api/chats/club/invites", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := alice.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: %d", resp.StatusCode)
	}
}

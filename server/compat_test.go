package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// TestOriginalClientFlow replays what the original Chatr browser client does,
// frame for frame: no ackIds, the plain JSON protocol, getToken with its own
// id unencoded, userConnected on open, and it waits for userOnline of its own
// user before leaving its loading screen.
func TestOriginalClientFlow(t *testing.T) {
	n := startNode(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")

	var me struct {
		ClientPrincipal struct{ UserID, UserDetails, IdentityProvider string }
	}
	alice.Do("GET", "/.auth/me", nil, &me)
	var chats struct{ Chats map[string]any }
	if st := alice.Do("GET", "/api/chats", nil, &chats); st != 200 || chats.Chats == nil {
		t.Fatalf("/api/chats: %d %+v", st, chats)
	}
	var users struct{ Users map[string]any }
	if st := alice.Do("GET", "/api/users", nil, &users); st != 200 || users.Users == nil {
		t.Fatalf("/api/users: %d %+v", st, users)
	}
	var tok struct{ URL string }
	if st := alice.Do("GET", "/api/getToken?userId="+me.ClientPrincipal.UserID, nil, &tok); st != 200 {
		t.Fatalf("getToken with own id unencoded: %d", st)
	}
	ca := dialURL(t, tok.URL)
	ca.Send(map[string]any{"type": "event", "event": "userConnected", "dataType": "json",
		"data": map[string]string{"userName": "Alice", "userProvider": "guest"}})
	var online struct{ UserID, UserName, UserProvider string }
	json.Unmarshal([]byte(waitEvent(t, ca, "userOnline", func(d string) bool { return strings.Contains(d, alice.ID) })), &online)
	if online.UserName != "Alice" || online.UserProvider != "guest" {
		t.Errorf("userOnline = %+v", online)
	}

	// Bob is already online in another tab; his second connection must
	// still receive userOnline for himself.
	bob.Connect(wsclient.JSON)
	var btok struct{ URL string }
	bob.Do("GET", "/api/getToken?userId="+bob.ID, nil, &btok)
	cb := dialURL(t, btok.URL)
	cb.Send(map[string]any{"type": "event", "event": "userConnected", "dataType": "json", "data": map[string]string{}})
	waitEvent(t, cb, "userOnline", func(d string) bool { return strings.Contains(d, bob.ID) })

	// No ackIds anywhere: the effects must still happen.
	ca.Send(map[string]any{"type": "event", "event": "createChat", "dataType": "json", "data": map[string]string{"name": "Old", "id": "0d6f5c7e-1111-4222-8333-944445555666"}})
	waitEvent(t, cb, "chatCreated", nil)
	ca.Send(map[string]any{"type": "event", "event": "joinChat", "dataType": "text", "data": "0d6f5c7e-1111-4222-8333-944445555666"})
	// Events of different connections run concurrently: Bob joins once
	// Alice's own join has been announced to her.
	if _, err := ca.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		return f.Group == "0d6f5c7e-1111-4222-8333-944445555666" && strings.Contains(string(f.Data), "Alice has joined")
	}); err != nil {
		t.Fatalf("alice's join: %v", err)
	}
	cb.Send(map[string]any{"type": "event", "event": "joinChat", "dataType": "text", "data": "0d6f5c7e-1111-4222-8333-944445555666"})
	// The announcement of Bob's join is a text group message carrying the group.
	f, err := ca.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		return f.Type == "message" && f.Group == "0d6f5c7e-1111-4222-8333-944445555666" && strings.Contains(string(f.Data), "Bob has joined")
	})
	if err != nil || f.From != "group" || f.DataType != "text" {
		t.Fatalf("join announcement %+v (%v)", f, err)
	}
	ca.Send(map[string]any{"type": "sendToGroup", "group": "0d6f5c7e-1111-4222-8333-944445555666", "dataType": "json",
		"data": map[string]string{"message": "hi from the old client", "fromUserId": alice.ID, "fromUserName": "Alice"}})
	m := waitChat(t, cb, "0d6f5c7e-1111-4222-8333-944445555666", "hi from the old client")
	if m.FromUserName != "Alice" {
		t.Errorf("bubble sender %q", m.FromUserName)
	}
	ca.Send(map[string]any{"type": "event", "event": "leaveChat", "dataType": "json", "data": map[string]string{"chatId": "0d6f5c7e-1111-4222-8333-944445555666", "userName": "Alice"}})
	if _, err := cb.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		return f.Group == "0d6f5c7e-1111-4222-8333-944445555666" && strings.Contains(string(f.Data), "Alice has left")
	}); err != nil {
		t.Errorf("leave announcement: %v", err)
	}

	// No application pings: the connection stays open on WebSocket pings alone.
	time.Sleep(1500 * time.Millisecond)
	ca.Send(map[string]any{"type": "event", "event": "userEnterIdle", "dataType": "text", "data": alice.ID})
	if d := waitEvent(t, cb, "userIsIdle", nil); d != alice.ID {
		t.Errorf("userIsIdle %q", d)
	}
}

func dialURL(t *testing.T, url string) *wsclient.Conn {
	t.Helper()
	c, err := wsclient.Dial(t.Context(), url, wsclient.JSON, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Drop() })
	if f, err := c.Next(5 * time.Second); err != nil || f.Event != "connected" {
		t.Fatalf("first frame %+v (%v)", f, err)
	}
	return c
}

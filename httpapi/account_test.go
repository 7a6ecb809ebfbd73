package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// Deleting one's own account needs the handle as confirmation and the
// server's origin; it closes the user's sockets, ends the session, tells
// the members of the user's chats, and keeps the messages under "deleted
// user" (the default).
func TestDeleteOwnAccount(t *testing.T) {
	n := testnode.Start(t, server.Config{})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	ca, cb := alice.Connect(wsclient.Reliable), bob.Connect(wsclient.Reliable)
	testnode.MustAck(t, ca, "createChat", map[string]string{"name": "Room", "id": "room"})
	testnode.MustAck(t, ca, "joinChat", "room")
	testnode.MustAck(t, cb, "joinChat", "room")
	testnode.Say(t, cb, "room", "bob was here")

	var me struct{ Handle string }
	if st := bob.Do("GET", "/api/me", nil, &me); st != 200 || me.Handle == "" {
		t.Fatalf("GET /api/me: %d %+v", st, me)
	}
	for _, body := range []any{nil, map[string]string{}, map[string]string{"confirm": "someone-else"}} {
		if st := bob.Do("DELETE", "/api/me", body, nil); st != 400 {
			t.Errorf("DELETE /api/me with %v: status %d, want 400", body, st)
		}
	}
	req, _ := http.NewRequest("DELETE", n.Base+"/api/me", strings.NewReader(`{"confirm":"`+me.Handle+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := bob.HTTP.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("cross-origin deletion: %v %v, want 403", resp.StatusCode, err)
	}

	if st := bob.Do("DELETE", "/api/me", map[string]string{"confirm": "@" + strings.ToUpper(me.Handle)}, nil); st != 204 {
		t.Fatalf("DELETE /api/me: status %d, want 204", st)
	}
	if code, reason := closed(t, cb); code != ws.StatusPolicyViolation || reason != "account deleted" {
		t.Errorf("bob's socket closed with %d %q, want 1008 account deleted", code, reason)
	}
	testnode.WaitEvent(t, ca, "memberLeft", func(d string) bool { return strings.Contains(d, bob.ID) })
	if st := bob.Do("GET", "/api/me", nil, nil); st != 401 {
		t.Errorf("GET /api/me after deletion: status %d, want 401", st)
	}
	var users struct{ Users map[string]any }
	alice.Do("GET", "/api/users?all=1", nil, &users)
	if _, ok := users.Users[bob.ID]; ok {
		t.Error("the deleted user is still in the directory")
	}
	var kept bool
	for _, m := range alice.History("room") {
		if m.Message == "bob was here" {
			kept = m.FromUserName == "deleted user" && m.FromUserID != bob.ID
			if !kept {
				t.Errorf("kept message is from %q (%s), want deleted user", m.FromUserName, m.FromUserID)
			}
		}
	}
	if !kept {
		t.Error("the deleted user's message was not kept")
	}
}

// An administrator deletes an account (recorded in the moderation log);
// with --on-account-delete remove the messages go too. Users cannot.
func TestAdminDeletesAccount(t *testing.T) {
	n := testnode.Start(t, server.Config{Admins: "@boss", OnAccountDelete: "remove"})
	boss, alice, bob := n.Guest("Boss"), n.Guest("Alice"), n.Guest("Bob")
	cb := bob.Connect(wsclient.Reliable)
	testnode.MustAck(t, cb, "createChat", map[string]string{"name": "Room", "id": "room"})
	testnode.MustAck(t, cb, "joinChat", "room")
	testnode.Say(t, cb, "room", "spam")
	if st := alice.Do("DELETE", "/api/admin/users/"+bob.ID, nil, nil); st != 403 {
		t.Errorf("a user deleting another: status %d, want 403", st)
	}
	if st := boss.Do("DELETE", "/api/admin/users/"+boss.ID, nil, nil); st != 400 {
		t.Errorf("deleting an admin: status %d, want 400", st)
	}
	if st := boss.Do("DELETE", "/api/admin/users/"+bob.ID, nil, nil); st != 204 {
		t.Fatalf("admin deletion: status %d, want 204", st)
	}
	if code, reason := closed(t, cb); code != ws.StatusPolicyViolation || reason != "account deleted" {
		t.Errorf("bob's socket closed with %d %q, want 1008 account deleted", code, reason)
	}
	if st := boss.Do("DELETE", "/api/admin/users/"+bob.ID, nil, nil); st != 404 {
		t.Errorf("deleting again: status %d, want 404", st)
	}
	testnode.MustAck(t, boss.Connect(wsclient.Reliable), "joinChat", "room")
	for _, m := range boss.History("room") {
		if m.Message == "spam" {
			t.Error("the message of an account deleted with remove is still there")
		}
	}
	var log struct {
		Events []struct{ Action, TargetUser string }
	}
	if boss.Do("GET", "/api/admin/modlog", nil, &log); len(log.Events) == 0 || log.Events[0].Action != "deleteUser" || log.Events[0].TargetUser != bob.ID {
		t.Errorf("modlog: %+v, want deleteUser of bob first", log.Events)
	}
}

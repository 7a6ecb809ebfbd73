package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

func TestSignInAndMe(t *testing.T) {
	n := startNode(t, server.Config{})
	alice := n.Guest("Alice")
	if !strings.HasPrefix(alice.ID, "guest:") {
		t.Fatalf("guest id %q, want guest:<random>", alice.ID)
	}
	alice2 := n.Guest("Alice")
	if alice2.ID == alice.ID {
		t.Fatalf("two guests named Alice share id %q", alice.ID)
	}
	var me struct {
		ClientPrincipal *struct {
			IdentityProvider, UserID, UserDetails string
			UserRoles                             []string
		}
	}
	if st := alice.Do("GET", "/.auth/me", nil, &me); st != 200 || me.ClientPrincipal == nil {
		t.Fatalf("/.auth/me: status %d, %+v", st, me)
	}
	p := me.ClientPrincipal
	if p.IdentityProvider != "guest" || p.UserID != alice.ID || p.UserDetails != "Alice" || len(p.UserRoles) != 2 {
		t.Errorf("principal = %+v", p)
	}

	anon := anon(t, n.Base)
	var out map[string]any
	if st := anon.Do("GET", "/.auth/me", nil, &out); st != 200 || out["clientPrincipal"] != nil {
		t.Errorf("signed-out /.auth/me: status %d, %v; want 200 null", st, out)
	}
	for _, path := range []string{"/api/chats", "/api/users", "/api/getToken", "/api/config", "/api/chats/x/messages"} {
		var e struct{ Error, Message string }
		if st := anon.Do("GET", path, nil, &e); st != 401 || e.Error != "unauthorized" {
			t.Errorf("GET %s without session: %d %+v, want 401 JSON", path, st, e)
		}
	}
	for _, name := range []string{"", "   ", strings.Repeat("x", 33), "bad\x00name"} {
		if st := anon.Do("POST", "/.auth/login/guest", map[string]string{"name": name}, nil); st != 400 {
			t.Errorf("guest name %q: status %d, want 400", name, st)
		}
	}

	// Sign-out ends the session.
	req, _ := http.NewRequest("GET", n.Base+"/.auth/logout?post_logout_redirect_uri=/bye", nil)
	alice.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := alice.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/bye" {
		t.Errorf("logout: %d to %q, want 302 to /bye", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st := alice.Do("GET", "/api/chats", nil, nil); st != 401 {
		t.Errorf("after logout /api/chats: %d, want 401", st)
	}
}

func TestChatLifecycle(t *testing.T) {
	n := startNode(t, server.Config{})
	alice, bob, carol := n.Guest("Alice"), n.Guest("Bob <b>"), n.Guest("Carol")
	ca, cb, cc := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON), carol.Connect(wsclient.JSON)

	// Everyone sees everyone online.
	var users struct {
		Users map[string]struct{ UserName, UserProvider string }
	}
	alice.Do("GET", "/api/users", nil, &users)
	for _, u := range []*user{alice, bob, carol} {
		if got := users.Users[u.ID].UserName; got != u.Name {
			t.Errorf("/api/users[%s].userName = %q, want %q", u.ID, got, u.Name)
		}
	}

	// createChat is broadcast; the creator joins with joinChat, as the original client does.
	mustAck(t, ca, "createChat", map[string]string{"name": "General", "id": "general-1"})
	for _, c := range []*wsclient.Conn{ca, cb, cc} {
		d := waitEvent(t, c, "chatCreated", nil)
		var got struct {
			ID, Name, Owner string
			Members         map[string]any
		}
		if err := json.Unmarshal([]byte(d), &got); err != nil || got.ID != "general-1" || got.Name != "General" || got.Owner != alice.ID || got.Members == nil {
			t.Fatalf("chatCreated data %s (%v)", d, err)
		}
	}
	mustAck(t, ca, "joinChat", "general-1")
	mustAck(t, cb, "joinChat", "general-1")

	// Bob's join is announced to the group with the name escaped.
	f, err := ca.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		return f.Type == "message" && f.From == "group" && f.Group == "general-1" && strings.Contains(string(f.Data), "has joined") &&
			strings.Contains(string(f.Data), "Bob")
	})
	if err != nil {
		t.Fatalf("join announcement: %v", err)
	}
	if !strings.Contains(string(f.Data), "Bob &lt;b&gt;") {
		t.Errorf("announcement %s does not escape the user's name", f.Data)
	}

	// A message is stamped, stored and fanned out to members only.
	f, err = ca.Call(map[string]any{"type": "sendToGroup", "group": "general-1", "dataType": "json",
		"data": map[string]any{"message": "hello bob", "fromUserId": bob.ID, "fromUserName": "Mallory"}})
	if err != nil || !f.Success {
		t.Fatalf("sendToGroup: %+v %v", f, err)
	}
	m := waitChat(t, cb, "general-1", "hello bob")
	if m.FromUserID != alice.ID || m.FromUserName != "Alice" || m.ID != 1 || m.Time == "" {
		t.Errorf("bob got %+v, want stamped as Alice with id 1 and a time", m)
	}
	if got := waitChat(t, ca, "general-1", "hello bob"); got.ID != 1 {
		t.Errorf("echo id = %d, want 1", got.ID)
	}
	// Carol is not a member: she may not send, and receives nothing.
	if name := ackError(t, cc, map[string]any{"type": "sendToGroup", "group": "general-1", "dataType": "json", "data": map[string]any{"message": "hi"}}); name != "Forbidden" {
		t.Errorf("non-member send: ack %q, want Forbidden", name)
	}
	if name := ackError(t, cc, map[string]any{"type": "joinGroup", "group": "general-1"}); name != "Forbidden" {
		t.Errorf("joinGroup without joinChat: ack %q, want Forbidden", name)
	}
	if _, err := cc.WaitFor(300*time.Millisecond, func(f wsclient.Frame) bool { return f.Group == "general-1" }); err == nil {
		t.Errorf("non-member carol received a frame of general-1")
	}
	var hist struct {
		Messages []chatMsg
		HasMore  bool
	}
	if st := carol.Do("GET", "/api/chats/general-1/messages", nil, &hist); st != 404 {
		t.Errorf("non-member history: %d, want 404", st)
	}

	// History, paged.
	for i := 2; i <= 5; i++ {
		say(t, cb, "general-1", "msg "+string(rune('0'+i)))
	}
	if st := alice.Do("GET", "/api/chats/general-1/messages?limit=2", nil, &hist); st != 200 {
		t.Fatalf("history: %d", st)
	}
	if len(hist.Messages) != 2 || hist.Messages[0].ID != 4 || hist.Messages[1].ID != 5 || !hist.HasMore {
		t.Errorf("newest page = %+v, want ids 4,5 and hasMore", hist)
	}
	alice.Do("GET", "/api/chats/general-1/messages?before=4&limit=10", nil, &hist)
	if len(hist.Messages) != 3 || hist.Messages[0].ID != 1 || hist.Messages[0].Message != "hello bob" || hist.HasMore {
		t.Errorf("older page = %+v, want ids 1..3, no more", hist)
	}
	alice.Do("GET", "/api/chats/general-1/messages?after=3", nil, &hist)
	if len(hist.Messages) != 2 || hist.Messages[0].ID != 4 {
		t.Errorf("after=3 = %+v, want ids 4,5", hist)
	}

	// Unread counts and markRead.
	var chats struct {
		Chats map[string]struct {
			Name, Owner string
			Members     map[string]any
		}
		Unread map[string]int
	}
	alice.Do("GET", "/api/chats", nil, &chats)
	if c := chats.Chats["general-1"]; c.Name != "General" || c.Owner != alice.ID || len(c.Members) != 2 {
		t.Errorf("/api/chats general-1 = %+v", c)
	}
	if chats.Unread["general-1"] != 4 {
		t.Errorf("alice unread = %d, want 4 (bob's messages)", chats.Unread["general-1"])
	}
	mustAck(t, ca, "markRead", map[string]any{"chatId": "general-1", "messageId": 5})
	chats.Unread = nil
	alice.Do("GET", "/api/chats", nil, &chats)
	if chats.Unread["general-1"] != 0 {
		t.Errorf("after markRead unread = %d, want 0", chats.Unread["general-1"])
	}

	// Typing reaches the other members, not the typist, not outsiders.
	mustAck(t, cb, "typing", map[string]string{"chatId": "general-1"})
	d := waitEvent(t, ca, "typing", nil)
	if !strings.Contains(d, bob.ID) {
		t.Errorf("typing data %s does not name bob", d)
	}

	// Only the owner deletes; the chat then disappears for everyone.
	if name := ackError(t, cb, map[string]any{"type": "event", "event": "deleteChat", "dataType": "text", "data": "general-1"}); name != "Forbidden" {
		t.Errorf("non-owner delete: %q, want Forbidden", name)
	}
	// createChat never overwrites.
	if name := ackError(t, cb, map[string]any{"type": "event", "event": "createChat", "dataType": "json", "data": map[string]string{"name": "Mine now", "id": "general-1"}}); name != "Duplicate" {
		t.Errorf("re-using a chat id: %q, want Duplicate", name)
	}
	mustAck(t, ca, "deleteChat", "general-1")
	if d := waitEvent(t, cc, "chatDeleted", nil); d != "general-1" {
		t.Errorf("chatDeleted data %q", d)
	}
	if st := alice.Do("GET", "/api/chats/general-1/messages", nil, nil); st != 404 {
		t.Errorf("history of deleted chat: %d, want 404", st)
	}
	if name := ackError(t, ca, map[string]any{"type": "event", "event": "joinChat", "dataType": "text", "data": "general-1"}); name != "NotFound" {
		t.Errorf("join deleted chat: %q, want NotFound", name)
	}
}

func TestPrivateChat(t *testing.T) {
	n := startNode(t, server.Config{})
	alice, bob, eve := n.Guest("Alice"), n.Guest("Bob"), n.Guest("Eve")
	ca, cb, ce := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON), eve.Connect(wsclient.JSON)

	mustAck(t, ca, "createPrivateChat", map[string]string{"targetUserId": bob.ID, "initiatorUserId": eve.ID})
	var pa, pb struct {
		ID, Name  string
		GrabFocus bool
	}
	json.Unmarshal([]byte(waitEvent(t, ca, "joinPrivateChat", nil)), &pa)
	json.Unmarshal([]byte(waitEvent(t, cb, "joinPrivateChat", nil)), &pb)
	lo, hi := alice.ID, bob.ID
	if hi < lo {
		lo, hi = hi, lo
	}
	want := "private_" + lo + "_" + hi
	if pa.ID != want || pb.ID != want {
		t.Fatalf("private chat ids %q / %q, want %q", pa.ID, pb.ID, want)
	}
	if !pa.GrabFocus || pb.GrabFocus || pa.Name != "Chat with Bob" || pb.Name != "Chat with Alice" {
		t.Errorf("alice %+v, bob %+v", pa, pb)
	}
	say(t, cb, want, "psst")
	waitChat(t, ca, want, "psst")

	// Eve can neither join nor read nor write it.
	if name := ackError(t, ce, map[string]any{"type": "event", "event": "joinChat", "dataType": "text", "data": want}); name != "NotFound" {
		t.Errorf("eve joinChat private: %q, want NotFound", name)
	}
	if name := ackError(t, ce, map[string]any{"type": "joinGroup", "group": want}); name != "Forbidden" {
		t.Errorf("eve joinGroup private: %q, want Forbidden", name)
	}
	if name := ackError(t, ce, map[string]any{"type": "sendToGroup", "group": want, "dataType": "json", "data": map[string]any{"message": "hi"}}); name != "Forbidden" {
		t.Errorf("eve send private: %q, want Forbidden", name)
	}
	if st := eve.Do("GET", "/api/chats/"+want+"/messages", nil, nil); st != 404 {
		t.Errorf("eve reads private history: %d, want 404", st)
	}
	var chats struct {
		Chats        map[string]any
		PrivateChats map[string]struct{ Name string }
	}
	eve.Do("GET", "/api/chats", nil, &chats)
	if _, ok := chats.Chats[want]; ok || len(chats.PrivateChats) != 0 {
		t.Errorf("eve's /api/chats shows the private chat: %+v", chats)
	}
	bob.Do("GET", "/api/chats", nil, &chats)
	if chats.PrivateChats[want].Name != "Chat with Alice" {
		t.Errorf("bob's privateChats = %+v", chats.PrivateChats)
	}
	if name := ackError(t, ce, map[string]any{"type": "event", "event": "deleteChat", "dataType": "text", "data": want}); name != "NotFound" {
		t.Errorf("eve deletes private chat: %q, want NotFound", name)
	}
}

func TestPresenceAndIdle(t *testing.T) {
	// A grace far above a reload's time on a busy machine (the nodes of
	// tests take 50 ms, which a loaded machine can pass between a close
	// and the next connect): the test is about what the grace hides.
	n := startNode(t, server.Config{OfflineGrace: 2 * time.Second})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	cb := bob.Connect(wsclient.JSON)
	// Presence goes to those who show the user: here a DM partner.
	mustAck(t, cb, "createPrivateChat", map[string]string{"targetUserId": alice.ID})
	a1 := alice.Connect(wsclient.JSON)
	waitEvent(t, cb, "userOnline", func(d string) bool { return strings.Contains(d, alice.ID) })

	// A second tab gets its own userOnline but nobody else hears of it, and
	// closing one tab does not take Alice offline.
	a2 := alice.Connect(wsclient.Reliable)
	a1.Close()
	if _, err := cb.WaitFor(500*time.Millisecond, func(f wsclient.Frame) bool {
		name, _, _ := f.ServerEvent()
		return name == "userOffline" || name == "userOnline"
	}); err == nil {
		t.Errorf("bob saw a presence change while alice kept a tab open")
	}

	mustAck(t, a2, "userEnterIdle", "")
	if d := waitEvent(t, cb, "userIsIdle", nil); d != alice.ID {
		t.Errorf("userIsIdle data %q", d)
	}
	var users struct {
		Users map[string]struct{ Idle bool }
	}
	bob.Do("GET", "/api/users", nil, &users)
	if !users.Users[alice.ID].Idle {
		t.Errorf("/api/users: alice not idle")
	}
	mustAck(t, a2, "userExitIdle", "")
	if d := waitEvent(t, cb, "userNotIdle", nil); d != alice.ID {
		t.Errorf("userNotIdle data %q", d)
	}

	// A reload (last connection closes, a new one opens at once) does not
	// flash alice offline.
	a2.Close() // a clean close ends the reliable session at once
	a3 := alice.Connect(wsclient.JSON)
	if _, err := cb.WaitFor(400*time.Millisecond, func(f wsclient.Frame) bool {
		name, _, _ := f.ServerEvent()
		return name == "userOffline"
	}); err == nil {
		t.Errorf("a reload flashed alice offline")
	}
	a3.Close()
	if d := waitEvent(t, cb, "userOffline", nil); d != alice.ID {
		t.Errorf("userOffline data %q", d)
	}
	users.Users = nil
	bob.Do("GET", "/api/users", nil, &users)
	if _, ok := users.Users[alice.ID]; ok {
		t.Errorf("/api/users still lists alice after she left")
	}
}

func TestImpersonationAndLimits(t *testing.T) {
	n := startNode(t, server.Config{Limits: chat.Limits{MaxMessageBytes: 100, MessagesPerSecond: 1, MessageBurst: 5}})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")

	if st := alice.Do("GET", "/api/getToken?userId="+bob.ID, nil, nil); st != 403 {
		t.Errorf("token for another user: %d, want 403", st)
	}
	if st := alice.Do("GET", "/api/getToken?userId="+alice.ID, nil, nil); st != 200 {
		t.Errorf("token for own id (original client): %d, want 200", st)
	}
	ca := alice.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Room"})
	var created struct{ ID string }
	json.Unmarshal([]byte(waitEvent(t, ca, "chatCreated", nil)), &created)
	mustAck(t, ca, "joinChat", created.ID)

	send := func(text string) string {
		return ackError(t, ca, map[string]any{"type": "sendToGroup", "group": created.ID, "dataType": "json", "data": map[string]any{"message": text}})
	}
	if name := send(strings.Repeat("x", 101)); name != "BadRequest" {
		t.Errorf("oversized message: %q, want BadRequest", name)
	}
	if name := send("   "); name != "BadRequest" {
		t.Errorf("blank message: %q, want BadRequest", name)
	}
	for _, bad := range []map[string]any{
		{"type": "sendToGroup", "group": created.ID, "dataType": "text", "data": "plain"},
		{"type": "sendToGroup", "group": created.ID, "dataType": "json", "data": []int{1}},
		{"type": "event", "event": "createChat", "dataType": "json", "data": map[string]string{"name": ""}},
		{"type": "event", "event": "createChat", "dataType": "json", "data": map[string]string{"name": strings.Repeat("n", 65)}},
		{"type": "event", "event": "createChat", "dataType": "json", "data": map[string]string{"name": "x", "id": "private_a_b"}},
		{"type": "event", "event": "createChat", "dataType": "json", "data": map[string]string{"name": "x", "id": "../etc"}},
		{"type": "event", "event": "noSuchEvent", "dataType": "json", "data": map[string]string{}},
		{"type": "event", "event": "createPrivateChat", "dataType": "json", "data": map[string]string{"targetUserId": alice.ID}},
	} {
		if name := ackError(t, ca, bad); name != "BadRequest" {
			t.Errorf("%v: ack %q, want BadRequest", bad, name)
		}
	}
	if name := ackError(t, ca, map[string]any{"type": "event", "event": "createPrivateChat", "dataType": "json", "data": map[string]string{"targetUserId": "guest:nobody"}}); name != "NotFound" {
		t.Errorf("private chat with unknown user: %q, want NotFound", name)
	}
	// Flooding: the burst passes, then the rate limit answers.
	limited := 0
	for i := 0; i < 10; i++ {
		if send("flood") == "TooManyRequests" {
			limited++
		}
	}
	if limited < 4 {
		t.Errorf("%d of 10 flood messages rate-limited, want at least 4", limited)
	}

	// Malformed frames close the socket with 1007, binary frames with 1003.
	ca.SendRaw(ws.OpText, []byte(`{"type":`))
	if code, err := ca.WaitClosed(5 * time.Second); err != nil || code != 1007 {
		t.Errorf("malformed JSON: close %d (%v), want 1007", code, err)
	}
	cb := bob.Connect(wsclient.JSON)
	cb.SendRaw(ws.OpBinary, []byte{1, 2, 3})
	if code, err := cb.WaitClosed(5 * time.Second); err != nil || code != 1003 {
		t.Errorf("binary frame: close %d (%v), want 1003", code, err)
	}
}

func TestOriginChecks(t *testing.T) {
	n := startNode(t, server.Config{})
	alice := n.Guest("Alice")

	req, _ := http.NewRequest("POST", n.Base+"/.auth/login/guest", strings.NewReader(`{"name":"Eve"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("cross-origin guest sign-in: %d, want 403", resp.StatusCode)
	}

	var tok struct{ URL string }
	alice.Do("GET", "/api/getToken", nil, &tok)
	_, err = wsclient.Dial(context.Background(), tok.URL, wsclient.JSON, http.Header{"Origin": {"https://evil.example"}})
	if se, ok := err.(ws.StatusError); !ok || int(se) != 403 {
		t.Errorf("upgrade from a foreign origin: %v, want status 403", err)
	}
	c, err := wsclient.Dial(context.Background(), tok.URL, wsclient.JSON, http.Header{"Origin": {n.Base}})
	if err != nil {
		t.Fatalf("upgrade from own origin: %v", err)
	}
	c.Close()

	resp, err = http.Get(n.Base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("missing nosniff")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	n := startNode(t, server.Config{})
	alice := n.Guest("Alice")
	alice.Connect(wsclient.JSON)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(n.Base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, err := http.Get(n.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(buf)
		sb.Write(buf[:k])
		if err != nil {
			break
		}
	}
	body := sb.String()
	for _, want := range []string{"chatr_connections 1", "chatr_messages_in_total", "chatr_fanout_seconds", `chatr_storage_seconds_count{op="GetUser"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestPerIPLimits(t *testing.T) {
	n := startNode(t, server.Config{SignInsPerMinute: 3, RequestsPerSecond: 5})
	for i := 0; i < 3; i++ {
		n.Guest("G")
	}
	anon := anon(t, n.Base)
	var e struct{ Error string }
	if st := anon.Do("POST", "/.auth/login/guest", map[string]string{"name": "G"}, &e); st != 429 || e.Error != "limit" {
		t.Errorf("4th sign-in in a minute: %d %+v, want 429 limit", st, e)
	}
	limited := 0
	for i := 0; i < 40; i++ {
		if anon.Do("GET", "/.auth/me", nil, nil) == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("40 requests at once from one IP with a limit of 5/s (burst 20): none limited")
	}
	if st := anon.Do("GET", "/healthz", nil, nil); st != 200 {
		t.Errorf("/healthz is rate-limited: %d", st)
	}
}

package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// xss is the message that ran script in every member's browser when the
// original client rendered it with innerHTML.
const xss = `<img src=x onerror=alert(document.domain)>`

// connectWith opens a socket on the client's token URL with extra query
// parameters and waits for its connected frame and own userOnline.
func connectWith(t *testing.T, c *client, protocol, query string) *wsclient.Conn {
	t.Helper()
	u, _ := c.Token()
	conn, err := wsclient.Dial(context.Background(), u+query, protocol, nil)
	if err != nil {
		t.Fatalf("dial %s%s: %v", protocol, query, err)
	}
	t.Cleanup(func() { conn.Drop() })
	f, err := conn.Next(5 * time.Second)
	if err != nil || f.Type != "system" || f.Event != "connected" {
		t.Fatalf("first frame: %+v (%v)", f, err)
	}
	testnode.WaitEvent(t, conn, "userOnline", func(d string) bool { return strings.Contains(d, c.ID) })
	return conn
}

// TestOriginalClientGetsEscapedText: a connection speaking as the original
// client (plain protocol, no render=text) receives message text and user
// names HTML-escaped, so that its innerHTML rendering runs no script; a
// render=text connection and a reliable one (the SDK) receive the text as
// written.
func TestOriginalClientGetsEscapedText(t *testing.T) {
	n := start(t, server.Config{})
	orig, text, sdk := n.Guest("Orig"), n.Guest("Texty"), n.Guest("Sdk")
	co := orig.Connect(wsclient.JSON)
	ct := connectWith(t, text, wsclient.JSON, "&render=text")
	cs := sdk.Connect(wsclient.Reliable)
	mustAck(t, cs, "createChat", map[string]string{"name": "Room", "id": "room"})
	for _, c := range []*wsclient.Conn{co, ct, cs} {
		mustAck(t, c, "joinChat", "room")
	}
	if _, err := cs.Call(send("room", xss)); err != nil {
		t.Fatal(err)
	}
	got := func(c *wsclient.Conn) chatMsg {
		t.Helper()
		var m chatMsg
		if _, err := c.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
			m = chatMsg{}
			return f.Type == "message" && f.Group == "room" && json.Unmarshal(f.Data, &m) == nil &&
				m.FromUserID == sdk.ID && m.Message != ""
		}); err != nil {
			t.Fatalf("%s: chat message: %v", c.Protocol, err)
		}
		return m
	}
	if m := got(co); m.Message != "&lt;img src=x onerror=alert(document.domain)&gt;" {
		t.Errorf("original client got %q, want it HTML-escaped", m.Message)
	}
	if m := got(ct); m.Message != xss {
		t.Errorf("render=text connection got %q, want %q", m.Message, xss)
	}
	if m := got(cs); m.Message != xss {
		t.Errorf("reliable connection got %q, want %q", m.Message, xss)
	}

	// A user whose name is markup: the announcement of the join and the
	// events naming the user reach the original client without live markup.
	evil := n.Guest(`<b onmouseover=alert(1)>Eve</b>`)
	ce := evil.Connect(wsclient.Reliable)
	mustAck(t, ce, "joinChat", "room")
	ann, err := co.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
		return f.Type == "message" && f.Group == "room" && f.DataType == "text" && strings.Contains(string(f.Data), "Eve")
	})
	if err != nil {
		t.Fatalf("join announcement: %v", err)
	}
	if s := string(ann.Data); strings.Contains(s, "<") {
		t.Errorf("announcement to the original client holds markup: %s", s)
	}
	nameIn := func(c *wsclient.Conn) string {
		t.Helper()
		var who struct{ UserName string }
		ev := testnode.WaitEvent(t, c, "userOnline", func(d string) bool { return strings.Contains(d, evil.ID) })
		if err := json.Unmarshal([]byte(ev), &who); err != nil {
			t.Fatalf("userOnline data %q: %v", ev, err)
		}
		return who.UserName
	}
	if got := nameIn(co); got != "&lt;b onmouseover=alert(1)&gt;Eve&lt;/b&gt;" {
		t.Errorf("userOnline to the original client names %q, want it HTML-escaped", got)
	}
	if got := nameIn(cs); got != evil.Name {
		t.Errorf("userOnline to the reliable client names %q, want %q", got, evil.Name)
	}
	// The sender's name in a chat message as well.
	if _, err := ce.Call(send("room", "hi from eve")); err != nil {
		t.Fatal(err)
	}
	fromName := func(c *wsclient.Conn) string {
		t.Helper()
		m := waitChat(t, c, "room", "hi from eve")
		return m.FromUserName
	}
	if got := fromName(co); strings.ContainsAny(got, "<>") {
		t.Errorf("chat message to the original client from %q: live markup", got)
	}
	if got := fromName(cs); got != evil.Name {
		t.Errorf("chat message to the reliable client from %q, want %q", got, evil.Name)
	}
}

// closeWith sends a close frame (body nil: no status code, as the SDK's
// stop() sends) and then closes the socket.
func closeWith(t *testing.T, c *wsclient.Conn, body []byte) {
	t.Helper()
	if err := c.SendRaw(ws.OpClose, body); err != nil {
		t.Fatalf("close frame: %v", err)
	}
	c.WaitClosed(5 * time.Second)
	c.Drop()
}

// TestCloseFrameShowsOfflineAfterGrace: a reliable client that closes its
// socket with a close frame has left: others see it offline after the
// offline grace, long before the recovery window ends.
func TestCloseFrameShowsOfflineAfterGrace(t *testing.T) {
	cases := map[string][]byte{
		"1000":    ws.NewCloseFrameBody(ws.StatusNormalClosure, ""),
		"1001":    ws.NewCloseFrameBody(ws.StatusGoingAway, ""),
		"no code": nil,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			n := start(t, server.Config{OfflineGrace: 200 * time.Millisecond, RecoveryWindow: 10 * time.Minute})
			alice, bob := n.Guest("Alice"), n.Guest("Bob")
			ca, cb := alice.Connect(wsclient.Reliable), bob.Connect(wsclient.Reliable)
			mustAck(t, ca, "createChat", map[string]string{"name": "Pair", "id": "pair"})
			mustAck(t, ca, "joinChat", "pair")
			mustAck(t, cb, "joinChat", "pair")
			closeWith(t, ca, body)
			// The recovery window is ten minutes: an offline within a
			// minute can only come from the ended session plus the grace.
			if _, err := cb.WaitFor(time.Minute, func(f wsclient.Frame) bool {
				n, d, ok := f.ServerEvent()
				return ok && n == "userOffline" && strings.Contains(d, alice.ID)
			}); err != nil {
				t.Fatalf("alice closed with %s: no userOffline: %v", name, err)
			}
		})
	}
}

// TestLostSocketRecoversWithoutOffline: a reliable socket lost without a
// close frame keeps its session; the client recovers it, and others never
// see the user offline meanwhile.
func TestLostSocketRecoversWithoutOffline(t *testing.T) {
	n := start(t, server.Config{OfflineGrace: 200 * time.Millisecond, RecoveryWindow: 10 * time.Minute})
	alice, bob, carol := n.Guest("Alice"), n.Guest("Bob"), n.Guest("Carol")
	u, _ := alice.Token()
	ca, err := wsclient.Dial(context.Background(), u, wsclient.Reliable, nil)
	if err != nil {
		t.Fatal(err)
	}
	hello, err := ca.Next(5 * time.Second)
	if err != nil || hello.Event != "connected" || hello.ReconnToken == "" {
		t.Fatalf("connected frame: %+v %v", hello, err)
	}
	cb, cc := bob.Connect(wsclient.Reliable), carol.Connect(wsclient.Reliable)
	mustAck(t, ca, "createChat", map[string]string{"name": "Trio", "id": "trio"})
	mustAck(t, ca, "joinChat", "trio")
	mustAck(t, cb, "joinChat", "trio")
	mustAck(t, cc, "joinChat", "trio")

	ca.Drop()
	// Wait until the node has seen the socket end (it counts open sockets).
	waitMetric(t, n.Base, "chatr_connections", 2)
	// Carol leaves with a close frame after Alice's socket was lost: once
	// Bob sees Carol offline, a grace started after Alice's loss has run
	// out, so an offline for Alice would have come by then.
	closeWith(t, cc, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	var seen []string
	if _, err := cb.WaitFor(time.Minute, func(f wsclient.Frame) bool {
		n, d, ok := f.ServerEvent()
		if ok && n == "userOffline" {
			seen = append(seen, d)
		}
		return ok && n == "userOffline" && strings.Contains(d, carol.ID)
	}); err != nil {
		t.Fatalf("carol's userOffline: %v", err)
	}
	for _, d := range seen {
		if strings.Contains(d, alice.ID) {
			t.Errorf("alice flashed offline while her session was recoverable: %s", d)
		}
	}
	// Alice recovers her session and is heard in the chat.
	ru := u + "&awps_connection_id=" + hello.ConnectionID + "&awps_reconnection_token=" + hello.ReconnToken
	ra, err := wsclient.Dial(context.Background(), ru, wsclient.Reliable, nil)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	t.Cleanup(func() { ra.Drop() })
	// The recovered session remembers the ackIds it has seen: a fresh one.
	frame := send("trio", "back again")
	frame["ackId"] = 1000
	if err := ra.Send(frame); err != nil {
		t.Fatal(err)
	}
	if f, err := ra.Ack(10*time.Second, 1000); err != nil || !f.Success {
		t.Fatalf("send after recovery: %+v %v", f, err)
	}
	if _, err := cb.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
		n, d, ok := f.ServerEvent()
		if ok && n == "userOffline" && strings.Contains(d, alice.ID) {
			t.Errorf("alice flashed offline: %s", d)
		}
		return f.Type == "message" && f.Group == "trio" && strings.Contains(string(f.Data), "back again")
	}); err != nil {
		t.Fatalf("message after recovery: %v", err)
	}
}

// waitMetric waits until the node's metric has the value.
func waitMetric(t *testing.T, base, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, base, name) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want %v", name, metric(t, base, name), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

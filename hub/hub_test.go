package hub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatr/chatr/hub"
)

func TestConnectedFrameAndSubprotocol(t *testing.T) {
	e := newEnv(t, hub.Config{})
	for _, tc := range []struct {
		name    string
		offer   []string
		want    string
		user    string
		reconTk bool
	}{
		{name: "reliable", offer: []string{reliable}, want: reliable, user: "alice", reconTk: true},
		{name: "plain", offer: []string{plain}, want: plain, user: "bob"},
		{name: "first supported wins", offer: []string{"protobuf.webpubsub.azure.v1", plain, reliable}, want: plain, user: "carol"},
		{name: "anonymous", offer: []string{plain}, want: plain, user: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, status, err := dialRaw(t, e.wsURL(e.token(tc.user)), nil, tc.offer...)
			if err != nil {
				t.Fatalf("dial: %d %v", status, err)
			}
			if c.protocol != tc.want {
				t.Errorf("protocol = %q, want %q", c.protocol, tc.want)
			}
			f := c.next()
			if f.Type != "system" || f.Event != "connected" || f.ConnectionID == "" {
				t.Fatalf("first frame = %s", f.raw)
			}
			if tc.user == "" {
				if !strings.Contains(f.raw, `"userId":null`) {
					t.Errorf("anonymous connected = %s, want userId null", f.raw)
				}
			} else if f.UserID != tc.user {
				t.Errorf("userId = %v, want %s", f.UserID, tc.user)
			}
			if got := f.ReconnectionToken != ""; got != tc.reconTk {
				t.Errorf("reconnectionToken present = %v, want %v", got, tc.reconTk)
			}
		})
	}
	t.Run("no supported subprotocol", func(t *testing.T) {
		_, status, _ := dialRaw(t, e.wsURL(e.token("x")), nil, "mqtt")
		if status != http.StatusBadRequest {
			t.Errorf("status = %d, want 400", status)
		}
	})
	t.Run("wrong hub name is 404 when Hub is set", func(t *testing.T) {
		e2 := newEnv(t, hub.Config{Hub: "Chat"})
		if _, status, err := dialRaw(t, e2.wsURL(e2.token("x")), nil, plain); err != nil {
			t.Errorf("case-insensitive hub name refused: %d %v", status, err)
		}
		u := strings.Replace(e2.wsURL(e2.token("x")), "/hubs/chat", "/hubs/other", 1)
		if _, status, _ := dialRaw(t, u, nil, plain); status != http.StatusNotFound {
			t.Errorf("status = %d, want 404", status)
		}
	})
}

func TestTokenFailures(t *testing.T) {
	e := newEnv(t, hub.Config{})
	good := e.token("alice")
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding
	mint := func(c hub.Claims) string {
		tok, err := hub.MintToken(testKey, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	withHeader := func(hdr string, sig bool) string {
		h := b64.EncodeToString([]byte(hdr))
		if !sig {
			return h + "." + parts[1] + "."
		}
		return h + "." + parts[1] + "." + parts[2]
	}
	for _, tc := range []struct {
		name  string
		token string
	}{
		{name: "missing", token: ""},
		{name: "garbage", token: "not-a-jwt"},
		{name: "bad signature", token: parts[0] + "." + parts[1] + "." + b64.EncodeToString([]byte("forged-signature-forged-signature"))},
		{name: "other key", token: func() string {
			tok, _ := hub.MintToken([]byte("other key"), hub.Claims{UserID: "alice", Audience: e.hubURL()})
			return tok
		}()},
		{name: "alg none", token: withHeader(`{"alg":"none","typ":"JWT"}`, false)},
		{name: "alg none with signature", token: withHeader(`{"alg":"none","typ":"JWT"}`, true)},
		{name: "alg HS512", token: withHeader(`{"alg":"HS512","typ":"JWT"}`, true)},
		{name: "expired", token: mint(hub.Claims{UserID: "alice", Audience: e.hubURL(),
			IssuedAt: time.Now().Add(-3 * time.Hour), Expires: time.Now().Add(-2 * time.Hour)})},
		{name: "wrong audience", token: mint(hub.Claims{UserID: "alice", Audience: e.srv.URL + "/client/hubs/other"})},
		{name: "no audience", token: mint(hub.Claims{UserID: "alice"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := e.wsURL(tc.token)
			if tc.token == "" {
				u = strings.Split(u, "?")[0]
			}
			_, status, err := dialRaw(t, u, nil, plain)
			if status != http.StatusUnauthorized {
				t.Errorf("status = %d (%v), want 401", status, err)
			}
		})
	}
	t.Run("bearer header", func(t *testing.T) {
		c, status, err := dialRaw(t, strings.Split(e.wsURL(good), "?")[0], http.Header{"Authorization": {"Bearer " + good}}, plain)
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		if f := c.next(); f.Event != "connected" || f.UserID != "alice" {
			t.Errorf("first frame %s", f.raw)
		}
	})
	t.Run("audience host differs: accepted by path, refused when strict", func(t *testing.T) {
		tok := mint(hub.Claims{UserID: "alice", Audience: "https://chat.example.com/client/hubs/CHAT"})
		if _, status, err := dialRaw(t, e.wsURL(tok), nil, plain); err != nil {
			t.Errorf("lenient audience refused: %d %v", status, err)
		}
		strict := newEnv(t, hub.Config{StrictAudience: true})
		if _, status, _ := dialRaw(t, strict.wsURL(tok), nil, plain); status != http.StatusUnauthorized {
			t.Errorf("strict audience: status = %d, want 401", status)
		}
		if _, status, err := dialRaw(t, strict.wsURL(strict.token("bob")), nil, plain); err != nil {
			t.Errorf("strict audience refused a matching token: %d %v", status, err)
		}
	})
}

func TestTokenRoundTrip(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	in := hub.Claims{UserID: "github:1", Roles: []string{"webpubsub.joinLeaveGroup.g1", "webpubsub.sendToGroup"},
		Groups: []string{"g1"}, Audience: "http://h/client/hubs/chat", IssuedAt: now, Expires: now.Add(time.Hour)}
	tok, err := hub.MintToken(testKey, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := hub.ParseToken(testKey, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(in) {
		t.Errorf("got %+v, want %+v", got, in)
	}
	if _, err := hub.ParseToken(testKey, tok, now.Add(2*time.Hour)); err != hub.ErrTokenExpired {
		t.Errorf("after exp: err = %v, want ErrTokenExpired", err)
	}
	// A single role given as a string, as some issuers do.
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"u","role":"webpubsub.sendToGroup","exp":%d}`, now.Add(time.Hour).Unix())))
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	signed := signHS256(hdr + "." + payload)
	c, err := hub.ParseToken(testKey, signed, now)
	if err != nil || len(c.Roles) != 1 || c.Roles[0] != "webpubsub.sendToGroup" {
		t.Errorf("string role: %+v %v", c, err)
	}
}

func TestPingPong(t *testing.T) {
	e := newEnv(t, hub.Config{})
	for _, p := range []string{plain, reliable} {
		c := e.dial(p, "alice")
		c.send(`{"type":"ping"}`)
		if f := c.next(); f.Type != "pong" || f.SequenceID != nil {
			t.Errorf("%s: got %s, want pong without sequenceId", p, f.raw)
		}
		// WebSocket-level ping gets a pong with the same payload.
		c.nc.SetWriteDeadline(time.Now().Add(frameWait))
		ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPingFrame([]byte("hello"))))
		op, payload, err := c.readFrame(frameWait)
		if err != nil || op != ws.OpPong || string(payload) != "hello" {
			t.Errorf("%s: ws ping answered with %v %q %v", p, op, payload, err)
		}
	}
}

func TestKeepalivePings(t *testing.T) {
	e := newEnv(t, hub.Config{PingInterval: 50 * time.Millisecond})
	c := e.dial(plain, "alice")
	// A healthy client that answers WebSocket pings (as browsers do) but
	// sends no application frame stays connected over many intervals.
	pings := 0
	for pings < 6 {
		op, p, err := c.readFrame(frameWait)
		if err != nil {
			t.Fatalf("after %d pings: %v", pings, err)
		}
		switch op {
		case ws.OpPing:
			pings++
			c.nc.SetWriteDeadline(time.Now().Add(frameWait))
			ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPongFrame(p)))
		case ws.OpClose:
			t.Fatalf("healthy idle connection closed after %d pings", pings)
		}
	}
	c.send(`{"type":"ping"}`)
	for {
		f := c.next()
		if f.Type == "pong" {
			break
		}
	}
}

func TestGroupMessages(t *testing.T) {
	e := newEnv(t, hub.Config{})
	roles := []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"}
	alice := e.dial(plain, "alice", roles...)
	bob := e.dial(reliable, "bob", roles...)
	if n := alice.join("g", 1); n != "" {
		t.Fatalf("alice join: %s", n)
	}
	if n := bob.join("g", 1); n != "" {
		t.Fatalf("bob join: %s", n)
	}
	for i, tc := range []struct {
		dataType, data string
		wantData       string
	}{
		{"json", `{"message":"hi","n":[1,2]}`, `{"message":"hi","n":[1,2]}`},
		{"text", `"hello \"world\" \u00e9"`, `"hello \"world\" é"`},
		{"binary", `"` + base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}) + `"`, `"AAEC/w=="`},
	} {
		ack := uint64(10 + i)
		alice.send(fmt.Sprintf(`{"type":"sendToGroup","group":"g","ackId":%d,"dataType":%q,"data":%s}`, ack, tc.dataType, tc.data))
		// The sender (no noEcho) gets its own message, and the ack.
		var gotMsg, gotAck bool
		for !(gotMsg && gotAck) {
			f := alice.next()
			switch f.Type {
			case "ack":
				if *f.AckID != ack || !*f.Success {
					t.Fatalf("ack = %s", f.raw)
				}
				gotAck = true
			case "message":
				checkGroupMsg(t, f, "g", "alice", tc.dataType, tc.wantData)
				if f.SequenceID != nil {
					t.Errorf("plain protocol message has sequenceId: %s", f.raw)
				}
				gotMsg = true
			}
		}
		f := bob.next()
		checkGroupMsg(t, f, "g", "alice", tc.dataType, tc.wantData)
		if f.SequenceID == nil || *f.SequenceID != uint64(i+1) {
			t.Errorf("reliable sequenceId = %v, want %d (%s)", f.SequenceID, i+1, f.raw)
		}
	}
	// noEcho: the sender does not get it, the others do.
	alice.send(`{"type":"sendToGroup","group":"g","ackId":20,"noEcho":true,"dataType":"text","data":"quiet"}`)
	if n := alice.ack(20); n != "" {
		t.Fatalf("noEcho ack: %s", n)
	}
	checkGroupMsg(t, bob.next(), "g", "alice", "text", `"quiet"`)
	alice.expectNothing()
	// Without ackId there is no ack, but the message goes out.
	alice.send(`{"type":"sendToGroup","group":"g","dataType":"json","data":5}`)
	checkGroupMsg(t, alice.next(), "g", "alice", "json", `5`)
	checkGroupMsg(t, bob.next(), "g", "alice", "json", `5`)
	alice.expectNothing()
	// After leaving, bob gets nothing more.
	bob.sendJSON(map[string]any{"type": "leaveGroup", "group": "g", "ackId": 2})
	if n := bob.ack(2); n != "" {
		t.Fatalf("leave: %s", n)
	}
	alice.send(`{"type":"sendToGroup","group":"g","ackId":21,"noEcho":true,"data":1}`)
	alice.ack(21)
	bob.expectNothing()
}

func checkGroupMsg(t *testing.T, f frame, group, from, dataType, data string) {
	t.Helper()
	if f.Type != "message" || f.From != "group" || f.Group == nil || *f.Group != group {
		t.Fatalf("got %s, want a message from group %s", f.raw, group)
	}
	if f.FromUserID == nil || *f.FromUserID != from {
		t.Errorf("fromUserId in %s, want %s", f.raw, from)
	}
	if f.DataType == nil || *f.DataType != dataType {
		t.Errorf("dataType in %s, want %s", f.raw, dataType)
	}
	if string(f.Data) != data {
		t.Errorf("data = %s, want %s", f.Data, data)
	}
}

func TestPermissions(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(a *testApp) {
		a.join = func(c *hub.ConnInfo, g string) error {
			if g == "closed" {
				return &hub.AckError{Name: "Forbidden", Message: "not a member"}
			}
			if g == "missing" {
				return &hub.AckError{Name: "NotFound", Message: "no such chat"}
			}
			if g == "broken" {
				return fmt.Errorf("database on fire")
			}
			if g == "panic" {
				panic("boom")
			}
			return nil
		}
		a.publish = func(c *hub.ConnInfo, m *hub.GroupMessage) error {
			if m.Group == "readonly" {
				return &hub.AckError{Name: "Forbidden", Message: "read only"}
			}
			return nil
		}
	})
	none := e.dial(plain, "nobody")
	scoped := e.dial(plain, "scoped", "webpubsub.joinLeaveGroup.g1", "webpubsub.sendToGroup.g1")
	all := e.dial(plain, "all", "webpubsub.joinLeaveGroup", "webpubsub.sendToGroup")
	for _, tc := range []struct {
		name string
		c    *client
		msg  string
		want string
	}{
		{"no role join", none, `{"type":"joinGroup","group":"g1","ackId":1}`, "Forbidden"},
		{"no role leave", none, `{"type":"leaveGroup","group":"g1","ackId":2}`, "Forbidden"},
		{"no role send", none, `{"type":"sendToGroup","group":"g1","ackId":3,"data":1}`, "Forbidden"},
		{"no role event is allowed", none, `{"type":"event","event":"e","ackId":4,"data":1}`, ""},
		{"scoped join own group", scoped, `{"type":"joinGroup","group":"g1","ackId":1}`, ""},
		{"scoped join other group", scoped, `{"type":"joinGroup","group":"g2","ackId":2}`, "Forbidden"},
		{"scoped join prefix group", scoped, `{"type":"joinGroup","group":"g10","ackId":3}`, "Forbidden"},
		{"scoped send own group", scoped, `{"type":"sendToGroup","group":"g1","ackId":4,"noEcho":true,"data":1}`, ""},
		{"scoped send other group", scoped, `{"type":"sendToGroup","group":"g2","ackId":5,"data":1}`, "Forbidden"},
		{"app denies join", all, `{"type":"joinGroup","group":"closed","ackId":1}`, "Forbidden"},
		{"app NotFound", all, `{"type":"joinGroup","group":"missing","ackId":2}`, "NotFound"},
		{"app error is internal", all, `{"type":"joinGroup","group":"broken","ackId":3}`, "InternalServerError"},
		{"app panic is internal", all, `{"type":"joinGroup","group":"panic","ackId":4}`, "InternalServerError"},
		{"app denies publish", all, `{"type":"sendToGroup","group":"readonly","ackId":5,"data":1}`, "Forbidden"},
		{"empty group", all, `{"type":"joinGroup","group":"","ackId":6}`, "BadRequest"},
		{"long group", all, `{"type":"joinGroup","group":"` + strings.Repeat("x", 1025) + `","ackId":7}`, "BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.send(tc.msg)
			var id struct{ AckID uint64 }
			json.Unmarshal([]byte(tc.msg), &id)
			if got := tc.c.ack(id.AckID); got != tc.want {
				t.Errorf("ack error = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("internal error hides its text", func(t *testing.T) {
		all.send(`{"type":"joinGroup","group":"broken","ackId":50}`)
		f := all.next()
		if f.Error == nil || f.Error.Message != "internal error" || strings.Contains(f.raw, "fire") {
			t.Errorf("ack = %s", f.raw)
		}
	})
	t.Run("forbidden without ackId is dropped", func(t *testing.T) {
		none.send(`{"type":"joinGroup","group":"g1"}`)
		none.expectNothing()
	})
}

func TestDuplicateAckID(t *testing.T) {
	var calls atomic.Int64
	e := newEnv(t, hub.Config{}, func(a *testApp) {
		a.event = func(c *hub.ConnInfo, ev *hub.Event) (*hub.Payload, error) {
			calls.Add(1)
			return nil, nil
		}
	})
	c := e.dial(plain, "alice", "webpubsub.joinLeaveGroup")
	c.send(`{"type":"event","event":"x","ackId":7,"data":1}`)
	if n := c.ack(7); n != "" {
		t.Fatal(n)
	}
	c.send(`{"type":"event","event":"x","ackId":7,"data":1}`)
	if n := c.ack(7); n != "Duplicate" {
		t.Errorf("repeated ackId: %q, want Duplicate", n)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("event ran %d times, want 1", n)
	}
	// A repeated ackId is Duplicate whatever the frame, and a failed one too.
	c.send(`{"type":"joinGroup","group":"g","ackId":7}`)
	if n := c.ack(7); n != "Duplicate" {
		t.Errorf("repeated ackId on join: %q", n)
	}
	// Another connection has its own ackIds.
	d := e.dial(plain, "alice")
	d.send(`{"type":"event","event":"x","ackId":7,"data":1}`)
	if n := d.ack(7); n != "" {
		t.Errorf("other connection: %q", n)
	}
	// A failed frame is not remembered: its retry with the same ackId runs
	// again (the SDK takes Duplicate for success and would lose it).
	d.send(`{"type":"joinGroup","group":"g","ackId":8}`)
	if n := d.ack(8); n != "Forbidden" {
		t.Fatalf("join without role: %q, want Forbidden", n)
	}
	d.send(`{"type":"event","event":"x","ackId":8,"data":1}`)
	if n := d.ack(8); n != "" {
		t.Errorf("retry of a failed ackId: %q, want success", n)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("event ran %d times, want 3", n)
	}
}

func TestEvents(t *testing.T) {
	var mu sync.Mutex
	var got []hub.Event
	e := newEnv(t, hub.Config{}, func(a *testApp) {
		a.event = func(c *hub.ConnInfo, ev *hub.Event) (*hub.Payload, error) {
			mu.Lock()
			got = append(got, *ev)
			mu.Unlock()
			switch ev.Name {
			case "echo":
				return &hub.Payload{DataType: ev.DataType, Data: ev.Data}, nil
			case "fail":
				return nil, &hub.AckError{Name: "InvocationFailed", Message: "nope"}
			}
			return nil, nil
		}
	})
	for _, p := range []string{plain, reliable} {
		c := e.dial(p, "alice")
		c.send(`{"type":"event","event":"echo","ackId":1,"dataType":"json","data":{"a":1}}`)
		f := c.next()
		if f.Type != "message" || f.From != "server" || f.Group != nil || *f.DataType != "json" || string(f.Data) != `{"a":1}` {
			t.Errorf("%s: reply = %s", p, f.raw)
		}
		if (p == reliable) != (f.SequenceID != nil) {
			t.Errorf("%s: sequenceId in %s", p, f.raw)
		}
		if n := c.ack(1); n != "" {
			t.Errorf("%s: ack %s", p, n)
		}
		c.send(`{"type":"event","event":"echo","ackId":2,"dataType":"binary","data":"AAH/"}`)
		if f := c.next(); *f.DataType != "binary" || string(f.Data) != `"AAH/"` {
			t.Errorf("%s: binary reply = %s", p, f.raw)
		}
		c.ack(2)
		c.send(`{"type":"event","event":"echo","ackId":3,"dataType":"text","data":"t"}`)
		if f := c.next(); *f.DataType != "text" || string(f.Data) != `"t"` {
			t.Errorf("%s: text reply = %s", p, f.raw)
		}
		c.ack(3)
		c.send(`{"type":"event","event":"fail","ackId":4}`)
		if n := c.ack(4); n != "InvocationFailed" {
			t.Errorf("%s: failed event ack %q", p, n)
		}
		c.send(`{"type":"event","event":"quiet","data":"x","dataType":"text"}`)
		c.expectNothing()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 10 || string(got[1].Data) != "\x00\x01\xff" || got[2].DataType != "text" || string(got[2].Data) != "t" {
		t.Errorf("events seen: %+v", got)
	}
}

func TestMalformedInputCloses(t *testing.T) {
	e := newEnv(t, hub.Config{MaxFrameBytes: 4096})
	for _, tc := range []struct {
		name string
		send func(c *client)
		code int
	}{
		{"invalid JSON", func(c *client) { c.send(`{"type":`) }, 1007},
		{"not an object", func(c *client) { c.send(`[1,2]`) }, 1007},
		{"unknown type", func(c *client) { c.send(`{"type":"shout"}`) }, 1007},
		{"missing type", func(c *client) { c.send(`{"group":"g"}`) }, 1007},
		{"join without group", func(c *client) { c.send(`{"type":"joinGroup","ackId":1}`) }, 1007},
		{"send without group", func(c *client) { c.send(`{"type":"sendToGroup","data":1}`) }, 1007},
		{"event without name", func(c *client) { c.send(`{"type":"event","data":1}`) }, 1007},
		{"sequenceAck without id", func(c *client) { c.send(`{"type":"sequenceAck"}`) }, 1007},
		{"text data not a string", func(c *client) { c.send(`{"type":"event","event":"e","dataType":"text","data":5}`) }, 1007},
		{"binary data not base64", func(c *client) { c.send(`{"type":"event","event":"e","dataType":"binary","data":"!!"}`) }, 1007},
		{"unknown dataType", func(c *client) { c.send(`{"type":"event","event":"e","dataType":"xml","data":"<a/>"}`) }, 1007},
		{"negative ackId", func(c *client) { c.send(`{"type":"event","event":"e","ackId":-1}`) }, 1007},
		{"invalid UTF-8", func(c *client) { c.send("{\"type\":\"ping\",\"x\":\"\xff\"}") }, 1007},
		{"binary frame", func(c *client) { wsutil.WriteClientBinary(c.nc, []byte(`{"type":"ping"}`)) }, 1003},
		{"too big", func(c *client) { c.send(`{"type":"ping","pad":"` + strings.Repeat("x", 5000) + `"}`) }, 1009},
		{"too big in fragments", func(c *client) {
			part := []byte(strings.Repeat("x", 3000))
			ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(ws.OpText, false, part)))
			ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, part)))
		}, 1009},
		{"unmasked frame", func(c *client) { ws.WriteFrame(c.nc, ws.NewTextFrame([]byte(`{"type":"ping"}`))) }, 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(reliable, "alice")
			tc.send(c)
			code, _ := c.expectClose()
			if code != tc.code {
				t.Errorf("close code = %d, want %d", code, tc.code)
			}
			// The session ends: no recovery for a protocol violation.
			e.app.waitDisconnected(t, c.connID)
		})
	}
	t.Run("fragmented message is assembled", func(t *testing.T) {
		c := e.dial(plain, "alice")
		ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte(`{"type":`))))
		ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPingFrame(nil))) // control frames may interleave
		ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte(`"ping"}`))))
		if f := c.next(); f.Type != "pong" {
			t.Errorf("got %s, want pong", f.raw)
		}
	})
}

func TestReliableRecovery(t *testing.T) {
	e := newEnv(t, hub.Config{RecoveryWindow: 10 * time.Second})
	roles := []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"}
	c := e.dial(reliable, "alice", roles...)
	if n := c.join("g", 1); n != "" {
		t.Fatal(n)
	}
	ctx := context.Background()
	send := func(i int) {
		if err := e.hub.SendToGroup(ctx, "g", hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte(fmt.Sprint("m", i))}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		send(i)
		if f := c.next(); *f.SequenceID != uint64(i) || string(f.Data) != fmt.Sprintf(`"m%d"`, i) {
			t.Fatalf("message %d = %s", i, f.raw)
		}
	}
	c.sendJSON(map[string]any{"type": "sequenceAck", "sequenceId": 2})
	c.expectNothing()
	c.closeTCP() // an unclean drop
	// Messages sent while the socket is gone are kept for the session.
	waitFor(t, func() bool { return e.hub.Stats().Connections == 0 })
	send(4)
	send(5)
	if r := e.app.disconnects(c.connID); len(r) != 0 {
		t.Fatalf("Disconnected called on a recoverable drop: %v", r)
	}
	// Recover with an expired access token on the URL: the recovery
	// parameters are checked first.
	expired, _ := hub.MintToken(testKey, hub.Claims{UserID: "alice", Audience: e.hubURL(),
		IssuedAt: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour)})
	u := e.wsURL(expired) + "&awps_connection_id=" + url.QueryEscape(c.connID) + "&awps_reconnection_token=" + url.QueryEscape(c.token)
	r, status, err := dialRaw(t, u, nil, reliable)
	if err != nil {
		t.Fatalf("recovery dial: %d %v", status, err)
	}
	for i := 3; i <= 5; i++ { // 3 was never acked; 4 and 5 were sent while dropped
		f := r.next()
		if f.Type != "message" || *f.SequenceID != uint64(i) || string(f.Data) != fmt.Sprintf(`"m%d"`, i) {
			t.Fatalf("replay %d = %s", i, f.raw)
		}
	}
	send(6)
	if f := r.next(); *f.SequenceID != 6 {
		t.Fatalf("after replay: %s", f.raw)
	}
	// The session kept its identity, groups and ackIds.
	r.send(`{"type":"joinGroup","group":"g","ackId":1}`)
	if n := r.ack(1); n != "Duplicate" {
		t.Errorf("ackId after recovery: %q, want Duplicate", n)
	}
	if got := e.hub.Stats().Sessions; got != 1 {
		t.Errorf("sessions = %d, want 1", got)
	}
	// Recovering again after acking everything replays nothing.
	r.sendJSON(map[string]any{"type": "sequenceAck", "sequenceId": 6})
	r.expectNothing()
	r.closeTCP()
	r2, _, err := dialRaw(t, u, nil, reliable)
	if err != nil {
		t.Fatal(err)
	}
	r2.expectNothing()
	// A clean close (1000) ends the session at once.
	r2.closeWS(ws.StatusNormalClosure)
	if reasons := e.app.waitDisconnected(t, c.connID); len(reasons) != 1 {
		t.Errorf("Disconnected reasons = %v, want exactly one", reasons)
	}
	r3, _, err := dialRaw(t, u, nil, reliable)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := r3.expectClose(); code != 1008 {
		t.Errorf("recovery of a closed session: close %d, want 1008", code)
	}
}

func TestRecoveryTakesOverLiveSocket(t *testing.T) {
	// The server may not have noticed that the old socket died.
	e := newEnv(t, hub.Config{})
	c := e.dial(reliable, "alice")
	u := e.wsURL(e.token("alice")) + "&awps_connection_id=" + url.QueryEscape(c.connID) + "&awps_reconnection_token=" + url.QueryEscape(c.token)
	r, _, err := dialRaw(t, u, nil, reliable)
	if err != nil {
		t.Fatal(err)
	}
	e.hub.SendToConnection(context.Background(), c.connID, hub.Message{Payload: hub.Payload{Data: []byte(`1`)}})
	if f := r.next(); f.Type != "message" || *f.SequenceID != 1 {
		t.Errorf("got %s", f.raw)
	}
	if _, _, err := c.readFrame(frameWait); err == nil {
		t.Errorf("old socket still open")
	}
}

func TestRefusedRecovery(t *testing.T) {
	e := newEnv(t, hub.Config{RecoveryWindow: 100 * time.Millisecond})
	c := e.dial(reliable, "alice")
	d := e.dial(plain, "bob")
	recURL := func(id, tok string) string {
		return e.wsURL(e.token("alice")) + "&awps_connection_id=" + url.QueryEscape(id) + "&awps_reconnection_token=" + url.QueryEscape(tok)
	}
	for _, tc := range []struct{ name, url string }{
		{"forged token", recURL(c.connID, "forged")},
		{"token of another connection", recURL(c.connID, d.token)},
		{"unknown connection", recURL("nope", c.token)},
		{"non-reliable connection", recURL(d.connID, c.token)},
		{"missing connection id", e.wsURL(e.token("alice")) + "&awps_reconnection_token=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, status, err := dialRaw(t, tc.url, nil, reliable)
			if err != nil {
				t.Fatalf("refused recovery must still upgrade: %d %v", status, err)
			}
			code, frames := r.expectClose()
			if code != 1008 {
				t.Errorf("close = %d, want 1008", code)
			}
			for _, f := range frames {
				if f.Event == "connected" {
					t.Errorf("refused recovery became a fresh connection: %s", f.raw)
				}
			}
		})
	}
	// The real session was not disturbed by the attempts above.
	c.send(`{"type":"ping"}`)
	if f := c.next(); f.Type != "pong" {
		t.Fatalf("got %s", f.raw)
	}
	// After the recovery window the session is gone: Disconnected, then 1008.
	c.closeTCP()
	reasons := e.app.waitDisconnected(t, c.connID)
	if len(reasons) != 1 {
		t.Errorf("Disconnected reasons = %v", reasons)
	}
	r, _, err := dialRaw(t, recURL(c.connID, c.token), nil, reliable)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := r.expectClose(); code != 1008 {
		t.Errorf("expired session: close %d, want 1008", code)
	}
}

func TestUnackedOverflow(t *testing.T) {
	e := newEnv(t, hub.Config{UnackedMessages: 5})
	c := e.dial(reliable, "alice")
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		e.hub.SendToConnection(ctx, c.connID, hub.Message{Payload: hub.Payload{Data: []byte(`{}`)}})
	}
	code, frames := c.expectClose()
	if code != 1008 {
		t.Errorf("close = %d, want 1008", code)
	}
	if len(frames) == 0 || frames[len(frames)-1].Event != "disconnected" {
		t.Errorf("frames before close: %v, want a disconnected system frame last", frames)
	}
	e.app.waitDisconnected(t, c.connID)

	// Acking keeps a session under the limit.
	c2 := e.dial(reliable, "alice")
	for i := 1; i <= 20; i++ {
		e.hub.SendToConnection(ctx, c2.connID, hub.Message{Payload: hub.Payload{Data: []byte(`{}`)}})
		f := c2.next()
		c2.sendJSON(map[string]any{"type": "sequenceAck", "sequenceId": *f.SequenceID})
		c2.expectNothing() // the ack is processed before the next message
	}
	c2.expectNothing()

	// The byte limit counts too.
	e3 := newEnv(t, hub.Config{UnackedBytes: 10000})
	c3 := e3.dial(reliable, "alice")
	big := hub.Payload{DataType: "text", Data: []byte(strings.Repeat("x", 4000))}
	for i := 0; i < 3; i++ {
		e3.hub.SendToConnection(ctx, c3.connID, hub.Message{Payload: big})
	}
	if code, _ := c3.expectClose(); code != 1008 {
		t.Errorf("byte overflow: close = %d, want 1008", code)
	}
}

func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, hub.Config{QueueFrames: 8, WriteWait: 2 * time.Second})
	slow := e.dial(plain, "slow", "webpubsub.joinLeaveGroup")
	fast := e.dial(plain, "fast", "webpubsub.joinLeaveGroup")
	slow.join("g", 1)
	fast.join("g", 1)
	// fast reads every message before the next is sent; slow reads nothing
	// until the hub has cut it off.
	big := hub.Payload{DataType: "text", Data: []byte(strings.Repeat("x", 64<<10))}
	ctx := context.Background()
	sent := 0
	for e.hub.Stats().SlowConsumers == 0 {
		if sent++; sent > 5000 {
			t.Fatalf("slow consumer not cut off after %d messages", sent)
		}
		if err := e.hub.SendToGroup(ctx, "g", hub.Message{Payload: big}); err != nil {
			t.Fatal(err)
		}
		if f := fast.next(); f.Type != "message" || len(f.Data) != len(big.Data)+2 {
			t.Fatalf("fast consumer got %.80s", f.raw)
		}
	}
	// The others are not affected.
	e.hub.SendToGroup(ctx, "g", hub.Message{Payload: hub.Payload{Data: []byte(`"after"`)}})
	if f := fast.next(); string(f.Data) != `"after"` {
		t.Errorf("fast consumer after the cut: %.80s", f.raw)
	}
	code, _ := slow.expectClose()
	if code != 1008 {
		t.Errorf("slow consumer close = %d, want 1008", code)
	}
	if r := e.app.waitDisconnected(t, slow.connID); r[0] != "slow consumer" {
		t.Errorf("reason = %v", r)
	}
}

func TestSlowReliableConsumerRecovers(t *testing.T) {
	// A reliable consumer that cannot keep up loses its socket, not its
	// messages: they wait in the unacked buffer for its recovery.
	e := newEnv(t, hub.Config{QueueFrames: 4, UnackedMessages: 1000, WriteWait: 2 * time.Second})
	c := e.dial(reliable, "slow")
	big := hub.Payload{DataType: "text", Data: []byte(strings.Repeat("x", 64<<10))}
	const n = 200
	for i := 0; i < n; i++ {
		e.hub.SendToConnection(context.Background(), c.connID, hub.Message{Payload: big})
	}
	if e.hub.Stats().SlowConsumers == 0 {
		t.Fatalf("not cut off")
	}
	c.closeTCP()
	u := e.wsURL(e.token("slow")) + "&awps_connection_id=" + url.QueryEscape(c.connID) + "&awps_reconnection_token=" + url.QueryEscape(c.token)
	r, _, err := dialRaw(t, u, nil, reliable)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		f := r.next()
		if *f.SequenceID != uint64(i) {
			t.Fatalf("replayed %d, want %d", *f.SequenceID, i)
		}
		if i%50 == 0 {
			r.sendJSON(map[string]any{"type": "sequenceAck", "sequenceId": i})
		}
	}
}

func TestServerSideCalls(t *testing.T) {
	e := newEnv(t, hub.Config{})
	ctx := context.Background()
	a1 := e.dial(plain, "alice")
	a2 := e.dial(reliable, "alice")
	b := e.dial(plain, "bob")
	anon := e.dial(plain, "")
	msg := func(s string) hub.Message {
		return hub.Message{Payload: hub.Payload{DataType: "json", Data: []byte(s)}}
	}
	expectServer := func(c *client, data string) {
		t.Helper()
		f := c.next()
		if f.Type != "message" || f.From != "server" || f.Group != nil || *f.DataType != "json" || string(f.Data) != data {
			t.Fatalf("got %s, want server message %s", f.raw, data)
		}
	}
	if err := e.hub.SendToAll(ctx, msg(`"all"`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a1, a2, b, anon} {
		expectServer(c, `"all"`)
	}
	e.hub.SendToUser(ctx, "alice", msg(`"alice"`))
	expectServer(a1, `"alice"`)
	expectServer(a2, `"alice"`)
	b.expectNothing()
	e.hub.SendToConnection(ctx, b.connID, msg(`"bob"`))
	expectServer(b, `"bob"`)
	a1.expectNothing()

	if err := e.hub.SendToAll(ctx, msg(`{bad json`)); err == nil {
		t.Errorf("invalid JSON payload accepted")
	}

	e.hub.AddUserToGroup(ctx, "alice", "g")
	e.hub.AddConnectionToGroup(ctx, b.connID, "g")
	e.hub.SendToGroup(ctx, "g", hub.Message{FromUserID: "system", Payload: hub.Payload{DataType: "text", Data: []byte("hello")}})
	for _, c := range []*client{a1, a2, b} {
		checkGroupMsg(t, c.next(), "g", "system", "text", `"hello"`)
	}
	anon.expectNothing()
	// An announcement has no fromUserId; AsServer hides the group.
	e.hub.SendToGroup(ctx, "g", hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte("note")}})
	if f := b.next(); f.FromUserID != nil || *f.Group != "g" {
		t.Errorf("announcement = %s", f.raw)
	}
	e.hub.SendToGroup(ctx, "g", hub.Message{AsServer: true, Payload: hub.Payload{Data: []byte(`"typing"`)}})
	expectServer(b, `"typing"`)
	e.hub.SendToGroup(ctx, "g", hub.Message{ExcludeConn: b.connID, Payload: hub.Payload{Data: []byte(`1`)}})
	a1.next()
	a2.next()
	b.expectNothing()
	a1.next()
	a1.next()
	a2.next()
	a2.next()

	e.hub.RemoveConnectionFromGroup(ctx, a1.connID, "g")
	e.hub.SendToGroup(ctx, "g", hub.Message{Payload: hub.Payload{Data: []byte(`2`)}})
	a2.next()
	b.next()
	a1.expectNothing()
	e.hub.RemoveUserFromGroup(ctx, "alice", "g")
	e.hub.SendToGroup(ctx, "g", hub.Message{Payload: hub.Payload{Data: []byte(`3`)}})
	b.next()
	a2.expectNothing()
	e.hub.RemoveGroup(ctx, "g")
	e.hub.SendToGroup(ctx, "g", hub.Message{Payload: hub.Payload{Data: []byte(`4`)}})
	b.expectNothing()

	e.hub.CloseConnection(ctx, b.connID, "bye bob")
	code, frames := b.expectClose()
	if code != 1008 || len(frames) == 0 || frames[len(frames)-1].Event != "disconnected" || frames[len(frames)-1].Message != "bye bob" {
		t.Errorf("kick: close %d after %v", code, frames)
	}
	e.hub.CloseUserConnections(ctx, "alice", "bye alice")
	for _, c := range []*client{a1, a2} {
		if code, _ := c.expectClose(); code != 1008 {
			t.Errorf("kick user: close %d", code)
		}
		if r := e.app.waitDisconnected(t, c.connID); len(r) != 1 || !strings.Contains(r[0], "bye alice") {
			t.Errorf("Disconnected reasons %v", r)
		}
	}
	// A kicked reliable session cannot be recovered.
	u := e.wsURL(e.token("alice")) + "&awps_connection_id=" + url.QueryEscape(a2.connID) + "&awps_reconnection_token=" + url.QueryEscape(a2.token)
	r, _, err := dialRaw(t, u, nil, reliable)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := r.expectClose(); code != 1008 {
		t.Errorf("recovering a kicked session: close %d", code)
	}
}

func TestConnectHook(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(a *testApp) {
		a.connect = func(r *hub.ConnectRequest) error {
			switch r.Conn.UserID {
			case "banned":
				return &hub.AckError{Name: "Forbidden", Message: "banned"}
			case "stale":
				return &hub.AckError{Name: "Unauthorized", Message: "session ended"}
			case "broken":
				return fmt.Errorf("db down")
			case "amend":
				r.Conn.Roles = append(r.Conn.Roles, "webpubsub.sendToGroup")
				r.Groups = append(r.Groups, "lobby")
			}
			return nil
		}
	})
	for user, want := range map[string]int{"banned": 403, "stale": 401, "broken": 500} {
		_, status, _ := dialRaw(t, e.wsURL(e.token(user)), nil, plain)
		if status != want {
			t.Errorf("%s: status %d, want %d", user, status, want)
		}
	}
	c := e.dial(plain, "amend")
	c.send(`{"type":"sendToGroup","group":"lobby","ackId":1,"data":"x","dataType":"text"}`)
	checkGroupMsg(t, c.next(), "lobby", "amend", "text", `"x"`)
	if n := c.ack(1); n != "" {
		t.Errorf("amended role: %s", n)
	}
	// Groups from the token are joined at connect.
	tok, _ := hub.MintToken(testKey, hub.Claims{UserID: "g", Groups: []string{"g1"}, Audience: e.hubURL()})
	d, _, err := dialRaw(t, e.wsURL(tok), nil, plain)
	if err != nil {
		t.Fatal(err)
	}
	d.next()
	e.hub.SendToGroup(context.Background(), "g1", hub.Message{Payload: hub.Payload{Data: []byte(`1`)}})
	if f := d.next(); *f.Group != "g1" {
		t.Errorf("got %s", f.raw)
	}
}

func TestClusterFanout(t *testing.T) {
	b := hub.NewLocalBroker()
	n1 := newEnv(t, hub.Config{Broker: b, NodeID: "n1"})
	n2 := newEnv(t, hub.Config{Broker: b, NodeID: "n2"})
	roles := []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"}
	c1 := n1.dial(plain, "alice", roles...)
	c2 := n2.dial(reliable, "bob", roles...)
	c1.join("g", 1)
	c2.join("g", 1)
	c1.send(`{"type":"sendToGroup","group":"g","ackId":2,"noEcho":true,"data":"x","dataType":"text"}`)
	c1.ack(2)
	checkGroupMsg(t, c2.next(), "g", "alice", "text", `"x"`)
	n1.hub.SendToUser(context.Background(), "bob", hub.Message{Payload: hub.Payload{Data: []byte(`1`)}})
	if f := c2.next(); f.From != "server" {
		t.Errorf("got %s", f.raw)
	}
	n1.hub.CloseUserConnections(context.Background(), "bob", "x")
	if code, _ := c2.expectClose(); code != 1008 {
		t.Errorf("close %d", code)
	}
}

func TestCloseHub(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.dial(plain, "a")
	r := e.dial(reliable, "r")
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	closed := make(chan error)
	go func() { closed <- e.hub.Close(ctx) }()
	for _, c := range []*client{a, r} {
		if code, _ := c.expectClose(); code != 1001 {
			t.Errorf("close %d, want 1001", code)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, r} {
		if got := e.app.disconnects(c.connID); len(got) != 1 {
			t.Errorf("Disconnected before Close returned: %v, want one call", got)
		}
	}
	if s := e.hub.Stats(); s.Sessions != 0 || s.Connections != 0 {
		t.Errorf("stats after close: %+v", s)
	}
	if _, status, _ := dialRaw(t, e.wsURL(e.token("x")), nil, plain); status != http.StatusServiceUnavailable {
		t.Errorf("dial after close: %d", status)
	}
}

func TestDisconnectedOncePlain(t *testing.T) {
	e := newEnv(t, hub.Config{})
	c := e.dial(plain, "a")
	c.closeTCP()
	if r := e.app.waitDisconnected(t, c.connID); len(r) != 1 {
		t.Errorf("reasons %v", r)
	}
	c2 := e.dial(plain, "a")
	c2.closeWS(ws.StatusGoingAway)
	if code, _ := c2.expectClose(); code != 1001 {
		t.Errorf("close echo %d, want 1001", code)
	}
	e.app.waitDisconnected(t, c2.connID)
	if got := e.hub.Stats(); got.Sessions != 0 || got.ConnectsTotal != 2 {
		t.Errorf("stats %+v", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(frameWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTLS(t *testing.T) {
	h, err := hub.New(hub.Config{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	defer h.Close(context.Background())
	tok, _ := hub.MintToken(testKey, hub.Claims{UserID: "alice", Roles: []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"}, Audience: srv.URL + "/client/hubs/chat"})
	d := ws.Dialer{Protocols: []string{reliable}, TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig, Timeout: frameWait}
	nc, br, _, err := d.Dial(context.Background(), "wss"+strings.TrimPrefix(srv.URL, "https")+"/client/hubs/chat?access_token="+tok)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, r: nc}
	if br != nil {
		c.r = io.MultiReader(br, nc)
	}
	if f := c.next(); f.Event != "connected" {
		t.Fatalf("got %s", f.raw)
	}
	c.join("g", 1)
	// Several frames queued at once go out in one gathered write.
	for i := 0; i < 20; i++ {
		h.SendToGroup(context.Background(), "g", hub.Message{Payload: hub.Payload{Data: []byte(fmt.Sprint(i))}})
	}
	for i := 0; i < 20; i++ {
		if f := c.next(); string(f.Data) != fmt.Sprint(i) || *f.SequenceID != uint64(i+1) {
			t.Fatalf("message %d = %s", i, f.raw)
		}
	}
}

func TestAckRecordIsBounded(t *testing.T) {
	e := newEnv(t, hub.Config{})
	c := e.dial(plain, "alice")
	for id := 1; id <= 200; id++ {
		c.sendJSON(map[string]any{"type": "event", "event": "e", "ackId": id})
		if n := c.ack(uint64(id)); n != "" {
			t.Fatalf("ack %d: %s", id, n)
		}
	}
	c.send(`{"type":"event","event":"e","ackId":200}`)
	if n := c.ack(200); n != "Duplicate" {
		t.Errorf("recent ackId: %q, want Duplicate", n)
	}
	// The record keeps the last 128 ids: the oldest are forgotten.
	c.send(`{"type":"event","event":"e","ackId":1}`)
	if n := c.ack(1); n != "" {
		t.Errorf("long-forgotten ackId: %q, want success", n)
	}
}

func TestQueries(t *testing.T) {
	e := newEnv(t, hub.Config{})
	a := e.dial(reliable, "alice", "webpubsub.joinLeaveGroup")
	a.join("g", 1)
	a.join("h", 2)
	if !e.hub.ConnectionExists(a.connID) || !e.hub.UserExists("alice") || !e.hub.GroupExists("g") {
		t.Errorf("exists: conn %v user %v group %v", e.hub.ConnectionExists(a.connID), e.hub.UserExists("alice"), e.hub.GroupExists("g"))
	}
	if e.hub.UserExists("bob") || e.hub.GroupExists("x") || e.hub.ConnectionExists("nope") {
		t.Errorf("absent things exist")
	}
	if got := len(e.hub.UserGroups("alice")); got != 2 {
		t.Errorf("UserGroups: %d, want 2", got)
	}
	if got := e.hub.ConnectionGroups(a.connID); len(got) != 2 {
		t.Errorf("ConnectionGroups: %v", got)
	}
	if got := e.hub.ConnectionIDs("g"); len(got) != 1 || got[0] != a.connID {
		t.Errorf("ConnectionIDs(g) = %v", got)
	}
	if got := e.hub.UserConnectionIDs("alice"); len(got) != 1 || got[0] != a.connID {
		t.Errorf("UserConnectionIDs = %v", got)
	}
	// A dropped reliable session still exists until its recovery window ends.
	a.closeTCP()
	waitFor(t, func() bool { return e.hub.Stats().Connections == 0 })
	if !e.hub.ConnectionExists(a.connID) || !e.hub.GroupExists("g") {
		t.Errorf("dropped session vanished before its recovery window")
	}
}

func TestLocalBrokerClose(t *testing.T) {
	b := hub.NewLocalBroker()
	got := 0
	if err := b.Subscribe(context.Background(), func(*hub.Command) { got++ }); err != nil {
		t.Fatal(err)
	}
	b.Publish(context.Background(), &hub.Command{Kind: hub.CmdSendToAll})
	b.Close()
	if err := b.Publish(context.Background(), &hub.Command{Kind: hub.CmdSendToAll}); err == nil {
		t.Errorf("publish after close succeeded")
	}
	if got != 1 {
		t.Errorf("delivered %d, want 1", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b2 := hub.NewLocalBroker()
	n := 0
	b2.Subscribe(ctx, func(*hub.Command) { n++ })
	cancel()
	// Once ctx is done, the subscriber gets nothing more.
	waitFor(t, func() bool {
		before := n
		b2.Publish(context.Background(), &hub.Command{Kind: hub.CmdSendToAll})
		return n == before
	})
}

func TestPublishRewritesAndObserveFanout(t *testing.T) {
	observed := make(chan time.Duration, 10)
	e := newEnv(t, hub.Config{ObserveFanout: func(d time.Duration) { observed <- d }}, func(a *testApp) {
		a.publish = func(c *hub.ConnInfo, m *hub.GroupMessage) error {
			var in map[string]any
			if err := json.Unmarshal(m.Data, &in); err != nil {
				return &hub.AckError{Name: "BadRequest", Message: "json only"}
			}
			in["fromUserId"] = c.UserID // stamp the sender: a client cannot speak for someone else
			m.Data, _ = json.Marshal(in)
			return nil
		}
	})
	roles := []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"}
	a := e.dial(plain, "alice", roles...)
	b := e.dial(reliable, "bob", roles...)
	a.join("g", 1)
	b.join("g", 1)
	a.send(`{"type":"sendToGroup","group":"g","ackId":2,"noEcho":true,"dataType":"json","data":{"message":"hi","fromUserId":"mallory"}}`)
	if n := a.ack(2); n != "" {
		t.Fatal(n)
	}
	checkGroupMsg(t, b.next(), "g", "alice", "json", `{"fromUserId":"alice","message":"hi"}`)
	select {
	case d := <-observed:
		if d < 0 {
			t.Errorf("fan-out duration %v", d)
		}
	case <-time.After(frameWait):
		t.Errorf("ObserveFanout not called")
	}
	a.send(`{"type":"sendToGroup","group":"g","ackId":3,"dataType":"text","data":"plain"}`)
	if n := a.ack(3); n != "BadRequest" {
		t.Errorf("rejected by Publish: %q", n)
	}
	b.expectNothing()
}

// TestCloseReplies: the hub answers a client's close frame with a code a
// peer may send (RFC 6455 7.4): the client's own when valid, else 1002, and
// 1007 for a reason that is not UTF-8.
func TestCloseReplies(t *testing.T) {
	e := newEnv(t, hub.Config{})
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"empty", nil, 1000},
		{"normal", ws.NewCloseFrameBody(1000, "bye"), 1000},
		{"going away", ws.NewCloseFrameBody(1001, ""), 1001},
		{"application code", ws.NewCloseFrameBody(4000, "x"), 4000},
		{"1005 on the wire", ws.NewCloseFrameBody(1005, ""), 1002},
		{"1006 on the wire", ws.NewCloseFrameBody(1006, ""), 1002},
		{"1015 on the wire", ws.NewCloseFrameBody(1015, ""), 1002},
		{"below 1000", ws.NewCloseFrameBody(999, ""), 1002},
		{"above 4999", ws.NewCloseFrameBody(5000, ""), 1002},
		{"one byte", []byte{3}, 1002},
		{"bad reason", append(ws.NewCloseFrameBody(1000, ""), 0xff, 0xfe), 1007},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(plain, "alice")
			c.nc.SetWriteDeadline(time.Now().Add(frameWait))
			if err := ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(tc.body))); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.expectClose(); got != tc.want {
				t.Errorf("close reply %d, want %d", got, tc.want)
			}
		})
	}
}

// TestRefusalsAreJSON: every refusal before the upgrade uses the project's
// JSON error shape, and a connect hook's Timeout is a 503 to retry.
func TestRefusalsAreJSON(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(a *testApp) {
		a.connect = func(r *hub.ConnectRequest) error {
			if r.Conn.UserID == "slow" {
				return &hub.AckError{Name: "Timeout", Message: "storage did not answer"}
			}
			return nil
		}
	})
	get := func(url string, hdr http.Header) (*http.Response, map[string]string) {
		req, _ := http.NewRequest("GET", strings.Replace(url, "ws://", "http://", 1), nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Errorf("%s: body is not JSON: %v", url, err)
		}
		return resp, body
	}
	upgrade := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {plain}}
	for _, tc := range []struct {
		name   string
		url    string
		hdr    http.Header
		status int
		code   string
	}{
		{"no upgrade", e.wsURL(e.token("alice")), nil, 400, "invalid"},
		{"no token", e.hubURL(), upgrade, 401, "unauthorized"},
		{"other path", e.srv.URL + "/client/hubs/", upgrade, 404, "not_found"},
		{"storage timeout", e.wsURL(e.token("slow")), upgrade, 503, "unavailable"},
	} {
		resp, body := get(tc.url, tc.hdr)
		if resp.StatusCode != tc.status || body["error"] != tc.code || body["message"] == "" {
			t.Errorf("%s: %d %v, want %d with error %q", tc.name, resp.StatusCode, body, tc.status, tc.code)
		}
		if tc.status == 503 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", tc.name)
		}
	}
}

// TestTokenTimes: iat has millisecond precision (RFC 7519 NumericDate may be
// fractional) and absurd times are refused.
func TestTokenTimes(t *testing.T) {
	now := time.Now()
	iat := now.Truncate(time.Millisecond)
	tok, err := hub.MintToken(testKey, hub.Claims{UserID: "u", IssuedAt: iat, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := hub.ParseToken(testKey, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IssuedAt.Equal(iat) {
		t.Errorf("IssuedAt %v, want %v (ms precision)", c.IssuedAt, iat)
	}
	mk := func(claims string) string {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		return signHS256(hdr + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)))
	}
	sec := float64(now.UnixMilli()) / 1000
	for _, tc := range []struct {
		name, claims string
		ok           bool
		iat          time.Time
	}{
		{"fractional iat and exp", fmt.Sprintf(`{"iat":%.3f,"exp":%.3f}`, sec-1.5, sec+60.25), true, time.UnixMilli(now.UnixMilli() - 1500)},
		{"iat a little ahead (skew)", fmt.Sprintf(`{"iat":%.3f,"exp":%.0f}`, sec+20, sec+3600), true, time.UnixMilli(now.UnixMilli() + 20000)},
		{"iat far in the future", fmt.Sprintf(`{"iat":%.0f,"exp":%.0f}`, sec+3600, sec+7200), false, time.Time{}},
		{"nbf far in the future", fmt.Sprintf(`{"nbf":%.0f,"exp":%.0f}`, sec+600, sec+7200), false, time.Time{}},
		{"exp before iat", fmt.Sprintf(`{"iat":%.0f,"exp":%.0f}`, sec, sec-5), false, time.Time{}},
		{"huge exp", `{"exp":1e300}`, false, time.Time{}},
		{"huge iat", fmt.Sprintf(`{"iat":-1e300,"exp":%.0f}`, sec+60), false, time.Time{}},
		{"out of range", `{"exp":1e999}`, false, time.Time{}},
		{"negative exp", `{"exp":-5}`, false, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := hub.ParseToken(testKey, mk(tc.claims), now)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && !c.IssuedAt.Equal(tc.iat) {
				t.Errorf("IssuedAt %v, want %v", c.IssuedAt, tc.iat)
			}
		})
	}
	// Refused at the door with 401.
	e := newEnv(t, hub.Config{})
	future := mk(fmt.Sprintf(`{"sub":"u","aud":%q,"iat":%.0f,"exp":%.0f}`, e.hubURL(), sec+3600, sec+7200))
	if _, status, _ := dialRaw(t, e.wsURL(future), nil, plain); status != http.StatusUnauthorized {
		t.Errorf("iat in the future: status %d, want 401", status)
	}
}

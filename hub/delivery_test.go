package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/chatr/chatr/hub"
)

// jsonBroker carries commands as JSON, as a network broker does, so that a
// field the hub forgets to serialise is lost in the tests too.
type jsonBroker struct{ *hub.LocalBroker }

func (b jsonBroker) Publish(ctx context.Context, cmd *hub.Command) error {
	data, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	var c hub.Command
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	return b.LocalBroker.Publish(ctx, &c)
}

// TestHTMLTextVariant: a connection marked HTMLText by Connect gets the
// message's HTMLPayload, every other connection its Payload, on every path.
func TestHTMLTextVariant(t *testing.T) {
	const raw = `<img src=x onerror=alert(1)>`
	escaped := html.EscapeString(raw)
	e := newEnv(t, hub.Config{Broker: jsonBroker{hub.NewLocalBroker()}}, func(a *testApp) {
		a.connect = func(r *hub.ConnectRequest) error {
			r.Conn.HTMLText = r.Query.Get("html") == "1"
			return nil
		}
		a.publish = func(_ *hub.ConnInfo, m *hub.GroupMessage) error {
			var s string
			if err := json.Unmarshal(m.Data, &s); err == nil {
				b, _ := json.Marshal(html.EscapeString(s))
				m.HTMLPayload = &hub.Payload{DataType: "json", Data: b}
			}
			return nil
		}
	})
	roles := []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"}
	dial := func(protocol, user string, htmlText bool) *client {
		t.Helper()
		u := e.wsURL(e.token(user, roles...))
		if htmlText {
			u += "&html=1"
		}
		c, status, err := dialRaw(t, u, nil, protocol)
		if err != nil {
			t.Fatalf("dial: %d %v", status, err)
		}
		f := c.next()
		c.connID, c.token, c.userID = f.ConnectionID, f.ReconnectionToken, f.UserID
		return c
	}
	type member struct {
		c    *client
		html bool
	}
	members := []member{
		{dial(plain, "p-html", true), true},
		{dial(reliable, "r-html", true), true},
		{dial(plain, "p-text", false), false},
		{dial(reliable, "r-text", false), false},
	}
	for _, m := range members {
		if n := m.c.join("g", 1); n != "" {
			t.Fatal(n)
		}
	}
	want := func(m member) string {
		if m.html {
			return escaped
		}
		return raw
	}
	check := func(path string, m member, f frame) {
		t.Helper()
		var got string
		if f.Type != "message" || json.Unmarshal(f.Data, &got) != nil || got != want(m) {
			t.Errorf("%s: html=%v got %s, want data %q", path, m.html, f.raw, want(m))
		}
	}
	rawJSON, _ := json.Marshal(raw)
	escJSON, _ := json.Marshal(escaped)
	msg := hub.Message{Payload: hub.Payload{DataType: "json", Data: rawJSON}, HTMLPayload: &hub.Payload{DataType: "json", Data: escJSON}}
	ctx := context.Background()

	// A client's sendToGroup, variant set by Publish.
	sender := members[2].c
	sender.sendJSON(map[string]any{"type": "sendToGroup", "group": "g", "ackId": 2, "noEcho": true, "dataType": "json", "data": raw})
	if n := sender.ack(2); n != "" {
		t.Fatal(n)
	}
	for _, m := range members {
		if m.c != sender {
			check("sendToGroup", m, m.c.next())
		}
	}
	// Server-side calls.
	calls := map[string]func(m member) error{
		"SendToGroup": func(member) error { return e.hub.SendToGroup(ctx, "g", msg) },
		"SendToAll":   func(member) error { return e.hub.SendToAll(ctx, msg) },
		"SendToUser":  func(m member) error { return e.hub.SendToUser(ctx, m.c.userIDString(), msg) },
		"SendToConnection": func(m member) error {
			return e.hub.SendToConnection(ctx, m.c.connID, msg)
		},
	}
	for _, name := range []string{"SendToGroup", "SendToAll"} {
		if err := calls[name](member{}); err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			check(name, m, m.c.next())
		}
	}
	for _, name := range []string{"SendToUser", "SendToConnection"} {
		for _, m := range members {
			if err := calls[name](m); err != nil {
				t.Fatal(err)
			}
			check(name, m, m.c.next())
		}
	}
	// The reliable replay keeps each session's variant.
	for _, m := range []member{members[1], members[3]} {
		m.c.closeTCP()
	}
	waitFor(t, func() bool { return e.hub.Stats().Connections == 2 })
	if err := e.hub.SendToGroup(ctx, "g", msg); err != nil {
		t.Fatal(err)
	}
	for _, m := range []member{members[1], members[3]} {
		u := e.wsURL(e.token("x")) + "&awps_connection_id=" + url.QueryEscape(m.c.connID) + "&awps_reconnection_token=" + url.QueryEscape(m.c.token)
		r, _, err := dialRaw(t, u, nil, reliable)
		if err != nil {
			t.Fatal(err)
		}
		var last frame
		for {
			f := r.next()
			if f.Type != "message" {
				t.Fatalf("replay: %s", f.raw)
			}
			check("replay", m, f)
			last = f
			if *last.SequenceID == 6 { // sendToGroup, four calls, the one sent while dropped
				break
			}
		}
	}
}

func (c *client) userIDString() string {
	s, _ := c.userID.(string)
	return s
}

// TestGroupOrderManySenders: with several senders publishing at once, every
// member of the group sees the group's messages in one and the same order.
func TestGroupOrderManySenders(t *testing.T) {
	e := newEnv(t, hub.Config{})
	const senders, perSender, members = 4, 150, 6
	var recv []*client
	for i := 0; i < members; i++ {
		proto := plain
		if i%2 == 1 {
			proto = reliable
		}
		c := e.dial(proto, fmt.Sprint("m", i), "webpubsub.joinLeaveGroup")
		if n := c.join("g", 1); n != "" {
			t.Fatal(n)
		}
		recv = append(recv, c)
	}
	var send []*client
	for i := 0; i < senders; i++ {
		send = append(send, e.dial(plain, fmt.Sprint("s", i), "webpubsub.sendToGroup"))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range send {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for n := 0; n < perSender; n++ {
				c.send(fmt.Sprintf(`{"type":"sendToGroup","group":"g","dataType":"text","data":"%d-%d"}`, i, n))
			}
		}()
	}
	// Server-side calls publish concurrently with the clients.
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		for n := 0; n < perSender; n++ {
			e.hub.SendToGroup(context.Background(), "g", hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte(fmt.Sprintf("srv-%d", n))}})
		}
	}()
	close(start)
	total := (senders + 1) * perSender
	orders := make([][]string, members)
	for i, c := range recv {
		for len(orders[i]) < total {
			f := c.next()
			if f.Type != "message" {
				t.Fatalf("member %d got %s", i, f.raw)
			}
			orders[i] = append(orders[i], string(f.Data))
		}
	}
	wg.Wait()
	for i := 1; i < members; i++ {
		if !slices.Equal(orders[i], orders[0]) {
			at := 0
			for orders[i][at] == orders[0][at] {
				at++
			}
			t.Fatalf("member %d's order differs from member 0's at message %d: %s vs %s", i, at, orders[i][at], orders[0][at])
		}
	}
}

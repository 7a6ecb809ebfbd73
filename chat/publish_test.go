package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
)

// send publishes a chat message as the hub does and returns the ack error
// name ("" for success).
func (w *world) send(conn *hub.ConnInfo, group, data string, ackID uint64) string {
	w.t.Helper()
	msg := &hub.GroupMessage{Group: group, AckID: ackID, HasAck: ackID != 0, Payload: hub.Payload{DataType: "json", Data: []byte(data)}}
	name := ackName(w.t, w.app.Publish(context.Background(), conn, msg))
	if name == "" && !msg.Sent {
		w.t.Fatal("Publish succeeded without sending the message")
	}
	return name
}

// stored returns the chat's history.
func (w *world) stored(chatID string) []chatr.Message {
	w.t.Helper()
	ms, err := w.store.ListMessages(context.Background(), chatID, chatr.MessageQuery{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return ms
}

type wireMessage struct {
	Message, FromUserID, ClientID string
	ID                            int64
}

// delivered returns the chat messages handed to the hub for group.
func (w *world) delivered(group string) []wireMessage {
	var out []wireMessage
	for _, c := range w.hub.calls() {
		if c.Kind == "group" && c.Target == group && !c.Msg.AsServer && c.Msg.DataType == "json" {
			var m wireMessage
			if err := json.Unmarshal(c.Msg.Data, &m); err != nil {
				w.t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// messageStored returns the messageStored events sent to a connection.
func (w *world) messageStored(connID string) []wireMessage {
	var out []wireMessage
	for _, c := range w.hub.calls() {
		var ev struct{ ChatEvent, Data string }
		if c.Kind == "conn" && c.Target == connID && json.Unmarshal(c.Msg.Data, &ev) == nil && ev.ChatEvent == "messageStored" {
			var m wireMessage
			if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
				w.t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// A broker that fails after the commit: the client's retry with the same
// ackId is answered with the first result and stores nothing new.
func TestPublishRetryAfterBrokerFailure(t *testing.T) {
	w := newWorld(t, chat.Config{})
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSONReliable, nil)
	broken := errors.New("broker down")
	w.hub.fail.Store(&broken)
	first := &hub.GroupMessage{Group: "room", AckID: 7, HasAck: true, Payload: hub.Payload{DataType: "json", Data: []byte(`{"message":"hello"}`)}}
	if err := w.app.Publish(context.Background(), alice, first); err == nil {
		t.Fatal("Publish succeeded although the broker failed")
	}
	w.hub.fail.Store(nil)
	if got := w.send(alice, "room", `{"message":"hello"}`, 7); got != "Duplicate" {
		t.Fatalf("retry: ack %q, want Duplicate (success for the SDK)", got)
	}
	if got := w.stored("room"); len(got) != 1 {
		t.Fatalf("stored %d messages, want 1", len(got))
	}
	if got := w.messageStored("c-alice"); len(got) != 1 || got[0].ID != 1 || got[0].Message != "hello" {
		t.Errorf("messageStored to the sender: %+v, want the first result (id 1)", got)
	}
	if got := w.delivered("room"); len(got) != 0 {
		t.Errorf("retry fanned out %+v, want nothing new", got)
	}
	// A new message with a new ackId is a new message.
	if got := w.send(alice, "room", `{"message":"hello"}`, 8); got != "" {
		t.Fatalf("new ackId: %q", got)
	}
	if got := w.stored("room"); len(got) != 2 {
		t.Fatalf("stored %d messages, want 2", len(got))
	}
}

// A client that reconnects on a new connection and resends with the same
// clientId gets the first result; the clientId is echoed to members.
func TestPublishResendAfterReconnect(t *testing.T) {
	w := newWorld(t, chat.Config{})
	before := w.connect("c-old", "guest:alice", hub.ProtocolJSONReliable, nil)
	if got := w.send(before, "room", `{"message":"hi","clientId":"6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"}`, 1); got != "" {
		t.Fatalf("send: %q", got)
	}
	if got := w.delivered("room"); len(got) != 1 || got[0].ClientID != "6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f" || got[0].ID != 1 {
		t.Fatalf("delivered %+v, want id 1 with the clientId echoed", got)
	}
	after := w.connect("c-new", "guest:alice", hub.ProtocolJSONReliable, nil)
	if got := w.send(after, "room", `{"message":"hi","clientId":"6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"}`, 1); got != "Duplicate" {
		t.Fatalf("resend: %q, want Duplicate", got)
	}
	if got := w.messageStored("c-new"); len(got) != 1 || got[0].ID != 1 || got[0].ClientID != "6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f" {
		t.Errorf("messageStored: %+v, want id 1 with its clientId", got)
	}
	if n := len(w.stored("room")); n != 1 {
		t.Errorf("stored %d, want 1", n)
	}
	// Another user's clientId is theirs: the same one from bob is a new message.
	bob := w.connect("c-bob", "guest:bob", hub.ProtocolJSONReliable, nil)
	if got := w.send(bob, "room", `{"message":"hi","clientId":"6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"}`, 1); got != "" {
		t.Fatalf("bob: %q", got)
	}
	if got := w.send(bob, "room", `{"message":"x","clientId":"<bad>"}`, 2); got != "BadRequest" {
		t.Errorf("malformed clientId: %q, want BadRequest", got)
	}
}

// lateStore commits a message only after the caller gave up, as a group
// commit that was slower than the caller's deadline does.
type lateStore struct {
	chatr.Store
	wg   sync.WaitGroup
	once sync.Once
}

func (s *lateStore) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	late := false
	s.once.Do(func() { late = true })
	if !late {
		return s.Store.AddMessage(ctx, m)
	}
	<-ctx.Done()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Store.AddMessage(context.Background(), m)
	}()
	return chatr.Message{}, ctx.Err()
}

// A store that times out, having committed the message later: the retry
// finds it. Acked messages are stored, each once.
func TestPublishRetryAfterStoreTimeout(t *testing.T) {
	w := newWorld(t, chat.Config{})
	late := &lateStore{Store: w.store}
	w.app = chat.New(chat.Config{Store: late, StoreTimeout: 100 * time.Millisecond, OfflineGrace: -1})
	w.app.Attach(w.hub)
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSONReliable, nil)
	if got := w.send(alice, "room", `{"message":"slow"}`, 1); got != "Timeout" {
		t.Fatalf("first attempt: %q, want Timeout", got)
	}
	late.wg.Wait() // the commit lands after the caller gave up
	if got := w.send(alice, "room", `{"message":"slow"}`, 1); got != "Duplicate" {
		t.Fatalf("retry: %q, want Duplicate", got)
	}
	if got := w.stored("room"); len(got) != 1 {
		t.Fatalf("stored %d messages, want 1", len(got))
	}
}

// shuffledStore returns from AddMessage after a random delay, so that
// concurrent sends of one chat come back out of id order.
type shuffledStore struct{ chatr.Store }

func (s shuffledStore) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	stored, err := s.Store.AddMessage(ctx, m)
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	return stored, err
}

// Several concurrent senders: the chat's messages reach the hub in the
// order of their ids.
func TestPublishInIDOrder(t *testing.T) {
	w := newWorld(t, chat.Config{})
	w.app = chat.New(chat.Config{Store: shuffledStore{w.store}, OfflineGrace: -1,
		Limits: chat.Limits{MessagesPerSecond: 1e9, MessageBurst: 1 << 30}})
	w.app.Attach(w.hub)
	senders := []*hub.ConnInfo{
		w.connect("a1", "guest:alice", hub.ProtocolJSONReliable, nil),
		w.connect("a2", "guest:alice", hub.ProtocolJSON, nil),
		w.connect("b1", "guest:bob", hub.ProtocolJSONReliable, nil),
		w.connect("b2", "guest:bob", hub.ProtocolJSONReliable, nil),
	}
	const each = 50
	var wg sync.WaitGroup
	for i, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 1; j <= each; j++ {
				msg := &hub.GroupMessage{Group: "room", AckID: uint64(j), HasAck: true,
					Payload: hub.Payload{DataType: "json", Data: []byte(fmt.Sprintf(`{"message":"s%d-%d"}`, i, j))}}
				if err := w.app.Publish(context.Background(), c, msg); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := w.delivered("room")
	if len(got) != len(senders)*each {
		t.Fatalf("delivered %d messages, want %d", len(got), len(senders)*each)
	}
	for i, m := range got {
		if m.ID != int64(i+1) {
			t.Fatalf("delivery %d has id %d, want %d (delivered out of id order)", i, m.ID, i+1)
		}
	}
}

// Connections on the plain protocol that have not declared they render
// text as text (the original client) get message text HTML-escaped; the
// reliable protocol (the SDK, Chatr's client) and render=text get it as
// written.
func TestPublishHTMLText(t *testing.T) {
	w := newWorld(t, chat.Config{})
	for _, tc := range []struct {
		protocol string
		query    map[string]string
		html     bool
	}{
		{hub.ProtocolJSON, nil, true},
		{hub.ProtocolJSON, map[string]string{"render": "text"}, false},
		{hub.ProtocolJSONReliable, nil, false},
	} {
		c := w.connect("c", "guest:bob", tc.protocol, tc.query)
		if c.HTMLText != tc.html {
			t.Errorf("%s %v: HTMLText %v, want %v", tc.protocol, tc.query, c.HTMLText, tc.html)
		}
	}
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSON, nil)
	const attack = `<img src=x onerror=alert(document.domain)>`
	if got := w.send(alice, "room", `{"message":"`+attack+`"}`, 1); got != "" {
		t.Fatal(got)
	}
	if got := w.send(alice, "room", `{"message":"plain"}`, 2); got != "" {
		t.Fatal(got)
	}
	var msgs []hub.Message
	for _, c := range w.hub.calls() {
		if c.Kind == "group" && c.Target == "room" {
			msgs = append(msgs, c.Msg)
		}
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages sent, want 2", len(msgs))
	}
	var text, escaped wireMessage
	json.Unmarshal(msgs[0].Data, &text)
	if text.Message != attack {
		t.Errorf("payload text %q, want as written", text.Message)
	}
	if msgs[0].HTMLPayload == nil {
		t.Fatal("no HTML-escaped payload for a message with markup")
	}
	json.Unmarshal(msgs[0].HTMLPayload.Data, &escaped)
	if strings.ContainsAny(escaped.Message, "<>") || escaped.Message != "&lt;img src=x onerror=alert(document.domain)&gt;" || escaped.ID != text.ID {
		t.Errorf("escaped payload %+v", escaped)
	}
	if msgs[1].HTMLPayload != nil {
		t.Errorf("HTML payload for plain text: %s", msgs[1].HTMLPayload.Data)
	}
}

// The official SDK retries a failed send with the same data and a new
// ackId: after a failure whose outcome is unknown, that retry keeps the
// first attempt's key; a new message with other text is a new message.
func TestPublishSDKRetryWithNewAckID(t *testing.T) {
	w := newWorld(t, chat.Config{})
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSONReliable, nil)
	broken := errors.New("broker down")
	w.hub.fail.Store(&broken)
	first := &hub.GroupMessage{Group: "room", AckID: 1, HasAck: true, Payload: hub.Payload{DataType: "json", Data: []byte(`{"message":"again"}`)}}
	if err := w.app.Publish(context.Background(), alice, first); err == nil {
		t.Fatal("Publish succeeded although the broker failed")
	}
	w.hub.fail.Store(nil)
	if got := w.send(alice, "room", `{"message":"again"}`, 2); got != "Duplicate" {
		t.Fatalf("SDK retry with a new ackId: %q, want Duplicate", got)
	}
	if got := w.send(alice, "room", `{"message":"again"}`, 3); got != "" {
		t.Fatalf("the same text sent anew after a success: %q, want a new message", got)
	}
	if n := len(w.stored("room")); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}
}

// Server events that carry user-written names have an HTML-escaped variant
// for clients that render text as HTML; the text as written otherwise.
func TestServerEventsHTMLText(t *testing.T) {
	w := newWorld(t, chat.Config{})
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSON, nil)
	if got := w.event(alice, "createChat", `{"name":"<img src=x onerror=alert(1)>","id":"markup"}`); got != "" {
		t.Fatal(got)
	}
	for _, c := range w.hub.calls() {
		var ev struct{ ChatEvent, Data string }
		if json.Unmarshal(c.Msg.Data, &ev) != nil || ev.ChatEvent != "chatCreated" {
			continue
		}
		var asWritten, escaped struct{ Name string }
		json.Unmarshal([]byte(ev.Data), &asWritten)
		if asWritten.Name != "<img src=x onerror=alert(1)>" {
			t.Errorf("chatCreated as written: %s", ev.Data)
		}
		if c.Msg.HTMLPayload == nil {
			t.Fatal("chatCreated with markup in its name has no HTML-escaped variant")
		}
		var hv struct{ ChatEvent, Data string }
		json.Unmarshal(c.Msg.HTMLPayload.Data, &hv)
		json.Unmarshal([]byte(hv.Data), &escaped)
		if escaped.Name != "&lt;img src=x onerror=alert(1)&gt;" {
			t.Errorf("chatCreated escaped: %s", hv.Data)
		}
		return
	}
	t.Fatal("no chatCreated sent")
}

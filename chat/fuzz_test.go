package chat_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/memstore"
)

// fakeHub records what the application sends and checks every payload as
// the hub would, plus the rule that announcements carry no markup.
type fakeHub struct{ t *testing.T }

func (h fakeHub) check(m hub.Message) {
	switch m.DataType {
	case "", "json":
		if len(m.Data) > 0 && !json.Valid(m.Data) {
			h.t.Fatalf("server message is not valid JSON: %q", m.Data)
		}
	case "text":
		if !utf8.Valid(m.Data) || strings.ContainsAny(string(m.Data), "<>") {
			h.t.Fatalf("announcement %q is not plain text", m.Data)
		}
	default:
		h.t.Fatalf("server message with dataType %q", m.DataType)
	}
}

func (h fakeHub) SendToGroup(_ context.Context, _ string, m hub.Message) error {
	h.check(m)
	return nil
}
func (h fakeHub) SendToUser(_ context.Context, _ string, m hub.Message) error { h.check(m); return nil }
func (h fakeHub) SendToConnection(_ context.Context, _ string, m hub.Message) error {
	h.check(m)
	return nil
}
func (fakeHub) AddUserToGroup(context.Context, string, string) error            { return nil }
func (fakeHub) RemoveUserFromGroup(context.Context, string, string) error       { return nil }
func (fakeHub) RemoveGroup(context.Context, string) error                       { return nil }
func (fakeHub) AddConnectionToGroup(context.Context, string, string) error      { return nil }
func (fakeHub) RemoveConnectionFromGroup(context.Context, string, string) error { return nil }

// fuzzApp is an application on an in-memory store with two users (alice
// owns the group chat "room"; bob is a member) and no rate limits.
func fuzzApp(t *testing.T) (*chat.App, *memstore.Store, *hub.ConnInfo) {
	st := memstore.New()
	ctx := context.Background()
	for _, u := range []chatr.User{{ID: "guest:alice", Name: "Alice <b>", Provider: "guest"}, {ID: "guest:bob", Name: "Bob", Provider: "guest"}} {
		if err := st.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	st.CreateChat(ctx, chatr.Chat{ID: "room", Name: "Room", Owner: "guest:alice"})
	st.AddMember(ctx, "room", chatr.Member{UserID: "guest:alice", UserName: "Alice <b>"})
	st.AddMember(ctx, "room", chatr.Member{UserID: "guest:bob", UserName: "Bob"})
	a := chat.New(chat.Config{Store: st, Limits: chat.Limits{MessagesPerSecond: 1e12, MessageBurst: 1 << 30, EventsPerSecond: 1e12, EventBurst: 1 << 30}})
	a.Attach(fakeHub{t})
	return a, st, &hub.ConnInfo{ID: "c1", UserID: "guest:alice", Protocol: hub.ProtocolJSON}
}

// ackNames are the errors a client may see from the chat application.
var ackNames = map[string]bool{"BadRequest": true, "NotFound": true, "Forbidden": true, "Duplicate": true, "Conflict": true, "Gone": true, "TooManyRequests": true}

// FuzzEvent feeds arbitrary events to the application: it must answer with
// success or a named ack error (never an internal error, never a panic),
// send only well-formed messages, and store only clean chat names.
func FuzzEvent(f *testing.F) {
	for _, s := range []struct{ name, dt, data string }{
		{"createChat", "json", `{"name":"General","id":"general-1"}`},
		{"createChat", "json", `{"name":"  x  "}`},
		{"createChat", "json", `{"name":"a\u202eb"}`},
		{"createChat", "json", `{"name":"x","id":"private_a_b"}`},
		{"createChat", "json", `"str"`},
		{"joinChat", "text", `room`},
		{"joinChat", "json", `"room"`},
		{"joinChat", "json", `{"id":1}`},
		{"leaveChat", "json", `{"chatId":"room"}`},
		{"leaveChat", "text", `room`},
		{"deleteChat", "text", `room`},
		{"createPrivateChat", "json", `{"targetUserId":"guest:bob"}`},
		{"createPrivateChat", "json", `{"targetUserId":"guest:alice"}`},
		{"userEnterIdle", "text", ``},
		{"userExitIdle", "binary", "\x00\x01"},
		{"typing", "json", `{"chatId":"room"}`},
		{"markRead", "json", `{"chatId":"room","messageId":3}`},
		{"markRead", "json", `{"chatId":"room","messageId":-1}`},
		{"markRead", "json", `{"chatId":"room","messageId":1e99}`},
		{"userConnected", "json", `{"userName":"x"}`},
		{"nope", "json", `null`},
	} {
		f.Add(s.name, s.dt, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, name, dataType string, data []byte) {
		a, st, conn := fuzzApp(t)
		ctx := context.Background()
		_, err := a.Event(ctx, conn, &hub.Event{Name: name, DataType: dataType, Data: data})
		if err != nil {
			ae, ok := err.(*hub.AckError)
			if !ok || !ackNames[ae.Name] || ae.Message == "" || !utf8.ValidString(ae.Message) {
				t.Fatalf("Event(%q, %q, %q) = %v, want a named ack error", name, dataType, data, err)
			}
		}
		chats, _ := st.ListGroupChats(ctx)
		for _, c := range chats {
			if c.ID == "room" {
				continue
			}
			if c.Owner != conn.UserID {
				t.Fatalf("chat %q owned by %q", c.ID, c.Owner)
			}
			if c.Name != strings.TrimSpace(c.Name) || utf8.RuneCountInString(c.Name) > chat.DefaultMaxChatNameLength || c.Name == "" {
				t.Fatalf("chat name %q stored", c.Name)
			}
			for _, r := range c.Name {
				if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					t.Fatalf("chat name %q with control or format character stored", c.Name)
				}
			}
			if strings.HasPrefix(c.ID, "private_") {
				t.Fatalf("group chat with a private id %q", c.ID)
			}
		}
		if _, err := st.GetChat(ctx, "room"); err != nil && name != "deleteChat" {
			t.Fatalf("room lost after %s: %v", name, err)
		}
	})
}

// FuzzPublish feeds arbitrary chat messages to Publish: on success the
// stored and forwarded message is the trimmed text, within the limit,
// stamped with the sender; otherwise a named ack error.
func FuzzPublish(f *testing.F) {
	for _, s := range []struct{ dt, data string }{
		{"json", `{"message":"hi"}`},
		{"json", `{"message":"hi","fromUserId":"guest:bob","fromUserName":"Bob","id":9,"time":"x"}`},
		{"json", `{"message":"  "}`},
		{"json", `{"message":"a\u0000b"}`},
		{"json", `{"message":"\ud800"}`},
		{"json", `{"message":5}`},
		{"json", `"hi"`},
		{"text", `hi`},
		{"", `{"message":"x"}`},
		{"json", `{"message":"` + strings.Repeat("x", 4097) + `"}`},
	} {
		f.Add(s.dt, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, dataType string, data []byte) {
		a, st, conn := fuzzApp(t)
		h := newRecHub()
		a.Attach(h)
		msg := &hub.GroupMessage{Group: "room", Payload: hub.Payload{DataType: dataType, Data: data}}
		err := a.Publish(context.Background(), conn, msg)
		if err != nil {
			ae, ok := err.(*hub.AckError)
			if !ok || !ackNames[ae.Name] {
				t.Fatalf("Publish(%q, %q) = %v, want a named ack error", dataType, data, err)
			}
			if got, _ := st.ListMessages(context.Background(), "room", chatr.MessageQuery{}); len(got) != 0 {
				t.Fatalf("refused message stored: %+v", got)
			}
			return
		}
		var out struct {
			Message, FromUserID, FromUserName, Time string
			ID                                      int64
		}
		calls := h.calls()
		if !msg.Sent || len(calls) != 1 || calls[0].Kind != "group" || calls[0].Target != "room" {
			t.Fatalf("accepted message: Sent %v, hub calls %+v; want one SendToGroup to room", msg.Sent, calls)
		}
		fwd := calls[0].Msg
		if fwd.DataType != "json" || json.Unmarshal(fwd.Data, &out) != nil || fwd.FromUserID != conn.UserID {
			t.Fatalf("forwarded %+v", fwd)
		}
		if out.FromUserID != conn.UserID || out.FromUserName != "Alice <b>" || out.ID != 1 {
			t.Fatalf("forwarded %+v, want stamped as alice with id 1", out)
		}
		if _, err := time.Parse(time.RFC3339, out.Time); err != nil {
			t.Fatalf("time %q: %v", out.Time, err)
		}
		if out.Message == "" || out.Message != strings.TrimSpace(out.Message) || len(out.Message) > chat.DefaultMaxMessageBytes ||
			!utf8.ValidString(out.Message) || strings.ContainsRune(out.Message, 0) {
			t.Fatalf("forwarded message text %q", out.Message)
		}
		stored, _ := st.ListMessages(context.Background(), "room", chatr.MessageQuery{})
		if len(stored) != 1 || stored[0].Text != out.Message {
			t.Fatalf("stored %+v, forwarded %q", stored, out.Message)
		}
	})
}

package chat_test

import (
	"context"
	"sync"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
)

// A server post is stored once per key and delivered once, in order after
// the message it answers; MessageStored hears of members' messages and
// the post, not of the post's retry.
func TestServerPostOncePerKey(t *testing.T) {
	var mu sync.Mutex
	var heard []string
	w := newWorld(t, chat.Config{MessageStored: func(m chatr.Message) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, m.Text)
	}})
	bob := w.connect("c-bob", "guest:bob", hub.ProtocolJSONReliable, nil)
	if got := w.send(bob, "room", `{"message":"!deploy prod"}`, 1); got != "" {
		t.Fatalf("send: %q", got)
	}
	post := chat.ServerPost{ChatID: "room", FromUserID: "outgoing:h1", FromUserName: "Deploy bot", Text: " done @bob ", ReplyTo: 1, Key: "outgoing:h1:1"}
	first, err := w.app.Post(context.Background(), post)
	if err != nil || first.Duplicate || first.ID != 2 || first.Text != "done @bob" || first.ReplyTo != 1 {
		t.Fatalf("Post: %+v %v", first, err)
	}
	if len(first.Mentions.Users) != 1 || first.Mentions.Users[0] != "guest:bob" {
		t.Errorf("mentions %+v, want bob", first.Mentions)
	}
	again, err := w.app.Post(context.Background(), post)
	if err != nil || !again.Duplicate || again.ID != 2 {
		t.Fatalf("Post again: %+v %v", again, err)
	}
	if got := w.stored("room"); len(got) != 2 || got[1].FromUserName != "Deploy bot" {
		t.Errorf("stored %+v", got)
	}
	if got := w.delivered("room"); len(got) != 2 || got[1].ID != 2 || got[1].FromUserID != "outgoing:h1" {
		t.Errorf("delivered %+v", got)
	}
	mu.Lock()
	if len(heard) != 2 || heard[0] != "!deploy prod" || heard[1] != "done @bob" {
		t.Errorf("MessageStored heard %q", heard)
	}
	mu.Unlock()
	for name, bad := range map[string]chat.ServerPost{
		"empty text":      {ChatID: "room", FromUserID: "outgoing:h1", FromUserName: "b", Text: " ", Key: "k"},
		"no key":          {ChatID: "room", FromUserID: "outgoing:h1", FromUserName: "b", Text: "x"},
		"a foreign reply": {ChatID: "room", FromUserID: "outgoing:h1", FromUserName: "b", Text: "x", Key: "k2", ReplyTo: 99},
	} {
		if _, err := w.app.Post(context.Background(), bad); chatr.ErrorCode(err) != chatr.EINVALID {
			t.Errorf("Post with %s: %v, want EINVALID", name, err)
		}
	}
	if _, err := w.app.Post(context.Background(), chat.ServerPost{ChatID: "gone", FromUserID: "outgoing:h1", FromUserName: "b", Text: "x", Key: "k3"}); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("Post to a missing chat: %v, want ENOTFOUND", err)
	}
}

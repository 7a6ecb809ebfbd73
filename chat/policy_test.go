package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
)

// A flood of typing frames costs no store reads: the budget comes first,
// membership is the connection's own groups, the name the one held for it.
func TestTypingReadsNoStore(t *testing.T) {
	w := newWorld(t, chat.Config{})
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSON, nil)
	before := w.store.reads.Load()
	const frames = 2000
	refused := 0
	for i := 0; i < frames; i++ {
		chatID := "room"
		if i%2 == 1 {
			chatID = chatr.PrivateChatID("guest:bob", "guest:carol") // not alice's
		}
		switch name := w.event(alice, "typing", `{"chatId":"`+chatID+`"}`); name {
		case "":
		case "TooManyRequests", "Forbidden":
			refused++
		default:
			t.Fatalf("typing: ack %s", name)
		}
	}
	if got := w.store.reads.Load() - before; got != 0 {
		t.Errorf("%d typing frames made %d store reads, want 0", frames, got)
	}
	if refused < frames-100 {
		t.Errorf("%d of %d typing frames refused; the budget lets through too many", refused, frames)
	}
	if n := len(w.hub.serverEvents("group", "typing")); n != 1 {
		t.Errorf("typing forwarded %d times, want once (throttled per chat)", n)
	}
}

// A non-member's typing frame is refused without a store read.
func TestTypingOutsideChatRefused(t *testing.T) {
	w := newWorld(t, chat.Config{})
	carol := w.connect("c-carol", "guest:carol", hub.ProtocolJSON, nil)
	if got := w.event(carol, "typing", `{"chatId":"room"}`); got != "Forbidden" {
		t.Errorf("typing in a chat carol is not in: ack %q, want Forbidden", got)
	}
	if n := len(w.hub.serverEvents("group", "typing")); n != 0 {
		t.Errorf("typing of a non-member forwarded %d times", n)
	}
}

// joinChat and deleteChat answer alike for another pair's private chat and
// for a chat that does not exist: no oracle of who talks privately.
func TestPrivateChatNoOracle(t *testing.T) {
	w := newSQLiteWorld(t, chat.Config{})
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSON, nil)
	private := chatr.PrivateChatID("guest:bob", "guest:carol")
	missing := chatr.PrivateChatID("guest:alice", "guest:nobody")
	for _, ev := range []string{"joinChat", "deleteChat"} {
		var answers [2]string
		for i, id := range []string{private, missing} {
			_, err := w.app.Event(context.Background(), alice, &hub.Event{Name: ev, DataType: "text", Data: []byte(id)})
			ae, ok := err.(*hub.AckError)
			if !ok {
				t.Fatalf("%s %s: %v, want an ack error", ev, id, err)
			}
			answers[i] = ae.Name + ": " + ae.Message
		}
		if answers[0] != answers[1] {
			t.Errorf("%s: existing private chat answers %q, missing chat %q; want one answer", ev, answers[0], answers[1])
		}
	}
	if ok, _ := w.store.IsMember(context.Background(), private, "guest:alice"); ok {
		t.Fatal("alice joined a private chat of others")
	}
}

// A user who was idle is active again on a new connection, also when
// another of their connections (or a recoverable session) still counts
// them online.
func TestIdleUserActiveOnNewConnection(t *testing.T) {
	w := newWorld(t, chat.Config{})
	first := w.connect("c1", "guest:alice", hub.ProtocolJSONReliable, nil)
	if got := w.event(first, "userEnterIdle", `null`); got != "" {
		t.Fatalf("userEnterIdle: %s", got)
	}
	w.connect("c2", "guest:alice", hub.ProtocolJSONReliable, nil) // the reload, before c1's session ends
	u, err := w.store.GetUser(context.Background(), "guest:alice")
	if err != nil || u.Idle {
		t.Fatalf("after reconnecting: idle %v (%v), want false", u.Idle, err)
	}
	if got := w.hub.serverEvents("group", "userNotIdle"); len(got) != 1 || got[0] != "guest:alice" {
		t.Errorf("userNotIdle to the watchers: %q, want one for guest:alice", got)
	}
	for _, d := range w.hub.serverEvents("conn", "userOnline") {
		if d != `{"userId":"guest:alice","userName":"Alice","userProvider":"guest","idle":false}` {
			t.Errorf("userOnline to the new connection: %s, want idle false", d)
		}
	}
}

// The last connection's end is announced after the grace period, not
// before, and not at all when the user is back within it.
func TestOfflineAfterGrace(t *testing.T) {
	if chat.DefaultOfflineGrace != 3*time.Second {
		t.Errorf("DefaultOfflineGrace = %v, want 3s", chat.DefaultOfflineGrace)
	}
	const grace = 300 * time.Millisecond
	w := newWorld(t, chat.Config{OfflineGrace: grace})
	c1 := w.connect("c1", "guest:alice", hub.ProtocolJSON, nil)
	closed := time.Now()
	w.app.Disconnected(context.Background(), c1, "closed")
	if n := len(w.hub.serverEvents("group", "userOffline")); n != 0 {
		t.Fatalf("userOffline announced at once, want after %v", grace)
	}
	waitFor(t, "userOffline", func() bool { return len(w.hub.serverEvents("group", "userOffline")) == 1 })
	if d := time.Since(closed); d < grace {
		t.Errorf("userOffline after %v, want at least the grace period %v", d, grace)
	}

	// Back within the grace period: no userOffline.
	c2 := w.connect("c2", "guest:bob", hub.ProtocolJSON, nil)
	w.app.Disconnected(context.Background(), c2, "closed")
	w.connect("c3", "guest:bob", hub.ProtocolJSON, nil)
	time.Sleep(2 * grace) // asserting that nothing happens needs a wait past the deadline
	for _, d := range w.hub.serverEvents("group", "userOffline") {
		if d == "guest:bob" {
			t.Error("bob announced offline although he came back within the grace period")
		}
	}
}

// A sign-out refuses tokens issued before it to the millisecond: one
// minted in the same second before it is refused, one minted after it is
// accepted, and the refusal comes from the store (a new App on it).
func TestRevokedTokensToTheMillisecond(t *testing.T) {
	w := newWorld(t, chat.Config{})
	signOut := time.Date(2026, 12, 2, 5, 0, 0, 600e6, time.UTC)
	if err := w.app.RevokeTokens(context.Background(), "guest:alice", signOut); err != nil {
		t.Fatal(err)
	}
	restarted := chat.New(chat.Config{Store: w.store})
	restarted.Attach(w.hub)
	for _, tc := range []struct {
		iat  time.Time
		want string
	}{
		{signOut.Add(-500 * time.Millisecond), "Unauthorized"}, // same second, before
		{signOut.Add(-time.Hour), "Unauthorized"},
		{signOut.Add(time.Millisecond), ""},
		{signOut.Add(time.Minute), ""},
	} {
		for _, app := range []*chat.App{w.app, restarted} {
			req := &hub.ConnectRequest{Conn: &hub.ConnInfo{ID: "c", UserID: "guest:alice", Protocol: hub.ProtocolJSONReliable},
				Claims: hub.Claims{UserID: "guest:alice", IssuedAt: tc.iat}}
			if got := ackName(t, app.Connect(context.Background(), req)); got != tc.want {
				t.Errorf("token issued %v relative to sign-out: Connect %q, want %q", tc.iat.Sub(signOut), got, tc.want)
			}
		}
	}
}

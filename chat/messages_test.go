package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
)

// msgWorld is a world with more people around the chat "room": alice owns
// it, bob and frank are members, dave is a moderator, erin is a server
// admin who is not a member, carol is not a member.
type msgWorld struct {
	*world
	conns map[string]*hub.ConnInfo
}

func newMsgWorld(t *testing.T) *msgWorld {
	t.Helper()
	w := newWorld(t, chat.Config{Admins: chatr.ParseAdmins("guest:erin"), Limits: chat.Limits{EventsPerSecond: 1e6, EventBurst: 1 << 20, MentionAllMax: 4}})
	ctx := context.Background()
	for _, u := range []chatr.User{{ID: "guest:dave", Name: "Dave"}, {ID: "guest:erin", Name: "Erin"}, {ID: "guest:frank", Name: "Frank"}} {
		u.Provider = "guest"
		if err := w.store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"guest:dave", "guest:frank"} {
		if err := w.store.AddMember(ctx, "room", chatr.Member{UserID: id, UserName: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.SetMemberRole(ctx, "room", "guest:dave", chatr.RoleModerator); err != nil {
		t.Fatal(err)
	}
	mw := &msgWorld{world: w, conns: map[string]*hub.ConnInfo{}}
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		mw.conns[name] = w.connect("c-"+name, "guest:"+name, hub.ProtocolJSONReliable, nil)
	}
	return mw
}

// post sends a message as user and returns its id.
func (w *msgWorld) post(user, chatID, text string) int64 {
	w.t.Helper()
	data, _ := json.Marshal(map[string]string{"message": text})
	if got := w.send(w.conns[user], chatID, string(data), 0); got != "" {
		w.t.Fatalf("%s posts: %q", user, got)
	}
	ms := w.stored(chatID)
	return ms[len(ms)-1].ID
}

func (w *msgWorld) ev(user, name string, data any) string {
	w.t.Helper()
	b, _ := json.Marshal(data)
	return w.event(w.conns[user], name, string(b))
}

// chatEvents returns the server events named name and where they went
// ("group:room", "all", ...).
func (w *msgWorld) chatEvents(name string) (targets []string, payloads []string) {
	for _, c := range w.hub.calls() {
		var ev struct{ ChatEvent, Data string }
		if json.Unmarshal(c.Msg.Data, &ev) == nil && ev.ChatEvent == name {
			targets = append(targets, c.Kind+":"+c.Target)
			payloads = append(payloads, ev.Data)
		}
	}
	return targets, payloads
}

func (w *msgWorld) message(chatID string, id int64) chatr.Message {
	w.t.Helper()
	m, err := w.store.GetMessage(context.Background(), chatID, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

// Who may edit, delete and react to bob's message in "room".
func TestMessagePermissions(t *testing.T) {
	want := map[string]map[string]string{ // action -> actor -> ack
		"editMessage":   {"bob": "", "frank": "Forbidden", "dave": "Forbidden", "alice": "Forbidden", "erin": "NotFound", "carol": "NotFound"},
		"deleteMessage": {"bob": "", "frank": "Forbidden", "dave": "", "alice": "", "erin": "", "carol": "NotFound"},
		"react":         {"bob": "", "frank": "", "dave": "", "alice": "", "erin": "NotFound", "carol": "NotFound"},
	}
	for action, actors := range want {
		for actor, ack := range actors {
			t.Run(action+"/"+actor, func(t *testing.T) {
				w := newMsgWorld(t)
				id := w.post("bob", "room", "original")
				data := map[string]any{"chatId": "room", "id": id, "message": "changed", "emoji": "👍"}
				if got := w.ev(actor, action, data); got != ack {
					t.Fatalf("%s by %s: ack %q, want %q", action, actor, got, ack)
				}
				m := w.message("room", id)
				changed := m.Text != "original" || len(m.Reactions) > 0
				if changed != (ack == "") {
					t.Errorf("%s by %s (ack %q) left the message as %+v", action, actor, ack, m)
				}
				logged := w.modlog()
				if wantLog := action == "deleteMessage" && ack == "" && actor != "bob"; (len(logged) == 1) != wantLog {
					t.Errorf("moderation log after %s by %s: %+v", action, actor, logged)
				} else if wantLog && (logged[0].Actor != "guest:"+actor || logged[0].TargetUser != "guest:bob" || logged[0].MessageID != id) {
					t.Errorf("moderation log entry: %+v", logged[0])
				}
			})
		}
	}
}

func (w *msgWorld) modlog() []chatr.ModEvent {
	w.t.Helper()
	es, err := w.store.ListModEvents(context.Background(), chatr.ModEventQuery{})
	if err != nil {
		w.t.Fatal(err)
	}
	return es
}

// Edits, deletions and reactions go to the chat's group, never to
// everyone; in a private chat, to its two members.
func TestMessageEventsReachMembersOnly(t *testing.T) {
	w := newMsgWorld(t)
	id := w.post("bob", "room", "hello <b>all</b>")
	pc := chatr.PrivateChatID("guest:bob", "guest:carol")
	pid := w.post("carol", pc, "psst")
	for _, step := range []struct {
		user, name string
		data       map[string]any
	}{
		{"bob", "editMessage", map[string]any{"chatId": "room", "id": id, "message": "hello <i>you</i>"}},
		{"frank", "react", map[string]any{"chatId": "room", "id": id, "emoji": "🎉"}},
		{"dave", "deleteMessage", map[string]any{"chatId": "room", "id": id}},
		{"carol", "editMessage", map[string]any{"chatId": pc, "id": pid, "message": "psst!"}},
		{"bob", "react", map[string]any{"chatId": pc, "id": pid, "emoji": "👀"}},
		{"carol", "deleteMessage", map[string]any{"chatId": pc, "id": pid}},
	} {
		if got := w.ev(step.user, step.name, step.data); got != "" {
			t.Fatalf("%s %s: %q", step.user, step.name, got)
		}
	}
	for _, name := range []string{"messageEdited", "reactionChanged", "messageDeleted"} {
		targets, payloads := w.chatEvents(name)
		if strings.Join(targets, " ") != "group:room group:"+pc {
			t.Errorf("%s went to %v, want the room's group then the private chat's", name, targets)
		}
		if name == "messageEdited" && !strings.Contains(payloads[0], `"message":"hello \u003ci\u003eyou\u003c/i\u003e"`) {
			t.Errorf("messageEdited payload %s", payloads[0])
		}
	}
	for _, c := range w.hub.calls() {
		if c.Kind == "group" && (strings.Contains(string(c.Msg.Data), "messageEdited") || strings.Contains(string(c.Msg.Data), "messageDeleted")) && !c.Msg.AsServer {
			t.Errorf("a message event was sent as a group message: %s", c.Msg.Data)
		}
	}
	// The original client renders text as HTML: its connections get the
	// edited text escaped.
	for _, c := range w.hub.calls() {
		if strings.Contains(string(c.Msg.Data), "messageEdited") && strings.Contains(string(c.Msg.Data), "you") && c.Target == "room" {
			if c.Msg.HTMLPayload == nil || !strings.Contains(string(c.Msg.HTMLPayload.Data), `\\u0026lt;i\\u0026gt;`) {
				t.Errorf("no escaped variant for HTML clients: %+v", c.Msg.HTMLPayload)
			}
		}
	}
}

// Retries change nothing twice: an edit with the text it has, a second
// delete, a reaction set "on" twice. Each is stored and announced once.
func TestMessageEventRetries(t *testing.T) {
	w := newMsgWorld(t)
	id := w.post("bob", "room", "first")
	edit := map[string]any{"chatId": "room", "id": id, "message": "second"}
	on := map[string]any{"chatId": "room", "id": id, "emoji": "👍", "on": true}
	for range 3 {
		if got := w.ev("bob", "editMessage", edit); got != "" {
			t.Fatalf("edit: %q", got)
		}
		if got := w.ev("frank", "react", on); got != "" {
			t.Fatalf("react: %q", got)
		}
	}
	if targets, _ := w.chatEvents("messageEdited"); len(targets) != 1 {
		t.Errorf("3 identical edits announced %d times, want 1", len(targets))
	}
	if targets, _ := w.chatEvents("reactionChanged"); len(targets) != 1 {
		t.Errorf("3 identical reactions announced %d times, want 1", len(targets))
	}
	if m := w.message("room", id); len(m.Reactions) != 1 || m.Reactions[0].Count != 1 {
		t.Errorf("reactions after 3 retries: %+v", m.Reactions)
	}
	off := map[string]any{"chatId": "room", "id": id, "emoji": "👍", "on": false}
	for range 2 {
		if got := w.ev("frank", "react", off); got != "" {
			t.Fatalf("react off: %q", got)
		}
	}
	if m := w.message("room", id); len(m.Reactions) != 0 {
		t.Errorf("reactions after taking it back twice: %+v", m.Reactions)
	}
	// Without "on", react toggles.
	toggle := map[string]any{"chatId": "room", "id": id, "emoji": "👍"}
	w.ev("frank", "react", toggle)
	w.ev("frank", "react", toggle)
	if m := w.message("room", id); len(m.Reactions) != 0 {
		t.Errorf("two toggles left %+v", m.Reactions)
	}
	for range 3 {
		if got := w.ev("dave", "deleteMessage", map[string]any{"chatId": "room", "id": id}); got != "" {
			t.Fatalf("delete: %q", got)
		}
	}
	if targets, _ := w.chatEvents("messageDeleted"); len(targets) != 1 {
		t.Errorf("3 deletes announced %d times, want 1", len(targets))
	}
	if n := len(w.modlog()); n != 1 {
		t.Errorf("3 deletes logged %d times, want 1", n)
	}
	if got := w.ev("bob", "editMessage", edit); got != "Conflict" {
		t.Errorf("editing a deleted message: %q, want Conflict", got)
	}
	if got := w.ev("frank", "react", on); got != "Conflict" {
		t.Errorf("reacting to a deleted message: %q, want Conflict", got)
	}
	if m := w.message("room", id); m.Text != "" || !m.Deleted {
		t.Errorf("deleted message as stored: %+v", m)
	}
}

// Bad input gets a clear refusal and changes nothing.
func TestMessageEventBadInput(t *testing.T) {
	w := newMsgWorld(t)
	id := w.post("bob", "room", "hello")
	other := w.post("alice", "room", "other")
	pc := chatr.PrivateChatID("guest:bob", "guest:carol")
	w.post("carol", pc, "one")
	w.post("carol", pc, "two")
	pid := w.post("carol", pc, "psst") // 3: no such id in room
	cases := []struct {
		user, name string
		data       any
		want       string
	}{
		{"bob", "editMessage", map[string]any{"chatId": "room", "id": 999, "message": "x"}, "NotFound"},
		{"bob", "editMessage", map[string]any{"chatId": "room", "id": pid, "message": "x"}, "NotFound"}, // id of another chat: no such message here
		{"bob", "editMessage", map[string]any{"chatId": "nowhere", "id": id, "message": "x"}, "NotFound"},
		{"bob", "editMessage", map[string]any{"chatId": "room", "id": id, "message": "   "}, "BadRequest"},
		{"bob", "editMessage", map[string]any{"chatId": "room", "id": id, "message": strings.Repeat("x", chat.DefaultMaxMessageBytes+1)}, "BadRequest"},
		{"bob", "editMessage", map[string]any{"chatId": "room", "id": -1, "message": "x"}, "BadRequest"},
		{"bob", "editMessage", map[string]any{"chatId": "", "id": id, "message": "x"}, "BadRequest"},
		{"bob", "editMessage", "room", "BadRequest"},
		{"bob", "editMessage", map[string]any{"chatId": "room", "id": "1", "message": "x"}, "BadRequest"},
		{"bob", "deleteMessage", map[string]any{"chatId": "room", "id": 0}, "BadRequest"},
		{"bob", "deleteMessage", map[string]any{"chatId": "room", "id": other}, "Forbidden"},
		{"bob", "react", map[string]any{"chatId": "room", "id": id, "emoji": strings.Repeat("👍", 2500)}, "BadRequest"}, // 10 KB
		{"bob", "react", map[string]any{"chatId": "room", "id": id, "emoji": "a"}, "BadRequest"},
		{"bob", "react", map[string]any{"chatId": "room", "id": id, "emoji": "<script>"}, "BadRequest"},
		{"bob", "react", map[string]any{"chatId": "room", "id": id, "emoji": ""}, "BadRequest"},
		{"bob", "react", map[string]any{"chatId": "room", "id": id, "emoji": "👍\u0000"}, "BadRequest"},
		{"bob", "react", map[string]any{"chatId": "room", "id": 999, "emoji": "👍"}, "NotFound"},
		{"carol", "react", map[string]any{"chatId": "room", "id": id, "emoji": "👍"}, "NotFound"},
	}
	for _, c := range cases {
		if got := w.ev(c.user, c.name, c.data); got != c.want {
			t.Errorf("%s %s %.80v: %q, want %q", c.user, c.name, c.data, got, c.want)
		}
	}
	if m := w.message("room", id); m.Text != "hello" || len(m.Reactions) != 0 {
		t.Errorf("bad input changed the message: %+v", m)
	}
	for _, e := range []string{"👍", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "❤️", "🏳️‍🌈"} {
		if got := w.ev("bob", "react", map[string]any{"chatId": "room", "id": id, "emoji": e}); got != "" {
			t.Errorf("react %q: %q", e, got)
		}
	}
	// A sendToGroup's replyTo must be a message of the same chat.
	for _, r := range []int64{999, -3} {
		data := fmt.Sprintf(`{"message":"re","replyTo":%d}`, r)
		if got := w.send(w.conns["bob"], "room", data, 0); got != "BadRequest" {
			t.Errorf("reply to %d: %q, want BadRequest", r, got)
		}
	}
}

// Distinct emoji on one message are capped, and each user's reactions are
// rate limited: 10,000 attempts cost a bounded amount.
func TestReactionLimits(t *testing.T) {
	w := newWorld(t, chat.Config{})
	bob := w.connect("c-bob", "guest:bob", hub.ProtocolJSONReliable, nil)
	if got := w.send(bob, "room", `{"message":"hi"}`, 0); got != "" {
		t.Fatal(got)
	}
	refused, start := 0, time.Now()
	for i := range 10000 {
		e := string(rune(0x1F600 + i%80))
		if w.event(bob, "react", fmt.Sprintf(`{"chatId":"room","id":1,"emoji":%q}`, e)) == "TooManyRequests" {
			refused++
		}
	}
	m, err := w.store.GetMessage(context.Background(), "room", 1)
	if err != nil {
		t.Fatal(err)
	}
	// The budget: a burst of 20, then 5 a second.
	allowed := 20 + int(5*time.Since(start).Seconds()) + 1
	if len(m.Reactions) > chatr.MaxReactionKinds || refused < 10000-allowed {
		t.Errorf("after 10,000 reactions: %d kinds, %d refused, want at most %d allowed", len(m.Reactions), refused, allowed)
	}
	if n := len(w.hub.serverEvents("group", "reactionChanged")); n > allowed {
		t.Errorf("%d reactionChanged events for one user's burst, want at most %d", n, allowed)
	}
}

// Mentions are the members the @handles name, found by the server; a
// client's own list is ignored. Counts drop when the chat is read.
func TestMentions(t *testing.T) {
	w := newMsgWorld(t)
	data := `{"message":"hi @bob, @Frank and @carol; not me@alice.example or ` + "`@dave`" + `","mentions":{"users":["guest:alice"],"all":true}}`
	if got := w.send(w.conns["erin"], "room", data, 0); got != "Forbidden" {
		t.Fatalf("a non-member sends: %q", got)
	}
	if got := w.send(w.conns["alice"], "room", data, 0); got != "" {
		t.Fatal(got)
	}
	m := w.stored("room")[0]
	if strings.Join(m.Mentions.Users, ",") != "guest:bob,guest:frank" || m.Mentions.All {
		t.Fatalf("mentions %+v, want bob and frank only", m.Mentions)
	}
	var delivered struct {
		Mentions chatr.Mentions `json:"mentions"`
	}
	for _, c := range w.hub.calls() {
		if c.Kind == "group" && c.Target == "room" && !c.Msg.AsServer && c.Msg.DataType == "json" {
			json.Unmarshal(c.Msg.Data, &delivered)
		}
	}
	if len(delivered.Mentions.Users) != 2 {
		t.Errorf("delivered mentions %+v", delivered.Mentions)
	}
	counts, _ := w.store.MentionCounts(context.Background(), "guest:bob")
	if counts["room"] != 1 {
		t.Fatalf("bob's mention count %v", counts)
	}
	if got := w.ev("bob", "markRead", map[string]any{"chatId": "room", "messageId": m.ID}); got != "" {
		t.Fatal(got)
	}
	counts, _ = w.store.MentionCounts(context.Background(), "guest:bob")
	if counts["room"] != 0 {
		t.Errorf("bob's mention count after reading: %v", counts)
	}
	// An edit that drops a mention drops it from the count.
	id := w.post("alice", "room", "@frank again")
	if got := w.ev("alice", "editMessage", map[string]any{"chatId": "room", "id": id, "message": "nobody now"}); got != "" {
		t.Fatal(got)
	}
	counts, _ = w.store.MentionCounts(context.Background(), "guest:frank")
	if counts["room"] != 1 {
		t.Errorf("frank's mention count after the edit: %v, want 1", counts)
	}
	// The reader's devices learn that the chat was read, and what is left
	// to read as the store counts it.
	if targets, payloads := w.chatEvents("chatRead"); len(targets) != 1 || targets[0] != "user:guest:bob" ||
		!strings.Contains(payloads[0], `"messageId":1,"unread":0,"mentions":0`) {
		t.Errorf("chatRead went %v %v", targets, payloads)
	}
	w.post("alice", "room", "@bob once more")
	if got := w.ev("bob", "markRead", map[string]any{"chatId": "room", "messageId": id}); got != "" {
		t.Fatal(got)
	}
	want := fmt.Sprintf(`"messageId":%d,"unread":1,"mentions":1`, id)
	if _, payloads := w.chatEvents("chatRead"); len(payloads) != 2 || !strings.Contains(payloads[1], want) {
		t.Errorf("chatRead after reading the edited message: %v, want %s", payloads, want)
	}
}

// gatedStore holds AddMessage after the commit until open is closed, and
// tells when an edit has been stored.
type gatedStore struct {
	chatr.Store
	open   chan struct{}
	edited chan struct{}
}

func (s *gatedStore) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	stored, err := s.Store.AddMessage(ctx, m)
	<-s.open
	return stored, err
}

func (s *gatedStore) EditMessage(ctx context.Context, e chatr.MessageEdit) (chatr.Message, error) {
	m, err := s.Store.EditMessage(ctx, e)
	close(s.edited)
	return m, err
}

// An edit of a message that is stored but not yet handed on waits for it:
// members never get an edit before the message.
func TestEditAfterMessage(t *testing.T) {
	w := newWorld(t, chat.Config{})
	gs := &gatedStore{Store: w.store, open: make(chan struct{}), edited: make(chan struct{})}
	w.app = chat.New(chat.Config{Store: gs, OfflineGrace: -1})
	w.app.Attach(w.hub)
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSONReliable, nil)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		w.send(alice, "room", `{"message":"typo"}`, 1)
	}()
	waitFor(t, "the message stored", func() bool {
		_, err := w.store.GetMessage(context.Background(), "room", 1)
		return err == nil
	})
	go func() {
		defer wg.Done()
		if got := w.event(alice, "editMessage", `{"chatId":"room","id":1,"message":"fixed"}`); got != "" {
			t.Errorf("edit: %q", got)
		}
	}()
	<-gs.edited
	close(gs.open)
	wg.Wait()
	var order []string
	for _, c := range w.hub.calls() {
		if c.Kind == "group" && c.Target == "room" {
			if c.Msg.AsServer {
				order = append(order, "edit")
			} else {
				order = append(order, "message")
			}
		}
	}
	if strings.Join(order, ",") != "message,edit" {
		t.Errorf("hub got %v, want the message before its edit", order)
	}
}

// TestMentionHereAndAll: @here lists the members online now (not the
// sender, not an offline member); @all is counted for every member, and in
// a chat over MentionAllMax members only its owner and moderators may use
// it. Nobody gets "here" or "all" as a handle.
func TestMentionHereAndAll(t *testing.T) {
	w := newMsgWorld(t)
	ctx := context.Background()
	if err := w.store.UpsertUser(ctx, chatr.User{ID: "guest:gina", Name: "Gina", Provider: "guest"}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.AddMember(ctx, "room", chatr.Member{UserID: "guest:gina", UserName: "Gina"}); err != nil {
		t.Fatal(err)
	}
	w.post("alice", "room", "@here standup in 5")
	m := w.stored("room")[0]
	if !m.Mentions.Here || m.Mentions.All || strings.Join(m.Mentions.Users, ",") != "guest:bob,guest:dave,guest:frank" {
		t.Errorf("@here: %+v, want the online members but Alice: bob, dave, frank", m.Mentions)
	}
	if c, _ := w.store.MentionCounts(ctx, "guest:gina"); c["room"] != 0 {
		t.Errorf("offline gina's count after @here: %v", c)
	}
	// Five members, over the limit of four: a member may not @all, a moderator may.
	data, _ := json.Marshal(map[string]string{"message": "hey @all"})
	if got := w.send(w.conns["bob"], "room", string(data), 0); got != "Forbidden" {
		t.Errorf("a member's @all in a large chat: %q, want Forbidden", got)
	}
	w.post("dave", "room", "hey @ALL")
	if m := w.stored("room")[1]; !m.Mentions.All {
		t.Errorf("a moderator's @all: %+v", m.Mentions)
	}
	if c, _ := w.store.MentionCounts(ctx, "guest:gina"); c["room"] != 1 {
		t.Errorf("gina's count after @all: %v, want 1", c)
	}
	for _, name := range []string{"here", "All"} {
		u := chatr.User{ID: "guest:" + name, Name: name, Provider: "guest"}
		if err := w.store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, _ := w.store.GetUser(ctx, u.ID); got.Handle == chatr.MentionHere || got.Handle == chatr.MentionAll {
			t.Errorf("a user named %q got the handle %q", name, got.Handle)
		}
	}
}

package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
)

// The people of a room world: alice owns "room" (public unless asked
// otherwise), erin moderates it, bob and gina are members, carol is not
// one, dave is a server admin who is not one either, frank is nobody yet.
const (
	owner     = "guest:alice"
	moderator = "guest:erin"
	member    = "guest:bob"
	outsider  = "guest:carol"
	admin     = "guest:dave"
	target    = "guest:gina"
	newcomer  = "guest:frank"
)

// clock is a settable time for the application.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// roomWorld is a world with the people above; visibility is the room's.
func roomWorld(t *testing.T, visibility string) (*world, *clock) {
	t.Helper()
	return roomWorldOn(t, newWorld, visibility)
}

// roomWorldOn is roomWorld on the store that open (newWorld or
// newSQLiteWorld) makes.
func roomWorldOn(t *testing.T, open func(*testing.T, chat.Config) *world, visibility string) (*world, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	w := open(t, chat.Config{Admins: chatr.ParseAdmins(admin), Now: clk.now,
		Limits: chat.Limits{EventsPerSecond: 1000, EventBurst: 1000}})
	ctx := context.Background()
	for _, id := range []string{moderator, admin, target, newcomer} {
		name := strings.ToUpper(id[6:7]) + id[7:]
		if err := w.store.UpsertUser(ctx, chatr.User{ID: id, Name: name, Provider: "guest"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []chatr.Member{{UserID: moderator, UserName: "Erin"}, {UserID: target, UserName: "Gina"}} {
		if err := w.store.AddMember(ctx, "room", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.SetMemberRole(ctx, "room", moderator, chatr.RoleModerator); err != nil {
		t.Fatal(err)
	}
	if visibility != "" {
		if _, err := w.store.UpdateChat(ctx, "room", chatr.ChatUpdate{Visibility: &visibility}); err != nil {
			t.Fatal(err)
		}
	}
	return w, clk
}

// conn is a connection of the user, made without the hooks (enough for
// events that do not read the connection's groups).
func conn(userID string) *hub.ConnInfo {
	return &hub.ConnInfo{ID: "c-" + userID, UserID: userID, Protocol: hub.ProtocolJSON}
}

// ackOf names an error of the App's HTTP-facing methods as its ack would.
func ackOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	return map[string]string{
		chatr.EFORBIDDEN: "Forbidden", chatr.ENOTFOUND: "NotFound", chatr.EINVALID: "BadRequest",
		chatr.EGONE: "Gone", chatr.ECONFLICT: "Conflict", chatr.ELIMIT: "TooManyRequests",
	}[chatr.ErrorCode(err)]
}

// Who may do what, for each action, in a public and in a private room: a
// non-member of a private room is told it does not exist.
func TestRoomPermissions(t *testing.T) {
	ctx := context.Background()
	type outcome map[string]string // actor -> ack name
	actors := []string{owner, moderator, member, outsider, admin}
	actions := []struct {
		name string
		do   func(w *world, actor string) string
		// want in a public room; in a private one an outsider gets NotFound
		want outcome
	}{
		{"updateChat", func(w *world, actor string) string {
			return w.event(conn(actor), "updateChat", `{"chatId":"room","topic":"new topic"}`)
		}, outcome{owner: "", moderator: "", member: "Forbidden", outsider: "Forbidden", admin: ""}},
		{"inviteMembers", func(w *world, actor string) string {
			return w.event(conn(actor), "inviteMembers", `{"chatId":"room","userIds":["guest:frank"]}`)
		}, outcome{owner: "", moderator: "", member: "", outsider: "Forbidden", admin: ""}},
		{"inviteMembers by moderators only", func(w *world, actor string) string {
			if _, err := w.app.Event(ctx, conn(owner), &hub.Event{Name: "updateChat", DataType: "json", Data: []byte(`{"chatId":"room","invitePolicy":"moderators"}`)}); err != nil {
				t.Fatal(err)
			}
			return w.event(conn(actor), "inviteMembers", `{"chatId":"room","userIds":["guest:frank"]}`)
		}, outcome{owner: "", moderator: "", member: "Forbidden", outsider: "Forbidden", admin: ""}},
		{"removeMember", func(w *world, actor string) string {
			return w.event(conn(actor), "removeMember", `{"chatId":"room","userId":"guest:gina"}`)
		}, outcome{owner: "", moderator: "", member: "Forbidden", outsider: "Forbidden", admin: ""}},
		{"removeMember of a moderator", func(w *world, actor string) string {
			return w.event(conn(actor), "removeMember", `{"chatId":"room","userId":"guest:erin"}`)
		}, outcome{owner: "", moderator: "BadRequest", member: "Forbidden", outsider: "Forbidden", admin: ""}},
		{"removeMember of the owner", func(w *world, actor string) string {
			return w.event(conn(actor), "removeMember", `{"chatId":"room","userId":"guest:alice"}`)
		}, outcome{owner: "BadRequest", moderator: "Forbidden", member: "Forbidden", outsider: "Forbidden", admin: "Forbidden"}},
		{"setRole", func(w *world, actor string) string {
			return w.event(conn(actor), "setRole", `{"chatId":"room","userId":"guest:gina","role":"moderator"}`)
		}, outcome{owner: "", moderator: "Forbidden", member: "Forbidden", outsider: "Forbidden", admin: ""}},
		{"deleteChat", func(w *world, actor string) string {
			return w.event(conn(actor), "deleteChat", `"room"`)
		}, outcome{owner: "", moderator: "", member: "Forbidden", outsider: "Forbidden", admin: ""}},
		{"create invite", func(w *world, actor string) string {
			_, _, err := w.app.CreateInvite(ctx, actor, "room", chat.InviteOptions{})
			return ackOf(t, err)
		}, outcome{owner: "", moderator: "", member: "", outsider: "Forbidden", admin: ""}},
		{"list invites", func(w *world, actor string) string {
			_, err := w.app.Invites(ctx, actor, "room")
			return ackOf(t, err)
		}, outcome{owner: "", moderator: "", member: "", outsider: "Forbidden", admin: ""}},
		{"revoke another's invite", func(w *world, actor string) string {
			_, inv, err := w.app.CreateInvite(ctx, target, "room", chat.InviteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return ackOf(t, w.app.RevokeInvite(ctx, actor, "room", inv.TokenHash))
		}, outcome{owner: "", moderator: "", member: "Forbidden", outsider: "Forbidden", admin: ""}},
		{"use an invite", func(w *world, actor string) string {
			token, _, err := w.app.CreateInvite(ctx, owner, "room", chat.InviteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.app.UseInvite(ctx, actor, token)
			return ackOf(t, err)
		}, outcome{owner: "", moderator: "", member: "", outsider: "", admin: ""}},
	}
	for _, vis := range []string{chatr.VisibilityPublic, chatr.VisibilityPrivate} {
		for _, a := range actions {
			for _, actor := range actors {
				t.Run(vis+"/"+a.name+"/"+actor, func(t *testing.T) {
					w, _ := roomWorld(t, vis)
					want := a.want[actor]
					if vis == chatr.VisibilityPrivate && actor == outsider && a.name != "use an invite" {
						want = "NotFound"
					}
					if got := a.do(w, actor); got != want {
						t.Errorf("got %q, want %q", got, want)
					}
				})
			}
		}
	}
}

// A private room is visible to its members only, by every path the chat
// package serves; a non-member is answered as for a chat that does not
// exist, and hears nothing of it.
func TestPrivateRoomInvisible(t *testing.T) {
	ctx := context.Background()
	w, _ := roomWorld(t, "")
	carol := w.connect("c-carol", outsider, hub.ProtocolJSON, nil)
	alice := w.connect("c-alice", owner, hub.ProtocolJSON, nil)
	if got := w.event(alice, "createChat", `{"name":"Secret","id":"secret","visibility":"private","topic":"plans"}`); got != "" {
		t.Fatalf("createChat private: %s", got)
	}
	if got := w.event(alice, "inviteMembers", `{"chatId":"secret","userIds":["guest:bob"]}`); got != "" {
		t.Fatalf("inviteMembers: %s", got)
	}
	if got := w.event(alice, "updateChat", `{"chatId":"secret","name":"Secret plans"}`); got != "" {
		t.Fatalf("updateChat: %s", got)
	}
	for _, ev := range []struct{ name, data string }{
		{"joinChat", `"secret"`},
		{"leaveChat", `"secret"`},
		{"deleteChat", `"secret"`},
		{"updateChat", `{"chatId":"secret","topic":"x"}`},
		{"inviteMembers", `{"chatId":"secret","userIds":["guest:carol"]}`},
		{"removeMember", `{"chatId":"secret","userId":"guest:bob"}`},
		{"setRole", `{"chatId":"secret","userId":"guest:bob","role":"moderator"}`},
		{"markRead", `{"chatId":"secret","messageId":1}`},
		{"typing", `{"chatId":"secret"}`},
	} {
		got := w.event(carol, ev.name, ev.data)
		if got != "NotFound" && !(ev.name == "typing" && got == "Forbidden") {
			t.Errorf("%s by a non-member: %q, want NotFound", ev.name, got)
		}
	}
	// The same answers as for a chat that does not exist.
	if got, none := w.event(carol, "joinChat", `"secret"`), w.event(carol, "joinChat", `"nothing-here"`); got != none {
		t.Errorf("joinChat of a private chat %q, of none %q", got, none)
	}
	if err := w.app.Join(ctx, carol, "secret"); err == nil {
		t.Error("a non-member joined the private chat's group")
	}
	for name, err := range map[string]error{
		"Chat":    func() error { _, err := w.app.Chat(ctx, outsider, "secret"); return err }(),
		"Members": func() error { _, err := w.app.Members(ctx, outsider, "secret"); return err }(),
		"CreateInvite": func() error {
			_, _, err := w.app.CreateInvite(ctx, outsider, "secret", chat.InviteOptions{})
			return err
		}(),
		"Invites": func() error { _, err := w.app.Invites(ctx, outsider, "secret"); return err }(),
	} {
		if chatr.ErrorCode(err) != chatr.ENOTFOUND {
			t.Errorf("%s by a non-member: %v, want not found", name, err)
		}
	}
	// Nothing about it went to everyone, and its events went to its
	// members' group or connections only.
	for _, c := range w.hub.calls() {
		if strings.Contains(string(c.Msg.Data), "secret") && (c.Target == "~chats" || c.Target == outsider || c.Target == "c-carol") {
			t.Errorf("sent to %s %s: %s", c.Kind, c.Target, c.Msg.Data)
		}
	}
	if w.hub.InGroup("c-carol", "secret") {
		t.Error("carol's connection is in the private chat's group")
	}
	// Bob, invited, sees it; the view shows his role.
	v, err := w.app.Chat(ctx, member, "secret")
	if err != nil || !v.Joined || v.Role != chatr.RoleMember || v.Visibility != chatr.VisibilityPrivate || v.Name != "Secret plans" || v.Topic != "plans" {
		t.Errorf("bob's view %+v, %v", v, err)
	}
	// Deleting it tells its members, not everyone.
	if got := w.event(alice, "deleteChat", `"secret"`); got != "" {
		t.Fatalf("deleteChat: %s", got)
	}
	if got := w.hub.serverEventsTo("group", "~chats", "chatDeleted"); len(got) != 0 {
		t.Errorf("chatDeleted of a private chat sent to the list of public chats: %q", got)
	}
	if got := w.hub.serverEvents("group", "chatDeleted"); len(got) != 1 || got[0] != "secret" {
		t.Errorf("chatDeleted to the group: %q", got)
	}
}

// A public chat is announced to the connections that list public chats
// and to its creator; its name is unique ignoring case,
// and the taken name is answered Conflict (an existing id stays
// Duplicate, as the original client expects).
func TestCreateChatNamesAndVisibility(t *testing.T) {
	w, _ := roomWorld(t, "")
	alice := w.connect("c-alice", owner, hub.ProtocolJSON, nil)
	if got := w.event(alice, "createChat", `{"name":"General","id":"general","topic":"all hands"}`); got != "" {
		t.Fatalf("createChat: %s", got)
	}
	if got := w.event(alice, "createChat", `{"name":" general ","id":"general2"}`); got != "Conflict" {
		t.Errorf("a taken public name: %q, want Conflict", got)
	}
	if got := w.event(alice, "createChat", `{"name":"Other","id":"general"}`); got != "Duplicate" {
		t.Errorf("an existing id: %q, want Duplicate", got)
	}
	if got := w.event(alice, "createChat", `{"name":"General","id":"general3","visibility":"private"}`); got != "" {
		t.Errorf("a private chat may share a public name: %q", got)
	}
	if got := w.event(alice, "createChat", `{"name":"X","visibility":"secret"}`); got != "BadRequest" {
		t.Errorf("unknown visibility: %q", got)
	}
	if got := w.event(alice, "updateChat", `{"chatId":"room","name":"GENERAL"}`); got != "Conflict" {
		t.Errorf("renaming to a taken name: %q, want Conflict", got)
	}
	created := w.hub.serverEventsTo("group", "~chats", "chatCreated")
	if len(created) != 1 {
		t.Fatalf("chatCreated to the list of public chats: %q", created)
	}
	var v chat.ChatView
	if err := json.Unmarshal([]byte(created[0]), &v); err != nil || v.ID != "general" || v.Kind != chatr.KindGroup ||
		v.Visibility != chatr.VisibilityPublic || v.Topic != "all hands" || v.Owner != owner {
		t.Errorf("chatCreated %s (%v)", created[0], err)
	}
	if mine := w.hub.serverEvents("user", "chatCreated"); len(mine) != 2 || !strings.Contains(mine[0], `"general"`) || !strings.Contains(mine[1], `"general3"`) {
		t.Errorf("chatCreated to the creator, of the public and the private chat: %q", mine)
	}
}

// Invites by name: the new member's connections get addedToChat and join
// the chat's group; the members hear memberJoined.
func TestInviteMembersNotifies(t *testing.T) {
	w, _ := roomWorld(t, chatr.VisibilityPrivate)
	alice := w.connect("c-alice", owner, hub.ProtocolJSON, nil)
	w.connect("c-frank", newcomer, hub.ProtocolJSON, nil)
	if got := w.event(alice, "inviteMembers", `{"chatId":"room","userIds":["guest:frank"]}`); got != "" {
		t.Fatalf("inviteMembers: %s", got)
	}
	added := w.hub.serverEvents("user", "addedToChat")
	if len(added) != 1 || !strings.Contains(added[0], `"joined":true`) || !strings.Contains(added[0], `"role":"member"`) {
		t.Errorf("addedToChat %q", added)
	}
	if !w.hub.InGroup("c-frank", "room") {
		t.Error("frank's connection is not in the chat's group")
	}
	joined := w.hub.serverEvents("group", "memberJoined")
	if len(joined) != 1 || !strings.Contains(joined[0], newcomer) {
		t.Errorf("memberJoined %q", joined)
	}
	for _, bad := range []string{
		`{"chatId":"room","userIds":[]}`,
		`{"chatId":"room","userIds":["guest:nobody"]}`,
		`{"chatId":"room","userIds":` + manyIDs(chat.MaxInviteBatch+1) + `}`,
	} {
		if got := w.event(alice, "inviteMembers", bad); got != "BadRequest" && got != "NotFound" {
			t.Errorf("inviteMembers %.60s: %q", bad, got)
		}
	}
	// Removal takes the user's connections out of the group and tells them.
	if got := w.event(alice, "removeMember", `{"chatId":"room","userId":"guest:frank"}`); got != "" {
		t.Fatalf("removeMember: %s", got)
	}
	if w.hub.InGroup("c-frank", "room") {
		t.Error("a removed member's connection is still in the group")
	}
	if got := w.hub.serverEvents("user", "removedFromChat"); len(got) != 1 || !strings.Contains(got[0], `"by":"guest:alice"`) {
		t.Errorf("removedFromChat %q", got)
	}
}

func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("guest:u%d", i)
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// Invite links: forged, expired, used up and revoked tokens, and users
// racing for the last use.
func TestInviteLinks(t *testing.T) {
	ctx := context.Background()
	w, clk := roomWorld(t, chatr.VisibilityPrivate)
	use := func(userID, token string) error { _, err := w.app.UseInvite(ctx, userID, token); return err }

	if err := use(outsider, "forged-token"); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("forged token: %v", err)
	}
	token, inv, err := w.app.CreateInvite(ctx, owner, "room", chat.InviteOptions{Lifetime: time.Hour, MaxUses: 2})
	if err != nil {
		t.Fatal(err)
	}
	if inv.TokenHash != chat.HashInviteToken(token) || strings.Contains(inv.TokenHash, token) || len(token) < 40 {
		t.Errorf("token %q stored as %q", token, inv.TokenHash)
	}
	if err := use(outsider, token[:len(token)-1]+"x"); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("altered token: %v", err)
	}
	v, err := w.app.UseInvite(ctx, outsider, token)
	if err != nil || !v.Joined || v.ID != "room" {
		t.Fatalf("use: %+v %v", v, err)
	}
	if err := use(outsider, token); err != nil {
		t.Errorf("a member using the link again: %v", err)
	}
	if err := use(newcomer, token); err != nil {
		t.Errorf("second use: %v", err)
	}
	if err := use(admin, token); !errors.Is(err, chatr.ErrInviteUsedUp) {
		t.Errorf("third use of a 2-use link: %v", err)
	}

	expiring, _, err := w.app.CreateInvite(ctx, owner, "room", chat.InviteOptions{Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	revoked, rinv, err := w.app.CreateInvite(ctx, member, "room", chat.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.app.RevokeInvite(ctx, member, "room", rinv.TokenHash); err != nil {
		t.Fatalf("revoking one's own invite: %v", err)
	}
	if err := w.app.RevokeInvite(ctx, member, "room", "0000"); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("revoking an unknown invite: %v", err)
	}
	clk.add(time.Minute)
	if err := use(admin, expiring); !errors.Is(err, chatr.ErrInviteExpired) {
		t.Errorf("expired: %v", err)
	}
	if err := use(admin, revoked); !errors.Is(err, chatr.ErrInviteRevoked) {
		t.Errorf("revoked: %v", err)
	}
	for _, o := range []chat.InviteOptions{{Lifetime: time.Second}, {Lifetime: 400 * 24 * time.Hour}, {MaxUses: -1}} {
		if _, _, err := w.app.CreateInvite(ctx, owner, "room", o); chatr.ErrorCode(err) != chatr.EINVALID {
			t.Errorf("CreateInvite %+v: %v", o, err)
		}
	}
	// The member sees their own invites, the owner all of them.
	mine, err := w.app.Invites(ctx, member, "room")
	if err != nil || len(mine) != 1 || !mine[0].Revoked {
		t.Errorf("bob's invites %+v %v", mine, err)
	}
	all, err := w.app.Invites(ctx, owner, "room")
	if err != nil || len(all) != 3 {
		t.Errorf("the owner's invites: %d %v", len(all), err)
	}
}

// Of users racing for an invite's last use, exactly one joins (on SQLite,
// whose transactions are the real ones).
func TestInviteLastUseRace(t *testing.T) {
	ctx := context.Background()
	w, _ := roomWorldOn(t, newSQLiteWorld, chatr.VisibilityPrivate)
	token, _, err := w.app.CreateInvite(ctx, owner, "room", chat.InviteOptions{MaxUses: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	for i := range n {
		if err := w.store.UpsertUser(ctx, chatr.User{ID: fmt.Sprintf("guest:r%d", i), Name: "R", Provider: "guest"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.app.UseInvite(ctx, fmt.Sprintf("guest:r%d", i), token)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, chatr.ErrInviteUsedUp):
			t.Errorf("a loser got %v, want used up", err)
		}
	}
	if won != 1 {
		t.Errorf("%d users won the last use, want 1", won)
	}
	if joined := w.hub.serverEvents("group", "memberJoined"); len(joined) != 1 {
		t.Errorf("memberJoined sent %d times", len(joined))
	}
}

// A group DM: 3 to 9 people, one chat per set of people, and every member
// is told with the members listed.
func TestGroupDM(t *testing.T) {
	ctx := context.Background()
	w, _ := roomWorld(t, "")
	alice := w.connect("c-alice", owner, hub.ProtocolJSON, nil)
	if got := w.event(alice, "createGroupDM", `{"userIds":["guest:bob","guest:carol"]}`); got != "" {
		t.Fatalf("createGroupDM: %s", got)
	}
	id, _ := chatr.GroupDMID([]string{owner, member, outsider})
	told := map[string]bool{}
	for _, c := range w.hub.calls() {
		var ev struct{ ChatEvent, Data string }
		if c.Kind != "user" || json.Unmarshal(c.Msg.Data, &ev) != nil || ev.ChatEvent != "joinPrivateChat" {
			continue
		}
		var pc struct {
			ID, Name  string
			GrabFocus bool
			Members   map[string]chat.MemberView
		}
		if err := json.Unmarshal([]byte(ev.Data), &pc); err != nil || pc.ID != id || len(pc.Members) != 3 {
			t.Errorf("joinPrivateChat to %s: %s", c.Target, ev.Data)
		}
		if pc.GrabFocus != (c.Target == owner) {
			t.Errorf("grabFocus %v for %s", pc.GrabFocus, c.Target)
		}
		if c.Target == owner && pc.Name != "Chat with Bob, Carol" {
			t.Errorf("alice's name for it: %q", pc.Name)
		}
		told[c.Target] = true
	}
	if len(told) != 3 {
		t.Errorf("joinPrivateChat went to %v", told)
	}
	if got := w.event(conn(outsider), "createGroupDM", `{"userIds":["guest:bob","guest:alice"]}`); got != "" {
		t.Errorf("the same people again: %s", got)
	}
	chats, _ := w.store.ListUserChats(ctx, outsider)
	n := 0
	for _, c := range chats {
		if c.Kind() == chatr.KindGroupDM {
			n++
		}
	}
	if n != 1 {
		t.Errorf("carol is in %d group DMs, want 1", n)
	}
	v, err := w.app.Chat(ctx, member, id)
	if err != nil || v.Kind != chatr.KindGroupDM || !v.Private {
		t.Errorf("bob's view %+v %v", v, err)
	}
	if _, err := w.app.Chat(ctx, target, id); chatr.ErrorCode(err) != chatr.ENOTFOUND {
		t.Errorf("a non-member's view: %v", err)
	}
	for _, bad := range []string{`{"userIds":["guest:bob"]}`, `{"userIds":["guest:bob","guest:bob"]}`, `{"userIds":` + manyIDs(9) + `}`, `{"userIds":["guest:bob","guest:nobody"]}`} {
		if got := w.event(alice, "createGroupDM", bad); got != "BadRequest" && got != "NotFound" {
			t.Errorf("createGroupDM %.50s: %q", bad, got)
		}
	}
	if got := w.event(alice, "deleteChat", `"`+id+`"`); got != "Forbidden" {
		t.Errorf("deleting a group DM: %q", got)
	}
}

// An owner who leaves hands the chat to a moderator, else to the member
// who joined first; members hear the role change.
func TestOwnerHandOverOnLeave(t *testing.T) {
	ctx := context.Background()
	w, _ := roomWorld(t, "")
	if got := w.event(conn(owner), "leaveChat", `"room"`); got != "" {
		t.Fatalf("leaveChat: %s", got)
	}
	c, _ := w.store.GetChat(ctx, "room")
	if c.Owner != moderator {
		t.Errorf("owner after alice left: %q, want the moderator", c.Owner)
	}
	if got := w.hub.serverEvents("group", "memberRoleChanged"); len(got) == 0 || !strings.Contains(got[0], `"userId":"guest:erin","role":"owner"`) {
		t.Errorf("memberRoleChanged %q", got)
	}
	// Without a moderator, the longest member.
	if got := w.event(conn(moderator), "leaveChat", `"room"`); got != "" {
		t.Fatalf("leaveChat: %s", got)
	}
	c, _ = w.store.GetChat(ctx, "room")
	if c.Owner != member {
		t.Errorf("owner after erin left: %q, want bob (joined first)", c.Owner)
	}
	if m, _ := w.store.GetMember(ctx, "room", member); m.Role != chatr.RoleOwner {
		t.Errorf("bob's role %q", m.Role)
	}
}

// setRole hands out roles; owner hands the chat over.
func TestSetRole(t *testing.T) {
	ctx := context.Background()
	w, _ := roomWorld(t, "")
	if got := w.event(conn(owner), "setRole", `{"chatId":"room","userId":"guest:bob","role":"owner"}`); got != "" {
		t.Fatalf("setRole owner: %s", got)
	}
	if m, _ := w.store.GetMember(ctx, "room", owner); m.Role != chatr.RoleModerator {
		t.Errorf("the previous owner is %q, want moderator", m.Role)
	}
	if got := w.event(conn(owner), "setRole", `{"chatId":"room","userId":"guest:gina","role":"moderator"}`); got != "Forbidden" {
		t.Errorf("a former owner handing out roles: %q", got)
	}
	for _, bad := range []string{`{"chatId":"room","userId":"guest:gina","role":"king"}`, `{"chatId":"room","userId":"guest:carol","role":"member"}`} {
		if got := w.event(conn(member), "setRole", bad); got != "BadRequest" && got != "NotFound" {
			t.Errorf("setRole %s: %q", bad, got)
		}
	}
}

// Every moderation action is in the log.
func TestModerationLogged(t *testing.T) {
	ctx := context.Background()
	w, _ := roomWorld(t, "")
	for _, ev := range []struct{ actor, name, data string }{
		{admin, "updateChat", `{"chatId":"room","topic":"moderated"}`},
		{moderator, "removeMember", `{"chatId":"room","userId":"guest:gina"}`},
		{owner, "setRole", `{"chatId":"room","userId":"guest:bob","role":"moderator"}`},
		{admin, "deleteChat", `"room"`},
	} {
		if got := w.event(conn(ev.actor), ev.name, ev.data); got != "" {
			t.Fatalf("%s: %s", ev.name, got)
		}
	}
	log, err := w.store.ListModEvents(ctx, chatr.ModEventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		got = append(got, e.Actor+" "+e.Action+" "+e.TargetUser+" "+e.ChatID)
	}
	want := []string{
		"guest:dave deleteChat  room",
		"guest:alice setRole guest:bob room",
		"guest:erin removeMember guest:gina room",
		"guest:dave updateChat  room",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Members with their presence.
func TestMembersWithPresence(t *testing.T) {
	ctx := context.Background()
	w, _ := roomWorld(t, "")
	w.connect("c-bob", member, hub.ProtocolJSON, nil)
	ms, err := w.app.Members(ctx, outsider, "room")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]chat.MemberInfo{}
	for _, m := range ms {
		got[m.UserID] = m
	}
	if len(ms) != 4 || !got[member].Online || got[owner].Online || got[owner].Role != chatr.RoleOwner || got[moderator].Role != chatr.RoleModerator || got[member].Handle == "" {
		t.Errorf("members %+v", ms)
	}
}

// A user's memberJoined in two chats are two batch items: a connection in
// both chats must not lose one to the other.
func TestMemberEventsKeyedPerChat(t *testing.T) {
	w, _ := roomWorld(t, "")
	if got := w.event(conn(owner), "createChat", `{"name":"Second","id":"second"}`); got != "" {
		t.Fatal(got)
	}
	for _, chatID := range []string{"room", "second"} {
		if got := w.event(conn(newcomer), "joinChat", `"`+chatID+`"`); got != "" {
			t.Fatal(got)
		}
	}
	keys := map[string]bool{}
	for _, c := range w.hub.calls() {
		if c.Kind == "group" && c.Msg.Batch != nil && strings.Contains(string(c.Msg.Data), "memberJoined") {
			keys[c.Msg.Batch.Key] = true
		}
	}
	if len(keys) != 2 {
		t.Errorf("memberJoined batch keys %v, want one per chat", keys)
	}
}

package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// runRooms is the conformance group of chatr.RoomStore, and of what it
// adds to the older methods (defaults, name uniqueness, roles, handles).
func runRooms(t *testing.T, open func(t *testing.T) chatr.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chatr.Store)
	}{
		{"ChatDefaults", testChatDefaults},
		{"ChatKinds", testChatKinds},
		{"PublicNamesUnique", testPublicNamesUnique},
		{"UpdateChat", testUpdateChat},
		{"RenameRace", testRenameRace},
		{"CreateSameNameRace", testCreateSameNameRace},
		{"Roles", testRoles},
		{"LastMessageAt", testLastMessageAt},
		{"Handles", testHandles},
		{"HandlesConcurrent", testHandlesConcurrent},
		{"SetUserName", testSetUserName},
		{"SearchUsers", testSearchUsers},
		{"SetBanned", testSetBanned},
		{"Invites", testInvites},
		{"UseInvite", testUseInvite},
		{"UseInviteLastUseRace", testUseInviteRace},
		{"DeleteChatDeletesInvites", testDeleteChatInvites},
		{"ModEvents", testModEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// withoutRoomFields lets the older tests compare users, chats and members
// as they knew them: the fields RoomStore added are cleared in got where
// want leaves them zero. The Rooms group compares with exact.
func withoutRoomFields(got, want any) any {
	switch g := got.(type) {
	case chatr.User:
		w, _ := want.(chatr.User)
		if w.Handle == "" {
			g.Handle = ""
		}
		return g
	case chatr.Chat:
		w, _ := want.(chatr.Chat)
		if w.Visibility == "" {
			g.Visibility = ""
		}
		if w.InvitePolicy == "" {
			g.InvitePolicy = ""
		}
		if w.LastMessageAt.IsZero() {
			g.LastMessageAt = time.Time{}
		}
		return g
	case chatr.Member:
		w, _ := want.(chatr.Member)
		if w.Role == "" {
			g.Role = ""
		}
		return g
	case []chatr.User:
		w, _ := want.([]chatr.User)
		return eachWithout(g, w)
	case []chatr.Chat:
		w, _ := want.([]chatr.Chat)
		return eachWithout(g, w)
	case []chatr.Member:
		w, _ := want.([]chatr.Member)
		return eachWithout(g, w)
	}
	return got
}

func eachWithout[T any](got, want []T) []T {
	if got == nil {
		return nil
	}
	out := make([]T, len(got))
	for i, g := range got {
		var w T
		if i < len(want) {
			w = want[i]
		}
		out[i] = withoutRoomFields(g, w).(T)
	}
	return out
}

// exact fails the test unless got and want print alike.
func exact(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func is(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func getChat(t *testing.T, s chatr.Store, id string) chatr.Chat {
	t.Helper()
	c, err := s.GetChat(t.Context(), id)
	ok(t, "GetChat "+id, err)
	return c
}

func named(id, name string) chatr.Chat {
	return chatr.Chat{ID: id, Name: name, Owner: "guest:owner", Created: at(0)}
}

func ptr(s string) *string { return &s }

func testChatDefaults(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, named("g", "General"))
	want := named("g", "General")
	want.Visibility, want.InvitePolicy = chatr.VisibilityPublic, chatr.InviteByMembers
	exact(t, "group chat with defaults", getChat(t, s, "g"), want)

	p := private("guest:a", "guest:b", at(0))
	mustChat(t, s, p)
	p.Visibility, p.InvitePolicy = chatr.VisibilityPrivate, chatr.InviteByMembers
	exact(t, "direct message with defaults", getChat(t, s, p.ID), p)

	secret := chatr.Chat{ID: "s", Name: "Secret", Owner: "guest:owner", Created: at(0), Topic: "psst",
		Visibility: chatr.VisibilityPrivate, InvitePolicy: chatr.InviteByModerators}
	mustChat(t, s, secret)
	exact(t, "private group chat", getChat(t, s, "s"), secret)

	for _, bad := range []chatr.Chat{
		{ID: "b1", Name: "x", Visibility: "hidden"},
		{ID: "b2", Name: "x", InvitePolicy: "anyone"},
		{ID: chatr.PrivateChatID("guest:c", "guest:d"), Name: "x", Private: true, Visibility: chatr.VisibilityPublic},
	} {
		code(t, "CreateChat "+bad.ID, s.CreateChat(ctx, bad), chatr.EINVALID)
		_, err := s.GetChat(ctx, bad.ID)
		code(t, "GetChat of a refused chat", err, chatr.ENOTFOUND)
	}
	groups, err := s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "public group chats only", chatIDs(groups), []string{"g"})
}

func testChatKinds(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	id, err := chatr.GroupDMID([]string{"guest:c", "guest:a", "guest:b", "guest:a"})
	ok(t, "GroupDMID", err)
	id2, _ := chatr.GroupDMID([]string{"guest:b", "guest:c", "guest:a"})
	same(t, "GroupDMID of the same set", id2, id)
	_, err = chatr.GroupDMID([]string{"guest:a", "guest:b"})
	code(t, "GroupDMID of two", err, chatr.EINVALID)

	mustChat(t, s, chatr.Chat{ID: id, Name: "a, b, c", Private: true, Created: at(0)})
	mustChat(t, s, private("guest:a", "guest:b", at(time.Second)))
	mustChat(t, s, named("g", "General"))
	for _, u := range []string{"guest:a", "guest:b", "guest:c"} {
		mustMember(t, s, id, member(u, at(0)))
	}
	mustMember(t, s, chatr.PrivateChatID("guest:a", "guest:b"), member("guest:a", at(0)))
	mustMember(t, s, "g", member("guest:a", at(0)))
	chats, err := s.ListUserChats(ctx, "guest:a")
	ok(t, "ListUserChats", err)
	var kinds []string
	for _, c := range chats {
		kinds = append(kinds, c.Kind())
	}
	same(t, "kinds of the user's chats", kinds, []string{chatr.KindGroupDM, chatr.KindGroup, chatr.KindDirect})
	groups, err := s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "group chats", chatIDs(groups), []string{"g"})
}

func testPublicNamesUnique(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, named("a", "General"))
	code(t, "a second public chat named general", s.CreateChat(ctx, named("b", " general")), chatr.ECONFLICT)
	_, err := s.GetChat(ctx, "b")
	code(t, "GetChat of the refused chat", err, chatr.ENOTFOUND)

	secret := named("p", "GENERAL")
	secret.Visibility = chatr.VisibilityPrivate
	mustChat(t, s, secret)
	mustChat(t, s, private("guest:a", "guest:b", at(0)))
	dm := private("guest:a", "guest:c", at(0))
	dm.Name = "guest:a & guest:b"
	mustChat(t, s, dm) // direct messages share names freely

	_, err = s.UpdateChat(ctx, "p", chatr.ChatUpdate{Visibility: ptr(chatr.VisibilityPublic)})
	code(t, "making public a private chat with a taken name", err, chatr.ECONFLICT)
	same(t, "visibility after the refusal", getChat(t, s, "p").Visibility, chatr.VisibilityPrivate)

	mustChat(t, s, named("c", "Random"))
	_, err = s.UpdateChat(ctx, "c", chatr.ChatUpdate{Name: ptr("general")})
	code(t, "renaming to a taken name", err, chatr.ECONFLICT)
	same(t, "name after the refusal", getChat(t, s, "c").Name, "Random")

	_, err = s.UpdateChat(ctx, "a", chatr.ChatUpdate{Name: ptr("Lobby")})
	ok(t, "rename General to Lobby", err)
	_, err = s.UpdateChat(ctx, "c", chatr.ChatUpdate{Name: ptr("general")})
	ok(t, "renaming to a freed name", err)
	code(t, "a chat named like the renamed one", s.CreateChat(ctx, named("d", "lobby")), chatr.ECONFLICT)
	_, err = s.UpdateChat(ctx, "c", chatr.ChatUpdate{Name: ptr("General")})
	ok(t, "changing only the case of its own name", err)

	ok(t, "DeleteChat", s.DeleteChat(ctx, "a"))
	mustChat(t, s, named("d", "lobby"))
}

func testUpdateChat(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, named("g", "General"))
	got, err := s.UpdateChat(ctx, "g", chatr.ChatUpdate{Topic: ptr("Anything goes"), InvitePolicy: ptr(chatr.InviteByModerators)})
	ok(t, "UpdateChat", err)
	want := named("g", "General")
	want.Topic, want.Visibility, want.InvitePolicy = "Anything goes", chatr.VisibilityPublic, chatr.InviteByModerators
	exact(t, "UpdateChat's answer", got, want)
	exact(t, "GetChat after UpdateChat", getChat(t, s, "g"), want)

	got, err = s.UpdateChat(ctx, "g", chatr.ChatUpdate{Name: ptr("Staff"), Visibility: ptr(chatr.VisibilityPrivate), Topic: ptr("")})
	ok(t, "UpdateChat to private", err)
	want.Name, want.Visibility, want.Topic = "Staff", chatr.VisibilityPrivate, ""
	exact(t, "private chat", got, want)
	groups, err := s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "group chats once private", len(groups), 0)

	_, err = s.UpdateChat(ctx, "missing", chatr.ChatUpdate{Topic: ptr("x")})
	code(t, "UpdateChat of a missing chat", err, chatr.ENOTFOUND)
	for _, u := range []chatr.ChatUpdate{{Name: ptr("")}, {Visibility: ptr("hidden")}, {InvitePolicy: ptr("all")}, {Topic: ptr("a\x00b")}} {
		_, err = s.UpdateChat(ctx, "g", u)
		code(t, "a bad update", err, chatr.EINVALID)
	}
	exact(t, "chat after bad updates", getChat(t, s, "g"), want)

	p := private("guest:a", "guest:b", at(0))
	mustChat(t, s, p)
	_, err = s.UpdateChat(ctx, p.ID, chatr.ChatUpdate{Visibility: ptr(chatr.VisibilityPublic)})
	code(t, "making a direct message public", err, chatr.EINVALID)
}

func testRenameRace(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	for round := range 5 {
		a, b, name := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round), fmt.Sprintf("Same %d", round)
		mustChat(t, s, named(a, "first "+a))
		mustChat(t, s, named(b, "second "+b))
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, id := range []string{a, b} {
			wg.Go(func() { _, errs[i] = s.UpdateChat(ctx, id, chatr.ChatUpdate{Name: ptr(name)}) })
		}
		wg.Wait()
		codes := []string{chatr.ErrorCode(errs[0]), chatr.ErrorCode(errs[1])}
		slices.Sort(codes)
		same(t, "error codes of two renames to one name", codes, []string{"", chatr.ECONFLICT})
		winner := a
		if errs[0] != nil {
			winner = b
		}
		same(t, "the winner's name", getChat(t, s, winner).Name, name)
	}
}

func testCreateSameNameRace(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateChat(ctx, named(fmt.Sprintf("c%d", i), "Popular")) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			code(t, "a loser of the race", err, chatr.ECONFLICT)
		}
	}
	same(t, "chats created under one name", won, 1)
	groups, err := s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "group chats", len(groups), 1)
}

func testRoles(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, named("g", "General"))
	mustMember(t, s, "g", member("guest:owner", at(0)))
	mustMember(t, s, "g", member("guest:a", at(time.Second)))
	mod := member("guest:m", at(2*time.Second))
	mod.Role = chatr.RoleModerator
	mustMember(t, s, "g", mod)
	fake := member("guest:f", at(3*time.Second))
	fake.Role = chatr.RoleOwner
	mustMember(t, s, "g", fake) // only the chat's Owner is an owner

	roles := func() []string {
		ms, err := s.ListMembers(ctx, "g")
		ok(t, "ListMembers", err)
		var out []string
		for _, m := range ms {
			out = append(out, m.UserID+"="+m.Role)
		}
		return out
	}
	same(t, "roles", roles(), []string{"guest:owner=owner", "guest:a=member", "guest:m=moderator", "guest:f=member"})

	m, err := s.GetMember(ctx, "g", "guest:a")
	ok(t, "GetMember", err)
	want := member("guest:a", at(time.Second))
	want.Role = chatr.RoleMember
	exact(t, "GetMember", m, want)
	_, err = s.GetMember(ctx, "g", "guest:nobody")
	code(t, "GetMember of a non-member", err, chatr.ENOTFOUND)
	_, err = s.GetMember(ctx, "missing", "guest:a")
	code(t, "GetMember of a missing chat", err, chatr.ENOTFOUND)

	ok(t, "SetMemberRole moderator", s.SetMemberRole(ctx, "g", "guest:a", chatr.RoleModerator))
	ok(t, "SetMemberRole member", s.SetMemberRole(ctx, "g", "guest:m", chatr.RoleMember))
	same(t, "roles after changes", roles(), []string{"guest:owner=owner", "guest:a=moderator", "guest:m=member", "guest:f=member"})
	code(t, "lowering the owner", s.SetMemberRole(ctx, "g", "guest:owner", chatr.RoleMember), chatr.EINVALID)
	code(t, "an unknown role", s.SetMemberRole(ctx, "g", "guest:a", "admin"), chatr.EINVALID)
	code(t, "a role for a non-member", s.SetMemberRole(ctx, "g", "guest:nobody", chatr.RoleModerator), chatr.ENOTFOUND)
	code(t, "a role in a missing chat", s.SetMemberRole(ctx, "missing", "guest:a", chatr.RoleModerator), chatr.ENOTFOUND)

	ok(t, "a new owner", s.SetMemberRole(ctx, "g", "guest:m", chatr.RoleOwner))
	same(t, "roles after the transfer", roles(), []string{"guest:owner=moderator", "guest:a=moderator", "guest:m=owner", "guest:f=member"})
	same(t, "the chat's owner", getChat(t, s, "g").Owner, "guest:m")
	ok(t, "making the owner owner again", s.SetMemberRole(ctx, "g", "guest:m", chatr.RoleOwner))
	same(t, "the chat's owner", getChat(t, s, "g").Owner, "guest:m")
}

func testLastMessageAt(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	mustChat(t, s, private("guest:a", "guest:b", at(time.Second)))
	mustMember(t, s, "g", member("guest:a", at(0)))
	mustMember(t, s, chatr.PrivateChatID("guest:a", "guest:b"), member("guest:a", at(0)))
	m := msg("g", "guest:a", "one")
	m.Time = at(time.Hour)
	mustMessage(t, s, m)
	m.Time = at(2 * time.Hour)
	mustMessage(t, s, m)
	chats, err := s.ListUserChats(ctx, "guest:a")
	ok(t, "ListUserChats", err)
	var got []time.Time
	for _, c := range chats {
		got = append(got, c.LastMessageAt)
	}
	same(t, "LastMessageAt", got, []time.Time{at(2 * time.Hour), {}})
}

func handles(us []chatr.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Handle)
	}
	return out
}

func testHandles(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	for i, u := range []chatr.User{
		user("guest:1", "Bob"), user("guest:2", "bob"), user("guest:3", "Bob"),
		{ID: "github:9", Name: "Octo Cat", Handle: "Octo-Cat", Provider: "github"},
		user("guest:4", "  Jean-Luc  Picard!"), user("guest:5", "日本"), user("guest:6", "bob2"),
	} {
		_ = i
		mustUser(t, s, u)
	}
	var got []string
	for _, id := range []string{"guest:1", "guest:2", "guest:3", "github:9", "guest:4", "guest:5", "guest:6"} {
		u, err := s.GetUser(ctx, id)
		ok(t, "GetUser", err)
		got = append(got, u.Handle)
	}
	same(t, "handles", got, []string{"bob", "bob2", "bob3", "octo-cat", "jean-luc_picard", "user", "bob22"})

	mustUser(t, s, user("guest:1", "Robert"))
	u, err := s.GetUser(ctx, "guest:1")
	ok(t, "GetUser", err)
	same(t, "handle after a new name", u.Handle, "bob")

	u, err = s.GetUserByHandle(ctx, "@BOB2")
	ok(t, "GetUserByHandle", err)
	want := user("guest:2", "bob")
	want.Handle = "bob2"
	exact(t, "GetUserByHandle", u, want)
	_, err = s.GetUserByHandle(ctx, "nobody")
	code(t, "GetUserByHandle of a missing handle", err, chatr.ENOTFOUND)
}

func testHandlesConcurrent(t *testing.T, s chatr.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.UpsertUser(t.Context(), user(fmt.Sprintf("guest:%d", i), "Alice")) })
	}
	wg.Wait()
	for _, err := range errs {
		ok(t, "UpsertUser", err)
	}
	users, err := s.ListUsers(t.Context())
	ok(t, "ListUsers", err)
	got := handles(users)
	slices.Sort(got)
	same(t, "handles of users racing for one", got, []string{"alice", "alice2", "alice3", "alice4", "alice5", "alice6", "alice7", "alice8"})
}

func testSetUserName(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "Ann"))
	mustChat(t, s, group("g", at(0)))
	mustMember(t, s, "g", member("guest:a", at(0)))
	ok(t, "SetUserName", s.SetUserName(ctx, "guest:a", "Annie"))
	mustUser(t, s, chatr.User{ID: "guest:a", Name: "Ann", Provider: "github"})
	u, err := s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	same(t, "name and provider after a sign-in", u.Name+"/"+u.Provider, "Annie/github")
	same(t, "handle after a name change", u.Handle, "ann")
	m, err := s.GetMember(ctx, "g", "guest:a")
	ok(t, "GetMember", err)
	same(t, "member name", m.UserName, "Annie")
	code(t, "SetUserName of a missing user", s.SetUserName(ctx, "guest:x", "X"), chatr.ENOTFOUND)
	code(t, "SetUserName empty", s.SetUserName(ctx, "guest:a", ""), chatr.EINVALID)
	code(t, "SetUserName NUL", s.SetUserName(ctx, "guest:a", "a\x00"), chatr.EINVALID)
}

func testSearchUsers(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	users, next, err := s.SearchUsers(ctx, chatr.UserQuery{})
	ok(t, "SearchUsers of an empty store", err)
	same(t, "users of an empty store", len(users)+len(next), 0)
	for i, name := range []string{"Zoë Bobson", "Bob", "Alice", "Carol", "Dave", "Eve", "Bobby Tables"} {
		mustUser(t, s, user(fmt.Sprintf("guest:%d", i), name))
	}
	var pages [][]string
	after := ""
	for range 5 {
		users, next, err := s.SearchUsers(ctx, chatr.UserQuery{After: after, Limit: 3})
		ok(t, "SearchUsers", err)
		pages = append(pages, handles(users))
		if next == "" {
			break
		}
		after = next
	}
	same(t, "pages", pages, [][]string{{"alice", "bob", "bobby_tables"}, {"carol", "dave", "eve"}, {"zo_bobson"}})

	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"BOB", []string{"bob", "bobby_tables", "zo_bobson"}},
		{"@bobby", []string{"bobby_tables"}},
		{"zoë", []string{"zo_bobson"}},
		{"nobody", nil},
	} {
		users, next, err := s.SearchUsers(ctx, chatr.UserQuery{Search: tt.q})
		ok(t, "SearchUsers "+tt.q, err)
		same(t, "search "+tt.q, handles(users), tt.want)
		same(t, "next of a last page", next, "")
	}
	users, next, err = s.SearchUsers(ctx, chatr.UserQuery{Search: "b", Limit: 2})
	ok(t, "SearchUsers", err)
	same(t, "first page of b", handles(users), []string{"bob", "bobby_tables"})
	users, _, err = s.SearchUsers(ctx, chatr.UserQuery{Search: "b", After: next, Limit: 2})
	ok(t, "SearchUsers", err)
	same(t, "second page of b", handles(users), []string{"zo_bobson"})
}

func testSetBanned(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "Ann"))
	ok(t, "SetBanned", s.SetBanned(ctx, "guest:a", true, "guest:admin", at(time.Hour)))
	u, err := s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	want := user("guest:a", "Ann")
	want.Handle, want.Banned, want.BannedBy, want.BannedAt = "ann", true, "guest:admin", at(time.Hour)
	exact(t, "banned user", u, want)
	mustUser(t, s, user("guest:a", "Ann"))
	u, err = s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	exact(t, "banned user after a sign-in", u, want)

	ok(t, "SetBanned false", s.SetBanned(ctx, "guest:a", false, "guest:admin", at(2*time.Hour)))
	u, err = s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	want.Banned, want.BannedBy, want.BannedAt = false, "", time.Time{}
	exact(t, "user after the ban is lifted", u, want)
	code(t, "SetBanned of a missing user", s.SetBanned(ctx, "guest:x", true, "guest:admin", at(0)), chatr.ENOTFOUND)
}

func invite(hash, chatID string, created time.Time) chatr.Invite {
	return chatr.Invite{TokenHash: hash, ChatID: chatID, CreatedBy: "guest:owner", Created: created}
}

func testInvites(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	mustChat(t, s, group("h", at(0)))
	b := invite("hash-b", "g", at(time.Minute))
	b.Expires, b.MaxUses = at(time.Hour), 5
	a := invite("hash-a", "g", at(time.Minute))
	c := invite("hash-c", "g", at(0))
	for _, inv := range []chatr.Invite{b, a, c, invite("hash-h", "h", at(0))} {
		ok(t, "CreateInvite "+inv.TokenHash, s.CreateInvite(ctx, inv))
	}
	l, err := s.ListInvites(ctx, "g")
	ok(t, "ListInvites", err)
	exact(t, "ListInvites", l, []chatr.Invite{c, a, b})
	got, err := s.GetInvite(ctx, "hash-b")
	ok(t, "GetInvite", err)
	exact(t, "GetInvite", got, b)

	code(t, "CreateInvite twice", s.CreateInvite(ctx, invite("hash-a", "h", at(0))), chatr.ECONFLICT)
	code(t, "CreateInvite to a missing chat", s.CreateInvite(ctx, invite("hash-x", "missing", at(0))), chatr.ENOTFOUND)
	code(t, "CreateInvite without hash", s.CreateInvite(ctx, invite("", "g", at(0))), chatr.EINVALID)
	neg := invite("hash-n", "g", at(0))
	neg.MaxUses = -1
	code(t, "CreateInvite with negative uses", s.CreateInvite(ctx, neg), chatr.EINVALID)
	_, err = s.ListInvites(ctx, "missing")
	code(t, "ListInvites of a missing chat", err, chatr.ENOTFOUND)
	_, err = s.GetInvite(ctx, "hash-x")
	code(t, "GetInvite of a missing hash", err, chatr.ENOTFOUND)

	ok(t, "RevokeInvite", s.RevokeInvite(ctx, "hash-a"))
	ok(t, "RevokeInvite again", s.RevokeInvite(ctx, "hash-a"))
	code(t, "RevokeInvite of a missing hash", s.RevokeInvite(ctx, "hash-x"), chatr.ENOTFOUND)
	got, err = s.GetInvite(ctx, "hash-a")
	ok(t, "GetInvite", err)
	a.Revoked = true
	exact(t, "revoked invite", got, a)
}

func testUseInvite(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	g := group("g", at(0))
	mustChat(t, s, g)
	inv := invite("h", "g", at(0))
	inv.Expires, inv.MaxUses = at(time.Hour), 2
	ok(t, "CreateInvite", s.CreateInvite(ctx, inv))

	c, err := s.UseInvite(ctx, "h", member("guest:a", at(time.Minute)), at(time.Minute))
	ok(t, "UseInvite", err)
	same(t, "the invite's chat", c.ID+" "+c.Name, g.ID+" "+g.Name)
	m, err := s.GetMember(ctx, "g", "guest:a")
	ok(t, "GetMember", err)
	want := member("guest:a", at(time.Minute))
	want.Role = chatr.RoleMember
	exact(t, "member by invite", m, want)
	_, err = s.UseInvite(ctx, "h", member("guest:a", at(time.Minute)), at(time.Minute))
	ok(t, "UseInvite by a member", err)
	got, err := s.GetInvite(ctx, "h")
	ok(t, "GetInvite", err)
	same(t, "uses after a member's second use", got.Uses, 1)

	_, err = s.UseInvite(ctx, "h", member("guest:b", at(0)), at(time.Hour))
	is(t, "UseInvite at expiry", err, chatr.ErrInviteExpired)
	code(t, "UseInvite at expiry", err, chatr.EGONE)
	_, err = s.UseInvite(ctx, "h", member("guest:b", at(0)), at(2*time.Minute))
	ok(t, "UseInvite of the last use", err)
	_, err = s.UseInvite(ctx, "h", member("guest:c", at(0)), at(3*time.Minute))
	is(t, "UseInvite used up", err, chatr.ErrInviteUsedUp)
	ok(t, "RevokeInvite", s.RevokeInvite(ctx, "h"))
	_, err = s.UseInvite(ctx, "h", member("guest:c", at(0)), at(2*time.Hour))
	is(t, "UseInvite revoked (and expired and used up)", err, chatr.ErrInviteRevoked)
	_, err = s.UseInvite(ctx, "forged", member("guest:c", at(0)), at(0))
	code(t, "UseInvite of a forged token", err, chatr.ENOTFOUND)
	ok(t, "IsMember", nil)
	if isM, _ := s.IsMember(ctx, "g", "guest:c"); isM {
		t.Fatal("a refused invite made a member")
	}
	got, err = s.GetInvite(ctx, "h")
	ok(t, "GetInvite", err)
	same(t, "uses at the end", got.Uses, 2)

	open := invite("open", "g", at(0)) // no expiry, no limit
	ok(t, "CreateInvite", s.CreateInvite(ctx, open))
	for i := range 5 {
		_, err = s.UseInvite(ctx, "open", member(fmt.Sprintf("guest:o%d", i), at(0)), at(1000*time.Hour))
		ok(t, "UseInvite of an unlimited invite", err)
	}
}

func testUseInviteRace(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	inv := invite("last", "g", at(0))
	inv.MaxUses = 1
	ok(t, "CreateInvite", s.CreateInvite(ctx, inv))
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.UseInvite(ctx, "last", member(fmt.Sprintf("guest:%d", i), at(0)), at(time.Minute))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			is(t, "a loser of the race", err, chatr.ErrInviteUsedUp)
		}
	}
	same(t, "winners of the last use", won, 1)
	ms, err := s.ListMembers(ctx, "g")
	ok(t, "ListMembers", err)
	same(t, "members", len(ms), 1)
	got, err := s.GetInvite(ctx, "last")
	ok(t, "GetInvite", err)
	same(t, "uses", got.Uses, 1)
}

func testDeleteChatInvites(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	ok(t, "CreateInvite", s.CreateInvite(ctx, invite("h", "g", at(0))))
	ok(t, "DeleteChat", s.DeleteChat(ctx, "g"))
	_, err := s.GetInvite(ctx, "h")
	code(t, "GetInvite after DeleteChat", err, chatr.ENOTFOUND)
	_, err = s.UseInvite(ctx, "h", member("guest:a", at(0)), at(0))
	code(t, "UseInvite after DeleteChat", err, chatr.ENOTFOUND)
	mustChat(t, s, group("g", at(0)))
	l, err := s.ListInvites(ctx, "g")
	ok(t, "ListInvites", err)
	same(t, "invites of a chat created again", len(l), 0)
}

func testModEvents(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	l, err := s.ListModEvents(ctx, chatr.ModEventQuery{})
	ok(t, "ListModEvents of an empty log", err)
	same(t, "empty log", len(l), 0)
	mustChat(t, s, group("g", at(0)))
	var added []chatr.ModEvent
	for i := range 5 {
		e := chatr.ModEvent{Actor: "guest:admin", Action: "deleteMessage", TargetUser: "guest:a", ChatID: "g",
			MessageID: int64(i + 1), Detail: fmt.Sprintf("spam %d", i), At: at(time.Duration(i) * time.Minute)}
		got, err := s.AddModEvent(ctx, e)
		ok(t, "AddModEvent", err)
		if len(added) > 0 && got.ID <= added[len(added)-1].ID {
			t.Fatalf("event IDs do not grow: %d after %d", got.ID, added[len(added)-1].ID)
		}
		e.ID = got.ID
		exact(t, "AddModEvent's answer", got, e)
		added = append(added, got)
	}
	ok(t, "DeleteChat", s.DeleteChat(ctx, "g"))
	l, err = s.ListModEvents(ctx, chatr.ModEventQuery{Limit: 3})
	ok(t, "ListModEvents", err)
	exact(t, "newest page", l, []chatr.ModEvent{added[4], added[3], added[2]})
	l, err = s.ListModEvents(ctx, chatr.ModEventQuery{Before: added[2].ID, Limit: 3})
	ok(t, "ListModEvents", err)
	exact(t, "older page", l, []chatr.ModEvent{added[1], added[0]})
	_, err = s.AddModEvent(ctx, chatr.ModEvent{Actor: "guest:admin"})
	code(t, "AddModEvent without action", err, chatr.EINVALID)
	e, err := s.AddModEvent(ctx, chatr.ModEvent{Actor: "guest:admin", Action: "ban", TargetUser: "guest:a"})
	ok(t, "AddModEvent without time", err)
	recent(t, "At of an event added without one", e.At)
}

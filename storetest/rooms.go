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
	is(t, "a second public chat named general", s.CreateChat(ctx, named("b", " general")), chatr.ErrChatNameTaken)
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
	is(t, "renaming to a taken name", err, chatr.ErrChatNameTaken)
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

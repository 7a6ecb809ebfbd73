package storetest

// The people part of the Rooms group: handles, names, directory, bans.

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

func handles(us []chatr.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Handle)
	}
	return out
}

func testHandles(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	for _, u := range []chatr.User{
		user("guest:1", "Bob"), user("guest:2", "bob"), user("guest:3", "Bob"),
		{ID: "github:9", Name: "Octo Cat", Handle: "Octo-Cat", Provider: "github"},
		user("guest:4", "  Jean-Luc  Picard!"), user("guest:5", "日本"), user("guest:6", "bob2"),
	} {
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

// Package storetest is the conformance suite for chatr.Store: the executable
// form of the contract written on the interface. Every implementation runs it
// from its own tests:
//
//	func TestStore(t *testing.T) { storetest.Run(t, openTestStore) }
//
// Implementations that keep data across a close (all real ones) also run
// RunReopen, which closes a store and opens the same data again.
//
// The suite knows only package chatr: nothing of SQL, files or servers. It
// asserts exact values, so a store that bends a promise fails it. Where the
// contract leaves a detail open, the suite settles it as follows:
//
//   - A session is expired at now when Expires <= now.
//   - A zero Created (user, chat) is set to the current time.
//   - UpsertUser with an empty ID is EINVALID.
//   - A chat deleted and created again under the same ID starts afresh:
//     no members, no messages, no read markers, message IDs from 1.
//   - What AddMessage returns is exactly what ListMessages returns later.
//
// It does not test what the contract leaves to each store: ListMessages and
// MarkRead on a missing chat, text with NUL bytes or invalid UTF-8.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatr/chatr"
)

// Run runs every conformance test against stores made by open. open is
// called once per subtest and must return a fresh, empty store; it should
// register the store's Close with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) chatr.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chatr.Store)
	}{
		{"UserCreateGet", testUserCreateGet},
		{"UserCreatedDefault", testUserCreatedDefault},
		{"UserUpsertKeepsIdleLastSeenCreated", testUserUpsertKeeps},
		{"UserNotFound", testUserNotFound},
		{"UserInvalid", testUserInvalid},
		{"ListUsersOrdered", testListUsersOrdered},
		{"SetIdle", testSetIdle},
		{"RevokeTokens", testRevokeTokens},

		{"SessionCreateGet", testSessionCreateGet},
		{"SessionExpiry", testSessionExpiry},
		{"SessionConflict", testSessionConflict},
		{"SessionExtend", testSessionExtend},
		{"SessionDelete", testSessionDelete},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"DeleteExpiredSessions", testDeleteExpiredSessions},

		{"ChatCreateGet", testChatCreateGet},
		{"ChatCreatedDefault", testChatCreatedDefault},
		{"ChatNeverOverwritten", testChatNeverOverwritten},
		{"ChatInvalid", testChatInvalid},
		{"ListGroupChats", testListGroupChats},
		{"ListUserChats", testListUserChats},
		{"DeleteChatCascades", testDeleteChatCascades},

		{"Members", testMembers},
		{"AddMemberIdempotent", testAddMemberIdempotent},
		{"MembersOfMissingChat", testMembersOfMissingChat},
		{"RemoveMember", testRemoveMember},
		{"ListMembersOf", testListMembersOf},
		{"GetUsers", testGetUsers},

		{"AddMessage", testAddMessage},
		{"AddMessageMissingChat", testAddMessageMissingChat},
		{"MessageIDsPerChat", testMessageIDsPerChat},
		{"AddMessageConcurrent", testAddMessageConcurrent},
		{"ListMessagesPaging", testListMessagesPaging},
		{"ListMessagesEmpty", testListMessagesEmpty},
		{"ClientIDOnce", testClientIDOnce},
		{"ClientIDPerSender", testClientIDPerSender},
		{"ClientIDConcurrent", testClientIDConcurrent},
		{"ClientIDAfterGivingUp", testClientIDAfterGivingUp},

		{"MarkReadOnlyForward", testMarkReadOnlyForward},
		{"UnreadCounts", testUnreadCounts},

		{"TimesUTCMillisecond", testTimes},
		{"UnicodeIntact", testUnicode},
		{"Ping", testPing},
	}
	t.Run("Rooms", func(t *testing.T) { runRooms(t, open) })
	t.Run("MessageFeatures", func(t *testing.T) { runMessageFeatures(t, open) })
	t.Run("Integrations", func(t *testing.T) { runIntegrations(t, open) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// t0 is a fixed instant with millisecond precision, so that stored and
// returned times compare exactly.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// same fails the test unless got and want print alike. Times print with
// their zone, so a time returned in another zone than UTC is a difference.
// Slices of different content are reported at their first difference.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	got = withoutRoomFields(got, want) // the Rooms group checks those
	g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)
	if g == w {
		return
	}
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Kind() == reflect.Slice && wv.Kind() == reflect.Slice && len(g) > 400 {
		for i := 0; i < min(gv.Len(), wv.Len()); i++ {
			ge, we := fmt.Sprintf("%+v", gv.Index(i)), fmt.Sprintf("%+v", wv.Index(i))
			if ge != we {
				t.Fatalf("%s: element %d of %d (want %d) differs:\n got  %s\n want %s", what, i, gv.Len(), wv.Len(), ge, we)
			}
		}
		t.Fatalf("%s: got %d elements, want %d (the first %d agree)", what, gv.Len(), wv.Len(), min(gv.Len(), wv.Len()))
	}
	t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
}

// code fails the test unless err carries the application error code want.
func code(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := chatr.ErrorCode(err); got != want {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, got, want)
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func user(id, name string) chatr.User {
	return chatr.User{ID: id, Name: name, Provider: "guest", LastSeen: at(0), Created: at(0)}
}

func group(id string, created time.Time) chatr.Chat {
	return chatr.Chat{ID: id, Name: "chat " + id, Owner: "guest:owner", Created: created}
}

func private(a, b string, created time.Time) chatr.Chat {
	return chatr.Chat{ID: chatr.PrivateChatID(a, b), Name: a + " & " + b, Private: true, Created: created}
}

func member(userID string, joined time.Time) chatr.Member {
	return chatr.Member{UserID: userID, UserName: "name of " + userID, Joined: joined}
}

func msg(chatID, from, text string) chatr.Message {
	return chatr.Message{ChatID: chatID, FromUserID: from, FromUserName: "name of " + from, Text: text, Time: at(time.Minute)}
}

func mustUser(t *testing.T, s chatr.Store, u chatr.User) {
	t.Helper()
	ok(t, "UpsertUser "+u.ID, s.UpsertUser(t.Context(), u))
}

func mustChat(t *testing.T, s chatr.Store, c chatr.Chat) {
	t.Helper()
	ok(t, "CreateChat "+c.ID, s.CreateChat(t.Context(), c))
}

func mustMember(t *testing.T, s chatr.Store, chatID string, m chatr.Member) {
	t.Helper()
	ok(t, "AddMember "+chatID+" "+m.UserID, s.AddMember(t.Context(), chatID, m))
}

func mustMessage(t *testing.T, s chatr.Store, m chatr.Message) chatr.Message {
	t.Helper()
	got, err := s.AddMessage(t.Context(), m)
	ok(t, "AddMessage "+m.ChatID, err)
	return got
}

func ids(ms []chatr.Message) []int64 {
	out := make([]int64, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func chatIDs(cs []chatr.Chat) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func span(lo, hi int64) []int64 {
	out := []int64{}
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

// nonZero drops the zero counts, which the contract allows a store to leave out.
func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// recent fails unless tm is in UTC and within a minute of the wall clock.
func recent(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Fatalf("%s: %v is not in UTC", what, tm)
	}
	if d := time.Since(tm); d < -time.Minute || d > time.Minute {
		t.Fatalf("%s: %v is not about now (%v)", what, tm, time.Now().UTC())
	}
}

// --- users

func testUserCreateGet(t *testing.T, s chatr.Store) {
	u := chatr.User{ID: "github:583231", Name: "Octo Cat", Provider: "github", Idle: true, LastSeen: at(time.Hour), Created: at(0)}
	mustUser(t, s, u)
	got, err := s.GetUser(t.Context(), u.ID)
	ok(t, "GetUser", err)
	same(t, "GetUser", got, u)
}

func testUserCreatedDefault(t *testing.T, s chatr.Store) {
	mustUser(t, s, chatr.User{ID: "guest:a", Name: "A", Provider: "guest"})
	got, err := s.GetUser(t.Context(), "guest:a")
	ok(t, "GetUser", err)
	recent(t, "Created of a user upserted without one", got.Created)
}

func testUserUpsertKeeps(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "Ann"))
	ok(t, "SetIdle", s.SetIdle(ctx, "guest:a", true, at(2*time.Hour)))
	mustUser(t, s, chatr.User{ID: "guest:a", Name: "Annie", Provider: "other", Idle: false, LastSeen: at(9 * time.Hour), Created: at(9 * time.Hour)})
	got, err := s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	want := chatr.User{ID: "guest:a", Name: "Annie", Provider: "other", Idle: true, LastSeen: at(2 * time.Hour), Created: at(0)}
	same(t, "user after second upsert", got, want)
}

func testUserNotFound(t *testing.T, s chatr.Store) {
	_, err := s.GetUser(t.Context(), "guest:nobody")
	code(t, "GetUser of a missing user", err, chatr.ENOTFOUND)
	err = s.SetIdle(t.Context(), "guest:nobody", true, at(0))
	code(t, "SetIdle of a missing user", err, chatr.ENOTFOUND)
	_, err = s.GetUser(t.Context(), "guest:nobody")
	code(t, "GetUser after SetIdle of a missing user", err, chatr.ENOTFOUND)
}

func testUserInvalid(t *testing.T, s chatr.Store) {
	err := s.UpsertUser(t.Context(), chatr.User{Name: "no id", Provider: "guest"})
	code(t, "UpsertUser with an empty ID", err, chatr.EINVALID)
	users, err := s.ListUsers(t.Context())
	ok(t, "ListUsers", err)
	same(t, "users after a rejected upsert", len(users), 0)
}

func testListUsersOrdered(t *testing.T, s chatr.Store) {
	users, err := s.ListUsers(t.Context())
	ok(t, "ListUsers", err)
	same(t, "users of an empty store", len(users), 0)

	c, a, b := user("guest:c", "C"), user("github:1", "A"), user("guest:b", "B")
	for _, u := range []chatr.User{c, a, b} {
		mustUser(t, s, u)
	}
	users, err = s.ListUsers(t.Context())
	ok(t, "ListUsers", err)
	same(t, "ListUsers", users, []chatr.User{a, b, c})
}

func testSetIdle(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	u := user("guest:a", "Ann")
	mustUser(t, s, u)
	ok(t, "SetIdle true", s.SetIdle(ctx, u.ID, true, at(time.Hour)))
	got, err := s.GetUser(ctx, u.ID)
	ok(t, "GetUser", err)
	u.Idle, u.LastSeen = true, at(time.Hour)
	same(t, "user after SetIdle(true)", got, u)

	ok(t, "SetIdle false", s.SetIdle(ctx, u.ID, false, at(2*time.Hour)))
	got, err = s.GetUser(ctx, u.ID)
	ok(t, "GetUser", err)
	u.Idle, u.LastSeen = false, at(2*time.Hour)
	same(t, "user after SetIdle(false)", got, u)
}

// --- sessions

func session(hash, userID string, expires time.Time) chatr.Session {
	return chatr.Session{TokenHash: hash, UserID: userID, Created: at(0), Expires: expires}
}

func testSessionCreateGet(t *testing.T, s chatr.Store) {
	mustUser(t, s, user("guest:a", "A"))
	sess := session("hash-1", "guest:a", at(time.Hour))
	ok(t, "CreateSession", s.CreateSession(t.Context(), sess))
	got, err := s.GetSession(t.Context(), "hash-1", at(time.Minute))
	ok(t, "GetSession", err)
	same(t, "GetSession", got, sess)

	_, err = s.GetSession(t.Context(), "hash-missing", at(time.Minute))
	code(t, "GetSession of a missing hash", err, chatr.ENOTFOUND)
}

func testSessionExpiry(t *testing.T, s chatr.Store) {
	mustUser(t, s, user("guest:a", "A"))
	sess := session("hash-1", "guest:a", at(time.Hour))
	ok(t, "CreateSession", s.CreateSession(t.Context(), sess))
	for _, tt := range []struct {
		now  time.Time
		live bool
	}{
		{at(0), true},
		{at(time.Hour - time.Millisecond), true},
		{at(time.Hour), false}, // expired at its expiry time
		{at(time.Hour + time.Millisecond), false},
		{at(48 * time.Hour), false},
	} {
		_, err := s.GetSession(t.Context(), "hash-1", tt.now)
		if tt.live {
			ok(t, fmt.Sprintf("GetSession at %v, expiring at %v", tt.now, sess.Expires), err)
		} else {
			code(t, fmt.Sprintf("GetSession at %v, expiring at %v", tt.now, sess.Expires), err, chatr.ENOTFOUND)
		}
	}
}

func testSessionConflict(t *testing.T, s chatr.Store) {
	mustUser(t, s, user("guest:a", "A"))
	mustUser(t, s, user("guest:b", "B"))
	first := session("hash-1", "guest:a", at(time.Hour))
	ok(t, "CreateSession", s.CreateSession(t.Context(), first))
	err := s.CreateSession(t.Context(), session("hash-1", "guest:b", at(2*time.Hour)))
	code(t, "CreateSession with an existing hash", err, chatr.ECONFLICT)
	got, err := s.GetSession(t.Context(), "hash-1", at(0))
	ok(t, "GetSession", err)
	same(t, "session after a conflicting create", got, first)
}

func testSessionExtend(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	sess := session("hash-1", "guest:a", at(time.Hour))
	ok(t, "CreateSession", s.CreateSession(ctx, sess))
	ok(t, "ExtendSession", s.ExtendSession(ctx, "hash-1", at(3*time.Hour)))
	got, err := s.GetSession(ctx, "hash-1", at(2*time.Hour))
	ok(t, "GetSession after its old expiry", err)
	sess.Expires = at(3 * time.Hour)
	same(t, "extended session", got, sess)
	_, err = s.GetSession(ctx, "hash-1", at(3*time.Hour))
	code(t, "GetSession at the new expiry", err, chatr.ENOTFOUND)

	err = s.ExtendSession(ctx, "hash-missing", at(3*time.Hour))
	code(t, "ExtendSession of a missing session", err, chatr.ENOTFOUND)
	_, err = s.GetSession(ctx, "hash-missing", at(0))
	code(t, "GetSession after extending a missing session", err, chatr.ENOTFOUND)
}

func testSessionDelete(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	ok(t, "CreateSession", s.CreateSession(ctx, session("hash-1", "guest:a", at(time.Hour))))
	ok(t, "CreateSession", s.CreateSession(ctx, session("hash-2", "guest:a", at(time.Hour))))
	ok(t, "DeleteSession", s.DeleteSession(ctx, "hash-1"))
	_, err := s.GetSession(ctx, "hash-1", at(0))
	code(t, "GetSession of a deleted session", err, chatr.ENOTFOUND)
	_, err = s.GetSession(ctx, "hash-2", at(0))
	ok(t, "GetSession of the other session", err)
	ok(t, "DeleteSession again", s.DeleteSession(ctx, "hash-1"))
	ok(t, "DeleteSession of a missing session", s.DeleteSession(ctx, "hash-never"))
	// The hash is free again.
	ok(t, "CreateSession with a deleted hash", s.CreateSession(ctx, session("hash-1", "guest:a", at(time.Hour))))
}

func testDeleteUserSessions(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	mustUser(t, s, user("guest:b", "B"))
	for _, sess := range []chatr.Session{
		session("a-1", "guest:a", at(time.Hour)),
		session("a-2", "guest:a", at(2*time.Hour)),
		session("b-1", "guest:b", at(time.Hour)),
	} {
		ok(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	ok(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, "guest:a"))
	for _, h := range []string{"a-1", "a-2"} {
		_, err := s.GetSession(ctx, h, at(0))
		code(t, "GetSession "+h+" after DeleteUserSessions", err, chatr.ENOTFOUND)
	}
	_, err := s.GetSession(ctx, "b-1", at(0))
	ok(t, "GetSession of another user's session", err)
	ok(t, "DeleteUserSessions of a user without sessions", s.DeleteUserSessions(ctx, "guest:a"))
	ok(t, "DeleteUserSessions of a missing user", s.DeleteUserSessions(ctx, "guest:nobody"))
}

func testDeleteExpiredSessions(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustUser(t, s, user("guest:a", "A"))
	for i := 1; i <= 3; i++ {
		ok(t, "CreateSession", s.CreateSession(ctx, session(fmt.Sprint("h", i), "guest:a", at(time.Duration(i)*time.Hour))))
	}
	n, err := s.DeleteExpiredSessions(ctx, at(time.Hour/2))
	ok(t, "DeleteExpiredSessions", err)
	same(t, "sessions deleted before any expired", n, 0)

	n, err = s.DeleteExpiredSessions(ctx, at(2*time.Hour))
	ok(t, "DeleteExpiredSessions", err)
	same(t, "sessions deleted at the second expiry", n, 2)
	_, err = s.GetSession(ctx, "h3", at(0))
	ok(t, "GetSession of the live session", err)
	for _, h := range []string{"h1", "h2"} {
		_, err := s.GetSession(ctx, h, at(0))
		code(t, "GetSession of a deleted expired session "+h, err, chatr.ENOTFOUND)
	}

	n, err = s.DeleteExpiredSessions(ctx, at(2*time.Hour))
	ok(t, "DeleteExpiredSessions again", err)
	same(t, "sessions deleted the second time", n, 0)
}

// --- chats

func testChatCreateGet(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	g := group("5f0c2a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6", at(0))
	p := private("guest:a", "guest:b", at(time.Second))
	mustChat(t, s, g)
	mustChat(t, s, p)
	got, err := s.GetChat(ctx, g.ID)
	ok(t, "GetChat group", err)
	same(t, "group chat", got, g)
	got, err = s.GetChat(ctx, p.ID)
	ok(t, "GetChat private", err)
	same(t, "private chat", got, p)
	_, err = s.GetChat(ctx, "missing")
	code(t, "GetChat of a missing chat", err, chatr.ENOTFOUND)
}

func testChatCreatedDefault(t *testing.T, s chatr.Store) {
	mustChat(t, s, chatr.Chat{ID: "c", Name: "C", Owner: "guest:a"})
	got, err := s.GetChat(t.Context(), "c")
	ok(t, "GetChat", err)
	recent(t, "Created of a chat created without one", got.Created)
}

func testChatNeverOverwritten(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	g := group("c", at(0))
	mustChat(t, s, g)
	mustMember(t, s, "c", member("guest:a", at(0)))
	mustMessage(t, s, msg("c", "guest:a", "hello"))

	err := s.CreateChat(ctx, chatr.Chat{ID: "c", Name: "hijack", Owner: "guest:evil", Private: true, Created: at(time.Hour)})
	code(t, "CreateChat with an existing ID", err, chatr.ECONFLICT)
	got, err := s.GetChat(ctx, "c")
	ok(t, "GetChat", err)
	same(t, "chat after a conflicting create", got, g)
	isMember, err := s.IsMember(ctx, "c", "guest:a")
	ok(t, "IsMember", err)
	same(t, "member after a conflicting create", isMember, true)
	ms, err := s.ListMessages(ctx, "c", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	same(t, "messages after a conflicting create", ids(ms), []int64{1})

	p := private("guest:a", "guest:b", at(0))
	mustChat(t, s, p)
	err = s.CreateChat(ctx, p)
	code(t, "CreateChat of an existing private chat", err, chatr.ECONFLICT)
}

func testChatInvalid(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	err := s.CreateChat(ctx, chatr.Chat{Name: "no id", Owner: "guest:a", Created: at(0)})
	code(t, "CreateChat with an empty ID", err, chatr.EINVALID)
	err = s.CreateChat(ctx, chatr.Chat{ID: "c", Owner: "guest:a", Created: at(0)})
	code(t, "CreateChat with an empty name", err, chatr.EINVALID)
	_, err = s.GetChat(ctx, "c")
	code(t, "GetChat of a rejected chat", err, chatr.ENOTFOUND)
	chats, err := s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "chats after rejected creates", len(chats), 0)
}

func testListGroupChats(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	chats, err := s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "group chats of an empty store", len(chats), 0)

	// Created out of order, with a tie on the creation time broken by ID.
	b := group("b", at(time.Hour))
	a := group("a", at(2*time.Hour))
	z := group("z", at(0))
	c := group("c", at(time.Hour))
	for _, ch := range []chatr.Chat{b, a, z, c} {
		mustChat(t, s, ch)
	}
	mustChat(t, s, private("guest:a", "guest:b", at(0)))
	mustChat(t, s, private("guest:a", "guest:c", at(3*time.Hour)))

	chats, err = s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "ListGroupChats", chats, []chatr.Chat{z, b, c, a})
}

func testListUserChats(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	g1 := group("g1", at(2*time.Hour))
	g2 := group("g2", at(time.Hour))
	g3 := group("g3", at(0))
	p := private("guest:a", "guest:b", at(time.Hour))
	q := private("guest:b", "guest:c", at(0))
	for _, c := range []chatr.Chat{g1, g2, g3, p, q} {
		mustChat(t, s, c)
	}
	mustMember(t, s, "g1", member("guest:a", at(0)))
	mustMember(t, s, "g3", member("guest:a", at(0)))
	mustMember(t, s, p.ID, member("guest:a", at(0)))
	mustMember(t, s, p.ID, member("guest:b", at(0)))
	mustMember(t, s, q.ID, member("guest:b", at(0)))
	mustMember(t, s, q.ID, member("guest:c", at(0)))
	mustMember(t, s, "g2", member("guest:c", at(0)))

	for _, tt := range []struct {
		user string
		want []chatr.Chat
	}{
		{"guest:a", []chatr.Chat{g3, p, g1}},
		{"guest:b", []chatr.Chat{q, p}},
		{"guest:c", []chatr.Chat{q, g2}},
		{"guest:nobody", []chatr.Chat{}},
	} {
		got, err := s.ListUserChats(ctx, tt.user)
		ok(t, "ListUserChats "+tt.user, err)
		same(t, "ListUserChats "+tt.user, chatIDs(got), chatIDs(tt.want))
		if len(got) > 0 {
			same(t, "ListUserChats "+tt.user, got, tt.want)
		}
	}

	ok(t, "RemoveMember", s.RemoveMember(ctx, "g3", "guest:a"))
	got, err := s.ListUserChats(ctx, "guest:a")
	ok(t, "ListUserChats", err)
	same(t, "ListUserChats after leaving g3", chatIDs(got), []string{p.ID, "g1"})
}

func testDeleteChatCascades(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	err := s.DeleteChat(ctx, "missing")
	code(t, "DeleteChat of a missing chat", err, chatr.ENOTFOUND)

	mustChat(t, s, group("doomed", at(0)))
	mustChat(t, s, group("other", at(0)))
	for _, c := range []string{"doomed", "other"} {
		mustMember(t, s, c, member("guest:a", at(0)))
		mustMember(t, s, c, member("guest:b", at(0)))
		for i := 0; i < 5; i++ {
			mustMessage(t, s, msg(c, "guest:b", fmt.Sprint("m", i)))
		}
	}
	ok(t, "MarkRead", s.MarkRead(ctx, "guest:a", "doomed", 5))
	ok(t, "MarkRead", s.MarkRead(ctx, "guest:a", "other", 2))

	ok(t, "DeleteChat", s.DeleteChat(ctx, "doomed"))
	_, err = s.GetChat(ctx, "doomed")
	code(t, "GetChat of a deleted chat", err, chatr.ENOTFOUND)
	_, err = s.ListMembers(ctx, "doomed")
	code(t, "ListMembers of a deleted chat", err, chatr.ENOTFOUND)
	isMember, err := s.IsMember(ctx, "doomed", "guest:a")
	ok(t, "IsMember", err)
	same(t, "IsMember of a deleted chat", isMember, false)
	chats, err := s.ListUserChats(ctx, "guest:a")
	ok(t, "ListUserChats", err)
	same(t, "ListUserChats after DeleteChat", chatIDs(chats), []string{"other"})
	chats, err = s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	same(t, "ListGroupChats after DeleteChat", chatIDs(chats), []string{"other"})
	counts, err := s.UnreadCounts(ctx, "guest:a")
	ok(t, "UnreadCounts", err)
	same(t, "UnreadCounts after DeleteChat", nonZero(counts), map[string]int{"other": 3})
	err = s.DeleteChat(ctx, "doomed")
	code(t, "DeleteChat again", err, chatr.ENOTFOUND)

	// The other chat is untouched.
	ms, err := s.ListMessages(ctx, "other", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	same(t, "messages of the other chat", ids(ms), span(1, 5))
	members, err := s.ListMembers(ctx, "other")
	ok(t, "ListMembers", err)
	same(t, "members of the other chat", len(members), 2)

	// A chat created again under the same ID starts empty: no members, no
	// messages, ids from 1, and no read marker left over from the old one.
	mustChat(t, s, group("doomed", at(time.Hour)))
	members, err = s.ListMembers(ctx, "doomed")
	ok(t, "ListMembers", err)
	same(t, "members of the re-created chat", len(members), 0)
	ms, err = s.ListMessages(ctx, "doomed", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	same(t, "messages of the re-created chat", len(ms), 0)
	mustMember(t, s, "doomed", member("guest:a", at(0)))
	m1 := mustMessage(t, s, msg("doomed", "guest:b", "again"))
	m2 := mustMessage(t, s, msg("doomed", "guest:b", "again"))
	same(t, "ids in the re-created chat", []int64{m1.ID, m2.ID}, []int64{1, 2})
	counts, err = s.UnreadCounts(ctx, "guest:a")
	ok(t, "UnreadCounts", err)
	same(t, "UnreadCounts with the re-created chat", nonZero(counts), map[string]int{"doomed": 2, "other": 3})
}

// --- members

func testMembers(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("c", at(0)))
	members, err := s.ListMembers(ctx, "c")
	ok(t, "ListMembers", err)
	same(t, "members of a new chat", len(members), 0)

	b := member("guest:b", at(time.Hour))
	a := member("guest:a", at(2*time.Hour))
	z := member("guest:z", at(0))
	c := member("github:7", at(time.Hour))
	for _, m := range []chatr.Member{b, a, z, c} {
		mustMember(t, s, "c", m)
	}
	members, err = s.ListMembers(ctx, "c")
	ok(t, "ListMembers", err)
	same(t, "ListMembers", members, []chatr.Member{z, c, b, a})

	for _, tt := range []struct {
		chat, user string
		want       bool
	}{
		{"c", "guest:a", true},
		{"c", "github:7", true},
		{"c", "guest:nobody", false},
		{"missing", "guest:a", false},
	} {
		got, err := s.IsMember(ctx, tt.chat, tt.user)
		ok(t, "IsMember", err)
		same(t, "IsMember("+tt.chat+", "+tt.user+")", got, tt.want)
	}
}

// testListMembersOf: one read gives each chat's members as ListMembers
// does; missing chats, chats without members and ids no chat could have are
// left out; past MaxLookupIDs is EINVALID.
func testListMembersOf(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	for _, id := range []string{"c1", "c2", "empty"} {
		mustChat(t, s, group(id, at(0)))
	}
	for i, u := range []string{"guest:b", "guest:a", "github:7"} {
		mustMember(t, s, "c1", member(u, at(time.Duration(2-i)*time.Hour)))
	}
	mustMember(t, s, "c2", member("guest:a", at(0)))
	mustMember(t, s, "c2", member("guest:z", at(0)))
	p := private("guest:a", "guest:b", at(0))
	mustChat(t, s, p)
	mustMember(t, s, p.ID, member("guest:a", at(0)))
	mustMember(t, s, p.ID, member("guest:b", at(0)))

	got, err := s.ListMembersOf(ctx, []string{"c1", "missing", "c2", "empty", p.ID, "bad\x00id", "c1"})
	ok(t, "ListMembersOf", err)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})
	same(t, "chats ListMembersOf answers for", keys, slices.Sorted(slices.Values([]string{"c1", "c2", p.ID})))
	for _, id := range keys {
		want, err := s.ListMembers(ctx, id)
		ok(t, "ListMembers", err)
		same(t, "ListMembersOf["+id+"]", got[id], want)
	}
	got, err = s.ListMembersOf(ctx, nil)
	ok(t, "ListMembersOf of no chats", err)
	same(t, "ListMembersOf of no chats", len(got), 0)
	_, err = s.ListMembersOf(ctx, make([]string, chatr.MaxLookupIDs+1))
	code(t, "ListMembersOf past MaxLookupIDs", err, chatr.EINVALID)
	many := make([]string, chatr.MaxLookupIDs)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	got, err = s.ListMembersOf(ctx, many)
	ok(t, "ListMembersOf of MaxLookupIDs ids", err)
	same(t, "chats among MaxLookupIDs ids", len(got), 2)
}

// testGetUsers: one read gives the users that exist, each as GetUser does.
func testGetUsers(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	for _, u := range []chatr.User{user("guest:a", "Ann"), user("github:7", "Seven"), user("guest:é", "Zoë")} {
		mustUser(t, s, u)
	}
	got, err := s.GetUsers(ctx, []string{"guest:é", "guest:missing", "github:7", "bad\xff", "nul\x00", "guest:a", "guest:a"})
	ok(t, "GetUsers", err)
	slices.SortFunc(got, func(a, b chatr.User) int { return strings.Compare(a.ID, b.ID) })
	var ids []string
	for _, u := range got {
		if len(ids) > 0 && ids[len(ids)-1] == u.ID {
			continue // a store may answer a repeated id once or twice
		}
		ids = append(ids, u.ID)
		want, err := s.GetUser(ctx, u.ID)
		ok(t, "GetUser", err)
		same(t, "GetUsers' "+u.ID, u, want)
	}
	same(t, "users GetUsers found", ids, []string{"github:7", "guest:a", "guest:é"})
	got, err = s.GetUsers(ctx, nil)
	ok(t, "GetUsers of no ids", err)
	same(t, "GetUsers of no ids", len(got), 0)
	_, err = s.GetUsers(ctx, make([]string, chatr.MaxLookupIDs+1))
	code(t, "GetUsers past MaxLookupIDs", err, chatr.EINVALID)
}

func testAddMemberIdempotent(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("c", at(0)))
	a := member("guest:a", at(time.Hour))
	mustMember(t, s, "c", a)
	mustMember(t, s, "c", member("guest:b", at(2*time.Hour)))
	again := chatr.Member{UserID: "guest:a", UserName: "renamed", Joined: at(3 * time.Hour)}
	ok(t, "AddMember of an existing member", s.AddMember(ctx, "c", again))
	ok(t, "AddMember of an existing member", s.AddMember(ctx, "c", again))
	members, err := s.ListMembers(ctx, "c")
	ok(t, "ListMembers", err)
	same(t, "members after adding a member again", members, []chatr.Member{a, member("guest:b", at(2*time.Hour))})
}

func testMembersOfMissingChat(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	err := s.AddMember(ctx, "missing", member("guest:a", at(0)))
	code(t, "AddMember to a missing chat", err, chatr.ENOTFOUND)
	_, err = s.ListMembers(ctx, "missing")
	code(t, "ListMembers of a missing chat", err, chatr.ENOTFOUND)
	got, err := s.IsMember(ctx, "missing", "guest:a")
	ok(t, "IsMember", err)
	same(t, "IsMember of a missing chat", got, false)
	chats, err := s.ListUserChats(ctx, "guest:a")
	ok(t, "ListUserChats", err)
	same(t, "chats of a user added to a missing chat", len(chats), 0)
}

func testRemoveMember(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("c", at(0)))
	mustMember(t, s, "c", member("guest:a", at(0)))
	b := member("guest:b", at(0))
	mustMember(t, s, "c", b)
	ok(t, "RemoveMember", s.RemoveMember(ctx, "c", "guest:a"))
	got, err := s.IsMember(ctx, "c", "guest:a")
	ok(t, "IsMember", err)
	same(t, "IsMember after RemoveMember", got, false)
	members, err := s.ListMembers(ctx, "c")
	ok(t, "ListMembers", err)
	same(t, "members after RemoveMember", members, []chatr.Member{b})
	ok(t, "RemoveMember again", s.RemoveMember(ctx, "c", "guest:a"))
	ok(t, "RemoveMember of a non-member", s.RemoveMember(ctx, "c", "guest:nobody"))

	// Joining again is a new membership.
	a2 := member("guest:a", at(time.Hour))
	mustMember(t, s, "c", a2)
	members, err = s.ListMembers(ctx, "c")
	ok(t, "ListMembers", err)
	same(t, "members after joining again", members, []chatr.Member{b, a2})
}

// --- messages

func testAddMessage(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("c", at(0)))
	in := chatr.Message{ChatID: "c", FromUserID: "guest:a", FromUserName: "Ann", Text: "hello", Time: at(time.Minute)}
	var added []chatr.Message
	for i := 1; i <= 3; i++ {
		in.Text = fmt.Sprint("hello ", i)
		in.Time = at(time.Duration(i) * time.Second)
		got := mustMessage(t, s, in)
		want := in
		want.ID = int64(i)
		same(t, "AddMessage", got, want)
		added = append(added, got)
	}
	ms, err := s.ListMessages(ctx, "c", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	same(t, "ListMessages", ms, added)

	// An ID set by the caller is not trusted.
	in.ID = 100
	got := mustMessage(t, s, in)
	same(t, "ID of a message added with an ID", got.ID, int64(4))
}

func testAddMessageMissingChat(t *testing.T, s chatr.Store) {
	_, err := s.AddMessage(t.Context(), msg("missing", "guest:a", "hi"))
	code(t, "AddMessage to a missing chat", err, chatr.ENOTFOUND)
	mustChat(t, s, group("missing", at(0)))
	got := mustMessage(t, s, msg("missing", "guest:a", "hi"))
	same(t, "first ID after a failed AddMessage", got.ID, int64(1))
}

func testMessageIDsPerChat(t *testing.T, s chatr.Store) {
	mustChat(t, s, group("a", at(0)))
	mustChat(t, s, group("b", at(0)))
	var gotA, gotB []int64
	for i := 0; i < 3; i++ {
		gotA = append(gotA, mustMessage(t, s, msg("a", "guest:x", "x")).ID)
	}
	gotB = append(gotB, mustMessage(t, s, msg("b", "guest:x", "x")).ID)
	gotA = append(gotA, mustMessage(t, s, msg("a", "guest:x", "x")).ID)
	gotB = append(gotB, mustMessage(t, s, msg("b", "guest:x", "x")).ID)
	same(t, "ids in chat a", gotA, []int64{1, 2, 3, 4})
	same(t, "ids in chat b", gotB, []int64{1, 2})
}

// listAll pages through a chat's whole history with Before, newest first.
func listAll(t *testing.T, s chatr.Store, chatID string) []chatr.Message {
	t.Helper()
	var all []chatr.Message
	before := int64(0)
	for {
		page, err := s.ListMessages(t.Context(), chatID, chatr.MessageQuery{Before: before, Limit: 100})
		ok(t, "ListMessages", err)
		if len(page) == 0 {
			return all
		}
		all = append(page, all...)
		before = page[0].ID
		if before == 1 {
			return all
		}
	}
}

func testAddMessageConcurrent(t *testing.T, s chatr.Store) {
	const (
		senders = 24
		each    = 40
		chats   = 3
	)
	for c := 0; c < chats; c++ {
		mustChat(t, s, group(fmt.Sprint("c", c), at(0)))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		added = map[string][]chatr.Message{}
		acked = map[string]int64{} // the highest ID returned so far, per chat
		errs  = make(chan error, senders)
	)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[string]int64{}
			for i := 0; i < each; i++ {
				chatID := fmt.Sprint("c", (g+i)%chats)
				m := msg(chatID, fmt.Sprint("guest:", g), fmt.Sprintf("from %d, number %d", g, i))
				mu.Lock()
				returnedBefore := acked[chatID]
				mu.Unlock()
				got, err := s.AddMessage(context.Background(), m)
				if err != nil {
					errs <- fmt.Errorf("AddMessage from sender %d: %w", g, err)
					return
				}
				// A message added after another returned has a greater ID,
				// whichever goroutine added the other.
				if got.ID <= last[chatID] || got.ID <= returnedBefore {
					errs <- fmt.Errorf("sender %d got ID %d in %s after IDs %d (its own) and %d (any sender's) had returned", g, got.ID, chatID, last[chatID], returnedBefore)
					return
				}
				last[chatID] = got.ID
				mu.Lock()
				added[chatID] = append(added[chatID], got)
				acked[chatID] = max(acked[chatID], got.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for c := 0; c < chats; c++ {
		chatID := fmt.Sprint("c", c)
		acked := added[chatID]
		slices.SortFunc(acked, func(a, b chatr.Message) int { return int(a.ID - b.ID) })
		total += len(acked)
		same(t, "acknowledged ids in "+chatID, ids(acked), span(1, int64(len(acked))))
		same(t, "stored messages in "+chatID, listAll(t, s, chatID), acked)
	}
	same(t, "messages acknowledged", total, senders*each)
}

func testListMessagesPaging(t *testing.T, s chatr.Store) {
	const n = 120
	mustChat(t, s, group("c", at(0)))
	mustChat(t, s, group("other", at(0)))
	for i := 1; i <= n; i++ {
		m := mustMessage(t, s, msg("c", "guest:a", fmt.Sprint("m", i)))
		if m.ID != int64(i) {
			t.Fatalf("message %d got ID %d", i, m.ID)
		}
	}
	mustMessage(t, s, msg("other", "guest:a", "elsewhere"))

	for _, tt := range []struct {
		q    chatr.MessageQuery
		want []int64
	}{
		{chatr.MessageQuery{}, span(71, 120)}, // the newest 50
		{chatr.MessageQuery{Limit: -1}, span(71, 120)},
		{chatr.MessageQuery{Limit: 10}, span(111, 120)},
		{chatr.MessageQuery{Limit: 500}, span(1, 120)},
		{chatr.MessageQuery{Before: 21, Limit: 5}, span(16, 20)},
		{chatr.MessageQuery{Before: 21}, span(1, 20)},
		{chatr.MessageQuery{Before: 100}, span(50, 99)},
		{chatr.MessageQuery{Before: 3, Limit: 5}, span(1, 2)},
		{chatr.MessageQuery{Before: 1}, span(1, 0)},
		{chatr.MessageQuery{Before: 1000, Limit: 2}, span(119, 120)},
		{chatr.MessageQuery{After: 100, Limit: 5}, span(101, 105)},
		{chatr.MessageQuery{After: 10}, span(11, 60)}, // the oldest 50
		{chatr.MessageQuery{After: 118}, span(119, 120)},
		{chatr.MessageQuery{After: 120}, span(1, 0)},
		{chatr.MessageQuery{After: 10, Before: 20, Limit: 3}, span(17, 19)}, // Before set: the newest
		{chatr.MessageQuery{After: 10, Before: 20}, span(11, 19)},
		{chatr.MessageQuery{After: 10, Before: 11}, span(1, 0)},
		{chatr.MessageQuery{After: 10, Before: 5}, span(1, 0)},
	} {
		got, err := s.ListMessages(t.Context(), "c", tt.q)
		ok(t, fmt.Sprintf("ListMessages %+v", tt.q), err)
		same(t, fmt.Sprintf("ids of ListMessages %+v", tt.q), ids(got), tt.want)
		for _, m := range got {
			if m.ChatID != "c" || m.Text != fmt.Sprint("m", m.ID) {
				t.Fatalf("ListMessages %+v returned %+v", tt.q, m)
			}
		}
	}
}

func testListMessagesEmpty(t *testing.T, s chatr.Store) {
	mustChat(t, s, group("c", at(0)))
	for _, q := range []chatr.MessageQuery{{}, {Before: 10}, {After: 10}} {
		got, err := s.ListMessages(t.Context(), "c", q)
		ok(t, "ListMessages", err)
		same(t, fmt.Sprintf("ListMessages %+v of an empty chat", q), len(got), 0)
	}
}

// --- read markers

func testMarkReadOnlyForward(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("c", at(0)))
	mustMember(t, s, "c", member("guest:a", at(0)))
	mustMember(t, s, "c", member("guest:b", at(0)))
	for i := 0; i < 5; i++ {
		mustMessage(t, s, msg("c", "guest:b", "b")) // 1..5
	}
	mustMessage(t, s, msg("c", "guest:a", "a")) // 6
	mustMessage(t, s, msg("c", "guest:a", "a")) // 7
	mustMessage(t, s, msg("c", "guest:b", "b")) // 8

	for _, tt := range []struct {
		mark int64 // 0: no MarkRead
		want int
	}{
		{0, 6},
		{3, 3}, // 4, 5, 8
		{2, 3}, // backwards: ignored
		{3, 3},
		{6, 1},
		{1, 1},
		{8, 0},
		{5, 0},
	} {
		if tt.mark != 0 {
			ok(t, "MarkRead", s.MarkRead(ctx, "guest:a", "c", tt.mark))
		}
		counts, err := s.UnreadCounts(ctx, "guest:a")
		ok(t, "UnreadCounts", err)
		same(t, fmt.Sprintf("unread of guest:a after MarkRead(%d)", tt.mark), counts["c"], tt.want)
	}
	// A marker is per user.
	counts, err := s.UnreadCounts(ctx, "guest:b")
	ok(t, "UnreadCounts", err)
	same(t, "unread of guest:b", nonZero(counts), map[string]int{"c": 2})
}

func testUnreadCounts(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	counts, err := s.UnreadCounts(ctx, "guest:a")
	ok(t, "UnreadCounts", err)
	same(t, "unread counts of a user without chats", nonZero(counts), map[string]int{})

	p := private("guest:a", "guest:b", at(0))
	for _, c := range []chatr.Chat{group("g1", at(0)), group("g2", at(0)), group("quiet", at(0)), group("notmine", at(0)), p} {
		mustChat(t, s, c)
	}
	for _, c := range []string{"g1", "g2", "quiet", p.ID} {
		mustMember(t, s, c, member("guest:a", at(0)))
		mustMember(t, s, c, member("guest:b", at(0)))
	}
	mustMember(t, s, "notmine", member("guest:b", at(0)))
	send := func(chat, from string, n int) {
		for i := 0; i < n; i++ {
			mustMessage(t, s, msg(chat, from, "x"))
		}
	}
	send("g1", "guest:b", 3)
	send("g1", "guest:a", 2)
	send("g2", "guest:c", 1) // a sender who is not a member counts too
	send("g2", "guest:a", 4)
	send("quiet", "guest:a", 2) // only own messages
	send("notmine", "guest:b", 7)
	send(p.ID, "guest:b", 2)

	counts, err = s.UnreadCounts(ctx, "guest:a")
	ok(t, "UnreadCounts", err)
	same(t, "unread counts of guest:a", nonZero(counts), map[string]int{"g1": 3, "g2": 1, p.ID: 2})
	counts, err = s.UnreadCounts(ctx, "guest:b")
	ok(t, "UnreadCounts", err)
	same(t, "unread counts of guest:b", nonZero(counts), map[string]int{"g1": 2, "g2": 5, "quiet": 2})

	// Leaving a chat drops it from the counts, even with a marker set.
	ok(t, "MarkRead", s.MarkRead(ctx, "guest:a", "g1", 1))
	ok(t, "RemoveMember", s.RemoveMember(ctx, "g1", "guest:a"))
	counts, err = s.UnreadCounts(ctx, "guest:a")
	ok(t, "UnreadCounts", err)
	same(t, "unread counts of guest:a after leaving g1", nonZero(counts), map[string]int{"g2": 1, p.ID: 2})
}

// --- cross-cutting

func testTimes(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	// A time with sub-millisecond digits in another zone than UTC.
	in := time.Date(2026, 7, 8, 9, 10, 11, 123_456_789, zone)
	// The instant a store returns: UTC, and no further than 1ms from in.
	check := func(what string, got time.Time) {
		t.Helper()
		if got.Location() != time.UTC {
			t.Fatalf("%s: %v is not in UTC", what, got)
		}
		if d := got.Sub(in); d <= -time.Millisecond || d >= time.Millisecond {
			t.Fatalf("%s: got %v, want %v to the millisecond", what, got, in.UTC())
		}
	}

	mustUser(t, s, chatr.User{ID: "guest:a", Name: "A", Provider: "guest", LastSeen: in, Created: in})
	u, err := s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	check("User.Created", u.Created)
	check("User.LastSeen", u.LastSeen)
	ok(t, "SetIdle", s.SetIdle(ctx, "guest:a", true, in))
	u, err = s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	check("User.LastSeen after SetIdle", u.LastSeen)
	users, err := s.ListUsers(ctx)
	ok(t, "ListUsers", err)
	check("ListUsers Created", users[0].Created)

	ok(t, "CreateSession", s.CreateSession(ctx, chatr.Session{TokenHash: "h", UserID: "guest:a", Created: in, Expires: in.Add(time.Hour)}))
	sess, err := s.GetSession(ctx, "h", in)
	ok(t, "GetSession", err)
	check("Session.Created", sess.Created)
	check("Session.Expires", sess.Expires.Add(-time.Hour))

	mustChat(t, s, chatr.Chat{ID: "c", Name: "C", Owner: "guest:a", Created: in})
	c, err := s.GetChat(ctx, "c")
	ok(t, "GetChat", err)
	check("Chat.Created", c.Created)
	cs, err := s.ListGroupChats(ctx)
	ok(t, "ListGroupChats", err)
	check("ListGroupChats Created", cs[0].Created)

	mustMember(t, s, "c", chatr.Member{UserID: "guest:a", UserName: "A", Joined: in})
	ms, err := s.ListMembers(ctx, "c")
	ok(t, "ListMembers", err)
	check("Member.Joined", ms[0].Joined)

	m := mustMessage(t, s, chatr.Message{ChatID: "c", FromUserID: "guest:a", FromUserName: "A", Text: "t", Time: in})
	check("AddMessage Time", m.Time)
	listed, err := s.ListMessages(ctx, "c", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	check("ListMessages Time", listed[0].Time)
	// What AddMessage returns is what is stored.
	same(t, "message listed after AddMessage", listed, []chatr.Message{m})
}

func testUnicode(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	texts := []string{
		"héllo wörld ñ",
		"日本語のテキスト、中文，한국어",
		"emoji 👩🏽‍💻 🇫🇷 ❤️‍🔥 and 𝕸𝖆𝖙𝖍",
		"עברית ومرحبا بالعالم",
		"e\u0301 combining, zero\u200bwidth, bidi \u202eoverride\u202c",
		"quotes ' \" ` and <b>markup</b> & ; -- DROP TABLE messages;",
		"tabs\tand\nnew lines\r\n",
		strings.Repeat("long text ✓ ", 2000),
	}
	name := "Zoë 🦊 Ñandú"
	mustUser(t, s, chatr.User{ID: "guest:zoë🦊", Name: name, Provider: "guest", Created: at(0), LastSeen: at(0)})
	u, err := s.GetUser(ctx, "guest:zoë🦊")
	ok(t, "GetUser", err)
	same(t, "user name", u.Name, name)

	chatID := "chat-日本-🦊"
	mustChat(t, s, chatr.Chat{ID: chatID, Name: "café ☕ 茶", Owner: "guest:zoë🦊", Created: at(0)})
	c, err := s.GetChat(ctx, chatID)
	ok(t, "GetChat", err)
	same(t, "chat name", c.Name, "café ☕ 茶")
	mustMember(t, s, chatID, chatr.Member{UserID: "guest:zoë🦊", UserName: name, Joined: at(0)})
	members, err := s.ListMembers(ctx, chatID)
	ok(t, "ListMembers", err)
	same(t, "member name", members[0].UserName, name)

	for _, text := range texts {
		if !utf8.ValidString(text) {
			t.Fatalf("test text %q is not UTF-8", text)
		}
		m := mustMessage(t, s, chatr.Message{ChatID: chatID, FromUserID: "guest:zoë🦊", FromUserName: name, Text: text, Time: at(0)})
		same(t, "AddMessage text", m.Text, text)
	}
	ms, err := s.ListMessages(ctx, chatID, chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	if len(ms) != len(texts) {
		t.Fatalf("got %d messages, want %d", len(ms), len(texts))
	}
	for i, m := range ms {
		if m.Text != texts[i] {
			t.Fatalf("message %d:\n got  %q\n want %q", i+1, m.Text, texts[i])
		}
		same(t, "sender name", m.FromUserName, name)
	}
}

func testPing(t *testing.T, s chatr.Store) {
	ok(t, "Ping", s.Ping(t.Context()))
}

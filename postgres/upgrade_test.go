package postgres_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/postgres"
)

// release1Rows are rows as the release before rooms wrote them, on its
// schema (migrations/0001_init.sql, the only migration it had): two public
// chats whose names differ only in case, a direct message, members,
// messages, a read marker and a session.
const release1Rows = `
CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
INSERT INTO schema_version (version) VALUES (1);
INSERT INTO users (id, name, provider, idle, last_seen, created) VALUES
	('github:583231', 'Octo Cat', 'github', false, '2026-01-02 04:04:05Z', '2026-01-02 03:04:05Z'),
	('guest:bob-1', 'Bob', 'guest', false, '2026-01-02 04:04:05Z', '2026-01-02 03:05:05Z'),
	('guest:bob-2', 'bob', 'guest', false, '2026-01-02 04:04:05Z', '2026-01-02 03:06:05Z'),
	('guest:zoe', 'Zoë', 'guest', true, '2026-01-02 05:04:05Z', '2026-01-02 03:07:05Z');
INSERT INTO sessions (token_hash, user_id, created, expires) VALUES
	('hash-octo', 'github:583231', '2026-01-02 03:04:05Z', '2027-01-01 00:00:00Z');
INSERT INTO chats (id, name, owner, private, created, last_message_id) VALUES
	('general', 'General', 'github:583231', false, '2026-01-02 03:05:05Z', 3),
	('general-2', 'general', 'guest:bob-1', false, '2026-01-02 03:06:05Z', 0),
	('private_guest:bob-1_guest:zoe', 'private', '', true, '2026-01-02 03:07:05Z', 1);
INSERT INTO members (chat_id, user_id, user_name, joined) VALUES
	('general', 'github:583231', 'Octo Cat', '2026-01-02 03:08:05Z'),
	('general', 'guest:bob-1', 'Bob', '2026-01-02 03:08:05Z'),
	('general', 'guest:zoe', 'Zoë', '2026-01-02 03:08:05Z'),
	('general-2', 'guest:bob-1', 'Bob', '2026-01-02 03:08:05Z'),
	('general-2', 'guest:bob-2', 'bob', '2026-01-02 03:08:05Z'),
	('private_guest:bob-1_guest:zoe', 'guest:bob-1', 'Bob', '2026-01-02 03:08:05Z'),
	('private_guest:bob-1_guest:zoe', 'guest:zoe', 'Zoë', '2026-01-02 03:08:05Z');
INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time) VALUES
	('general', 1, 'github:583231', 'Octo Cat', 'hello', '2026-01-02 04:04:05Z'),
	('general', 2, 'guest:bob-1', 'Bob', 'hi <b>all</b>', '2026-01-02 04:04:06Z'),
	('general', 3, 'guest:zoe', 'Zoë', '😀', '2026-01-02 04:04:07Z'),
	('private_guest:bob-1_guest:zoe', 1, 'guest:bob-1', 'Bob', 'psst', '2026-01-02 04:04:08Z');
INSERT INTO read_markers (user_id, chat_id, message_id) VALUES ('guest:bob-1', 'general', 2);
`

// TestUpgradeFromRelease1 builds a schema as the previous release left it
// and opens it with this code.
func TestUpgradeFromRelease1(t *testing.T) {
	ctx := t.Context()
	url := freshSchema(t)
	init, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{string(init), release1Rows} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			pool.Close()
			t.Fatalf("write the release-1 schema: %v", err)
		}
	}
	pool.Close()

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("open a release-1 schema: %v", err)
	}
	defer db.Close()

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	check := func(what string, got, want any) {
		t.Helper()
		if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
			t.Errorf("%s:\n got  %s\n want %s", what, g, w)
		}
	}
	users, err := db.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("users", users, []chatr.User{
		{ID: "github:583231", Name: "Octo Cat", Provider: "github", LastSeen: at(time.Hour), Created: at(0), Handle: "octo_cat"},
		{ID: "guest:bob-1", Name: "Bob", Provider: "guest", LastSeen: at(time.Hour), Created: at(time.Minute), Handle: "bob"},
		{ID: "guest:bob-2", Name: "bob", Provider: "guest", LastSeen: at(time.Hour), Created: at(2 * time.Minute), Handle: "bob2"},
		{ID: "guest:zoe", Name: "Zoë", Provider: "guest", Idle: true, LastSeen: at(2 * time.Hour), Created: at(3 * time.Minute), Handle: "zo"},
	})
	if s, err := db.GetSession(ctx, "hash-octo", at(time.Hour)); err != nil || s.UserID != "github:583231" {
		t.Errorf("session: %+v, %v", s, err)
	}
	groups, err := db.ListGroupChats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("group chats (both of the same name)", groups, []chatr.Chat{
		{ID: "general", Name: "General", Owner: "github:583231", Created: at(time.Minute), Visibility: "public", InvitePolicy: "members"},
		{ID: "general-2", Name: "general", Owner: "guest:bob-1", Created: at(2 * time.Minute), Visibility: "public", InvitePolicy: "members"},
	})
	dm := chatr.PrivateChatID("guest:bob-1", "guest:zoe")
	chats, err := db.ListUserChats(ctx, "guest:bob-1")
	if err != nil {
		t.Fatal(err)
	}
	check("bob's chats", len(chats), 3)
	check("the DM", chats[2], chatr.Chat{ID: dm, Name: "private", Private: true, Created: at(3 * time.Minute),
		Visibility: "private", InvitePolicy: "members", LastMessageAt: at(time.Hour + 3*time.Second)})
	members, err := db.ListMembers(ctx, "general")
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range members {
		roles = append(roles, m.UserID+"="+m.Role)
	}
	check("roles", roles, []string{"github:583231=owner", "guest:bob-1=member", "guest:zoe=member"})
	unread, err := db.UnreadCounts(ctx, "guest:bob-1")
	if err != nil {
		t.Fatal(err)
	}
	check("bob's unread counts", unread, map[string]int{"general": 1})

	topic := "the other one"
	if _, err := db.UpdateChat(ctx, "general-2", chatr.ChatUpdate{Topic: &topic}); err != nil {
		t.Errorf("topic of the younger duplicate: %v", err)
	}
	held := "GENERAL"
	if _, err := db.UpdateChat(ctx, "general-2", chatr.ChatUpdate{Name: &held}); chatr.ErrorCode(err) != chatr.ECONFLICT {
		t.Errorf("renaming the younger duplicate to the held name: got %v, want ECONFLICT", err)
	}
	if u, err := db.GetUserByHandle(ctx, "bob2"); err != nil || u.ID != "guest:bob-2" {
		t.Errorf("GetUserByHandle(bob2) = %v, %v", u.ID, err)
	}
	if err := db.CreateInvite(ctx, chatr.Invite{TokenHash: "inv", ChatID: "general", CreatedBy: "github:583231", MaxUses: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UseInvite(ctx, "inv", chatr.Member{UserID: "guest:bob-2", UserName: "bob"}, time.Now()); err != nil {
		t.Error(err)
	}
	if _, err := db.UseInvite(ctx, "inv", chatr.Member{UserID: "guest:new", UserName: "New"}, time.Now()); !errors.Is(err, chatr.ErrInviteUsedUp) {
		t.Errorf("second use of a one-use invite: %v", err)
	}
	if err := db.UpsertUser(ctx, chatr.User{ID: "guest:new", Name: "Bob", Provider: "guest"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.GetUser(ctx, "guest:new"); u.Handle != "bob3" {
		t.Errorf("handle of a new Bob: %q, want bob3", u.Handle)
	}
	if _, err := db.AddModEvent(ctx, chatr.ModEvent{Actor: "github:583231", Action: "ban", TargetUser: "guest:bob-2"}); err != nil {
		t.Error(err)
	}
}

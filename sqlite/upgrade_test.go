package sqlite_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
)

// TestUpgradeFromRelease1 opens a file written by the release before rooms
// (testdata/release1, made by testdata/release1/main.go with that code) and
// checks that everything is there, that the new columns were filled, and
// that the new methods work on the old rows.
func TestUpgradeFromRelease1(t *testing.T) {
	ctx := t.Context()
	old, err := os.ReadFile(filepath.Join("testdata", "release1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chatr.db")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open a release-1 file: %v", err)
	}
	defer db.Close()

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	check := func(what string, got, want any) {
		t.Helper()
		if g, w := sprint(got), sprint(want); g != w {
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
	sess, err := db.GetSession(ctx, "hash-octo", at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	check("session", sess.UserID, "github:583231")

	dm := chatr.PrivateChatID("guest:bob-1", "guest:zoe")
	groups, err := db.ListGroupChats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("group chats (both of the same name)", groups, []chatr.Chat{
		{ID: "general", Name: "General", Owner: "github:583231", Created: at(time.Minute), Visibility: "public", InvitePolicy: "members"},
		{ID: "general-2", Name: "general", Owner: "guest:bob-1", Created: at(2 * time.Minute), Visibility: "public", InvitePolicy: "members"},
	})
	chats, err := db.ListUserChats(ctx, "guest:bob-1")
	if err != nil {
		t.Fatal(err)
	}
	check("bob's chats", len(chats), 3)
	check("the DM", chats[2], chatr.Chat{ID: dm, Name: "private", Private: true, Created: at(3 * time.Minute),
		Visibility: "private", InvitePolicy: "members", LastMessageAt: at(time.Hour + 3*time.Second)})
	check("the DM's kind", chats[2].Kind(), chatr.KindDirect)

	members, err := db.ListMembers(ctx, "general")
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range members {
		roles = append(roles, m.UserID+"="+m.Role)
	}
	check("roles", roles, []string{"github:583231=owner", "guest:bob-1=member", "guest:zoe=member"})
	msgs, err := db.ListMessages(ctx, "general", chatr.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	check("messages", len(msgs), 3)
	check("a message", msgs[1].Text, "hi <b>all</b>")
	unread, err := db.UnreadCounts(ctx, "guest:bob-1")
	if err != nil {
		t.Fatal(err)
	}
	check("bob's unread counts", unread, map[string]int{"general": 1})

	// The new methods on old rows. The older of the two "General" holds
	// the name; the other keeps it and may change anything else.
	_, err = db.UpdateChat(ctx, "general-2", chatr.ChatUpdate{Topic: ptr("the other one")})
	if err != nil {
		t.Errorf("topic of the younger duplicate: %v", err)
	}
	_, err = db.UpdateChat(ctx, "general-2", chatr.ChatUpdate{Name: ptr("GENERAL")})
	if chatr.ErrorCode(err) != chatr.ECONFLICT {
		t.Errorf("renaming the younger duplicate to the held name: got %v, want ECONFLICT", err)
	}
	if err := db.CreateChat(ctx, chatr.Chat{ID: "g3", Name: "general", Owner: "guest:zoe"}); chatr.ErrorCode(err) != chatr.ECONFLICT {
		t.Errorf("a new chat under the held name: got %v, want ECONFLICT", err)
	}
	if _, err := db.UpdateChat(ctx, "general-2", chatr.ChatUpdate{Name: ptr("Lounge")}); err != nil {
		t.Errorf("renaming the younger duplicate: %v", err)
	}
	u, err := db.GetUserByHandle(ctx, "@bob2")
	if err != nil || u.ID != "guest:bob-2" {
		t.Errorf("GetUserByHandle(bob2) = %v, %v", u.ID, err)
	}
	found, _, err := db.SearchUsers(ctx, chatr.UserQuery{Search: "zoë"})
	if err != nil || len(found) != 1 || found[0].ID != "guest:zoe" {
		t.Errorf("SearchUsers(zoë) = %v, %v", found, err)
	}
	if err := db.SetMemberRole(ctx, "general", "guest:zoe", chatr.RoleModerator); err != nil {
		t.Error(err)
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
	if err := db.SetBanned(ctx, "guest:bob-2", true, "github:583231", time.Now()); err != nil {
		t.Error(err)
	}
	if _, err := db.AddModEvent(ctx, chatr.ModEvent{Actor: "github:583231", Action: "ban", TargetUser: "guest:bob-2"}); err != nil {
		t.Error(err)
	}
	if err := db.UpsertUser(ctx, chatr.User{ID: "guest:new", Name: "Bob", Provider: "guest"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.GetUser(ctx, "guest:new"); u.Handle != "bob3" {
		t.Errorf("handle of a new Bob: %q, want bob3", u.Handle)
	}
	db.Close()

	// Opening again finds nothing to do and changes no handle.
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again, err := db.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("handles after a second open", handlesOf(again), []string{"octo_cat", "bob", "bob2", "bob3", "zo"})
}

func ptr(s string) *string { return &s }

func handlesOf(us []chatr.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Handle)
	}
	return out
}

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

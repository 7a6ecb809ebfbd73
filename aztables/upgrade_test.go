package aztables_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
	store "github.com/chatr/chatr/aztables"
)

// TestUpgradeFromRelease1: entities in the shape the release before rooms
// wrote them (users without handle, chats without topic, visibility or
// roles, two public chats whose names differ only in case) are read by
// this code, which gives the users handles and the older chat its name.
func TestUpgradeFromRelease1(t *testing.T) {
	conn := connString(t)
	ctx := t.Context()
	i := strings.Index(conn, "TablePrefix=")
	prefix := conn[i+len("TablePrefix="):]
	svc, err := aztables.NewServiceClientFromConnectionString(conn[:i], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"chats", "users"} {
		if _, err := svc.CreateTable(ctx, prefix+name, nil); err != nil {
			t.Fatal(err)
		}
	}
	chats, users := svc.NewClient(prefix+"chats"), svc.NewClient(prefix+"users")
	put := func(c *aztables.Client, e map[string]any) {
		t.Helper()
		b, _ := json.Marshal(e)
		if _, err := c.AddEntity(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	stamp := func(minute int) string {
		return time.Date(2026, 1, 2, 3, minute, 5, 0, time.UTC).Format("2006-01-02T15:04:05.000Z")
	}
	for _, u := range []struct {
		id, name string
		minute   int
	}{{"github:583231", "Octo Cat", 4}, {"guest:bob-1", "Bob", 5}, {"guest:bob-2", "bob", 6}} {
		put(users, map[string]any{"PartitionKey": "chatr", "RowKey": u.id, "userName": u.name, "userProvider": strings.Split(u.id, ":")[0],
			"idle": false, "created": stamp(u.minute), "created@odata.type": "Edm.DateTime", "lastSeen": stamp(30), "lastSeen@odata.type": "Edm.DateTime"})
	}
	chat := func(id, name, owner string, private bool, minute int, members ...string) {
		m, joined := map[string]any{}, map[string]string{}
		for _, uid := range members {
			m[uid] = map[string]string{"userId": uid, "userName": "name of " + uid}
			joined[uid] = stamp(minute + 1)
		}
		data, _ := json.Marshal(map[string]any{"id": id, "name": name, "members": m, "owner": owner})
		jb, _ := json.Marshal(joined)
		put(chats, map[string]any{"PartitionKey": "chatr", "RowKey": id, "data": string(data), "private": private, "joined": string(jb),
			"created": stamp(minute), "created@odata.type": "Edm.DateTime"})
	}
	chat("general", "General", "github:583231", false, 10, "github:583231", "guest:bob-1")
	chat("general-2", "general", "guest:bob-1", false, 11, "guest:bob-1", "guest:bob-2")
	chat(chatr.PrivateChatID("guest:bob-1", "guest:bob-2"), "private", "", true, 12, "guest:bob-1", "guest:bob-2")

	s, err := store.Open(ctx, conn)
	if err != nil {
		t.Fatalf("open release-1 tables: %v", err)
	}
	defer s.Close()
	all, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var handles []string
	for _, u := range all {
		handles = append(handles, u.ID+"=@"+u.Handle)
	}
	if got, want := strings.Join(handles, " "), "github:583231=@octo_cat guest:bob-1=@bob guest:bob-2=@bob2"; got != want {
		t.Errorf("handles: got %s, want %s", got, want)
	}
	groups, err := s.ListGroupChats(ctx)
	if err != nil || len(groups) != 2 || groups[0].Visibility != chatr.VisibilityPublic || groups[1].InvitePolicy != chatr.InviteByMembers {
		t.Errorf("group chats: %+v, %v", groups, err)
	}
	dm, err := s.GetChat(ctx, chatr.PrivateChatID("guest:bob-1", "guest:bob-2"))
	if err != nil || dm.Visibility != chatr.VisibilityPrivate || dm.Kind() != chatr.KindDirect {
		t.Errorf("direct message: %+v, %v", dm, err)
	}
	m, err := s.GetMember(ctx, "general", "github:583231")
	if err != nil || m.Role != chatr.RoleOwner || m.UserName != "name of github:583231" {
		t.Errorf("the owner's membership: %+v, %v", m, err)
	}

	held, topic := "GENERAL", "the other one"
	if _, err := s.UpdateChat(ctx, "general-2", chatr.ChatUpdate{Topic: &topic}); err != nil {
		t.Errorf("topic of the younger duplicate: %v", err)
	}
	if _, err := s.UpdateChat(ctx, "general-2", chatr.ChatUpdate{Name: &held}); chatr.ErrorCode(err) != chatr.ECONFLICT {
		t.Errorf("renaming the younger duplicate to the held name: got %v, want ECONFLICT", err)
	}
	if u, err := s.GetUserByHandle(ctx, "@bob2"); err != nil || u.ID != "guest:bob-2" {
		t.Errorf("GetUserByHandle(bob2) = %v, %v", u.ID, err)
	}
	if err := s.CreateInvite(ctx, chatr.Invite{TokenHash: "inv", ChatID: "general", CreatedBy: "github:583231", MaxUses: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseInvite(ctx, "inv", chatr.Member{UserID: "guest:bob-2", UserName: "bob"}, time.Now()); err != nil {
		t.Error(err)
	}
	if _, err := s.UseInvite(ctx, "inv", chatr.Member{UserID: "guest:new", UserName: "New"}, time.Now()); !errors.Is(err, chatr.ErrInviteUsedUp) {
		t.Errorf("second use of a one-use invite: %v", err)
	}
	if err := s.UpsertUser(ctx, chatr.User{ID: "guest:new", Name: "Bob", Provider: "guest"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, "guest:new"); u.Handle != "bob3" {
		t.Errorf("handle of a new Bob: %q, want bob3", u.Handle)
	}

	// A second open (another node starting) changes nothing.
	s2, err := store.Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if u, _ := s2.GetUser(ctx, "guest:bob-2"); u.Handle != "bob2" {
		t.Errorf("handle after a second open: %q", u.Handle)
	}
}

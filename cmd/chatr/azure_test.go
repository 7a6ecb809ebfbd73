package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// TestMigrateOffOriginalAzure: tables as the original Azure deployment
// wrote them (chats with a JSON data column, users with userName,
// userProvider and idle; nothing else) migrate to SQLite with their
// members, and a second run changes nothing.
func TestMigrateOffOriginalAzure(t *testing.T) {
	conn := azuriteDB(t)
	ctx := context.Background()
	i := strings.Index(conn, "TablePrefix=")
	prefix := conn[i+len("TablePrefix="):]
	svc, err := aztables.NewServiceClientFromConnectionString(conn[:i], nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(table string, e map[string]any) {
		t.Helper()
		c := svc.NewClient(prefix + table)
		b, _ := json.Marshal(e)
		if _, err := c.UpsertEntity(ctx, b, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"chats", "users"} {
		if _, err := svc.CreateTable(ctx, prefix+table, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("chats", map[string]any{"PartitionKey": "chatr", "RowKey": "c1",
		"data": `{"id":"c1","name":"Lobby","members":{"github:1":{"userId":"github:1","userName":"Octo"},"aad:2":{"userId":"aad:2","userName":"Cat"}},"owner":"github:1"}`})
	put("chats", map[string]any{"PartitionKey": "chatr", "RowKey": "private_aad:2_github:1",
		"data": `{"id":"private_aad:2_github:1","name":"Octo & Cat","members":{"github:1":{"userId":"github:1","userName":"Octo"},"aad:2":{"userId":"aad:2","userName":"Cat"}},"owner":"github:1"}`})
	put("users", map[string]any{"PartitionKey": "chatr", "RowKey": "github:1", "userName": "Octo", "userProvider": "github", "idle": true})
	put("users", map[string]any{"PartitionKey": "chatr", "RowKey": "aad:2", "userName": "Cat", "userProvider": "aad", "idle": false})

	dst := sqliteDB(t)
	for run := range 2 {
		if out, err := runCommand(t, "migrate", "--from", "aztables:"+conn, "--to", dst); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		st := open(t, dst)
		u, err := st.GetUser(ctx, "github:1")
		if err != nil || u.Name != "Octo" || u.Provider != "github" || !u.Idle || u.Handle == "" {
			t.Errorf("user: %+v, %v", u, err)
		}
		users, err := st.ListUsers(ctx)
		if err != nil || len(users) != 2 {
			t.Errorf("users: %+v, %v", users, err)
		}
		group, err := st.ListGroupChats(ctx)
		if err != nil || len(group) != 1 || group[0].Name != "Lobby" || group[0].Owner != "github:1" {
			t.Errorf("group chats: %+v, %v", group, err)
		}
		dms, err := st.ListUserChats(ctx, "aad:2")
		if err != nil || len(dms) != 2 {
			t.Errorf("chats of aad:2: %+v, %v", dms, err)
		}
		for _, id := range []string{"c1", chatr.PrivateChatID("aad:2", "github:1")} {
			ms, err := st.ListMembers(ctx, id)
			if err != nil || len(ms) != 2 {
				t.Errorf("members of %s: %+v, %v", id, ms, err)
			}
		}
		m, err := st.GetMember(ctx, "c1", "github:1")
		if err != nil || m.Role != chatr.RoleOwner {
			t.Errorf("owner's membership: %+v, %v", m, err)
		}
		// The copy takes messages as the server would.
		if run == 1 {
			msg, err := st.AddMessage(ctx, chatr.Message{ChatID: "c1", FromUserID: "aad:2", FromUserName: "Cat", Text: "moved"})
			if err != nil || msg.ID != 1 {
				t.Errorf("first message after the move: %+v, %v", msg, err)
			}
		}
		st.Close()
	}
}

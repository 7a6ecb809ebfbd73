package aztables_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
	store "github.com/chatr/chatr/aztables"
	"github.com/chatr/chatr/server"
)

// tables opens the SDK's clients on the same tables as the store, to write
// and read entities the way the original Chatr does.
func tables(t *testing.T, conn string) (chats, users *aztables.Client) {
	t.Helper()
	i := strings.Index(conn, "TablePrefix=")
	prefix := conn[i+len("TablePrefix="):]
	svc, err := aztables.NewServiceClientFromConnectionString(conn[:i], nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc.NewClient(prefix + "chats"), svc.NewClient(prefix + "users")
}

// TestOriginalTables: entities written as the original writes them (upsert
// Replace of {partitionKey, rowKey, data} and of {userName, userProvider,
// idle}) are read by the store, and what the store writes has the shape
// the original reads.
func TestOriginalTables(t *testing.T) {
	conn := connString(t)
	s := open(t, conn)
	chats, users := tables(t, conn)
	ctx := t.Context()

	data := `{"id":"c1","name":"Lobby","members":{"github:1":{"userId":"github:1","userName":"Octo"}},"owner":"github:1"}`
	e, _ := json.Marshal(map[string]any{"PartitionKey": "chatr", "RowKey": "c1", "data": data})
	if _, err := chats.UpsertEntity(ctx, e, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		t.Fatal(err)
	}
	e, _ = json.Marshal(map[string]any{"PartitionKey": "chatr", "RowKey": "private_github:1_github:2", "data": `{"id":"private_github:1_github:2","name":"Octo & Cat","members":{},"owner":"github:1"}`})
	if _, err := chats.UpsertEntity(ctx, e, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		t.Fatal(err)
	}
	e, _ = json.Marshal(map[string]any{"PartitionKey": "chatr", "RowKey": "github:1", "userName": "Octo", "userProvider": "github", "idle": true})
	if _, err := users.UpsertEntity(ctx, e, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		t.Fatal(err)
	}

	c, err := s.GetChat(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Lobby" || c.Owner != "github:1" || c.Private || c.Created.IsZero() {
		t.Errorf("chat written by the original: got %+v", c)
	}
	group, err := s.ListGroupChats(ctx)
	if err != nil || len(group) != 1 || group[0].ID != "c1" {
		t.Errorf("ListGroupChats: got %+v, %v; want only c1 (the private chat is told by its id)", group, err)
	}
	members, err := s.ListMembers(ctx, "c1")
	if err != nil || len(members) != 1 || members[0].UserName != "Octo" {
		t.Errorf("ListMembers: got %+v, %v", members, err)
	}
	u, err := s.GetUser(ctx, "github:1")
	if err != nil || u.Name != "Octo" || u.Provider != "github" || !u.Idle {
		t.Errorf("user written by the original: got %+v, %v", u, err)
	}

	// The store's writes keep the original's shape.
	if err := s.AddMember(ctx, "c1", chatr.Member{UserID: "guest:x", UserName: "Xavier"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateChat(ctx, chatr.Chat{ID: "c2", Name: "New", Owner: "guest:x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertUser(ctx, chatr.User{ID: "guest:x", Name: "Xavier", Provider: "guest"}); err != nil {
		t.Fatal(err)
	}
	r, err := chats.GetEntity(ctx, "chatr", "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var row struct{ Data string }
	json.Unmarshal(r.Value, &row)
	var got struct {
		ID      string                       `json:"id"`
		Name    string                       `json:"name"`
		Owner   string                       `json:"owner"`
		Members map[string]map[string]string `json:"members"`
	}
	if err := json.Unmarshal([]byte(row.Data), &got); err != nil {
		t.Fatalf("data column %q: %v", row.Data, err)
	}
	if got.ID != "c1" || got.Name != "Lobby" || got.Owner != "github:1" ||
		got.Members["guest:x"]["userId"] != "guest:x" || got.Members["guest:x"]["userName"] != "Xavier" || got.Members["github:1"]["userName"] != "Octo" {
		t.Errorf("data column after AddMember: %s", row.Data)
	}
	r, err = users.GetEntity(ctx, "chatr", "guest:x", nil)
	if err != nil {
		t.Fatal(err)
	}
	var urow map[string]any
	json.Unmarshal(r.Value, &urow)
	if urow["userName"] != "Xavier" || urow["userProvider"] != "guest" || urow["idle"] != false {
		t.Errorf("users row: %v", urow)
	}
}

// TestServerOnTableStorage: a Chatr node started with a connection string
// as --db serves and is ready.
func TestServerOnTableStorage(t *testing.T) {
	conn := "aztables:" + connString(t)
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", DB: conn, SecretFile: filepath.Join(t.TempDir(), "secret")})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(t.Context()) }()
	defer func() {
		srv.Close()
		<-done
	}()
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = http.Get("http://" + srv.Addr() + "/readyz"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: got %d, want 200", resp.StatusCode)
	}
	st, err := store.Open(t.Context(), conn)
	if err != nil {
		t.Fatalf("open again: %v", err)
	}
	st.Close()
}

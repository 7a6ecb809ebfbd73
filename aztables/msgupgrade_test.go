package aztables_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
	store "github.com/chatr/chatr/aztables"
)

// TestUpgradeMessagesFromRelease2: message rows in the shape the release
// before message edits, reactions, replies and mentions wrote them (no
// replyTo, mentions, edited, deleted or reactions properties; a key row
// per ClientID) read as before and take the new methods.
func TestUpgradeMessagesFromRelease2(t *testing.T) {
	conn := connString(t)
	ctx := t.Context()
	s, err := store.Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateChat(ctx, chatr.Chat{ID: "lobby", Name: "Lobby", Owner: "guest:ann"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"guest:ann", "guest:ben"} {
		if err := s.AddMember(ctx, "lobby", chatr.Member{UserID: u, UserName: u[6:]}); err != nil {
			t.Fatal(err)
		}
	}

	i := strings.Index(conn, "TablePrefix=")
	svc, err := aztables.NewServiceClientFromConnectionString(conn[:i], nil)
	if err != nil {
		t.Fatal(err)
	}
	messages := svc.NewClient(conn[i+len("TablePrefix="):] + "chatrmessages")
	put := func(e map[string]any) {
		t.Helper()
		b, _ := json.Marshal(e)
		if _, err := messages.AddEntity(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 6, 1, 3, 3, 4, 0, time.UTC)
	row := func(id int64) string { return fmt.Sprintf("%019d", id) }
	for n, m := range []struct{ from, text, key string }{{"guest:ann", "first", "ann-1"}, {"guest:ben", "@ann hi", "ben-1"}, {"guest:ann", "third", ""}} {
		id := int64(n + 1)
		e := map[string]any{"PartitionKey": "lobby", "RowKey": row(id), "fromUserId": m.from, "fromUserName": m.from[6:], "message": m.text,
			"time": t0.Add(time.Duration(n) * time.Second).Format("2006-01-02T15:04:05.000Z"), "time@odata.type": "Edm.DateTime"}
		if m.key != "" {
			e["clientId"] = m.key
			put(map[string]any{"PartitionKey": "lobby", "RowKey": "~key~" + m.from + "~" + m.key, "messageId": fmt.Sprint(id), "messageId@odata.type": "Edm.Int64"})
		}
		put(e)
	}
	put(map[string]any{"PartitionKey": "lobby", "RowKey": "~counter", "lastId": "3", "lastId@odata.type": "Edm.Int64"})
	if err := s.MarkRead(ctx, "guest:ben", "lobby", 1); err != nil {
		t.Fatal(err)
	}

	msgs, err := s.ListMessages(ctx, "lobby", chatr.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []chatr.Message{
		{ChatID: "lobby", ID: 1, FromUserID: "guest:ann", FromUserName: "ann", Text: "first", Time: t0, ClientID: "ann-1"},
		{ChatID: "lobby", ID: 2, FromUserID: "guest:ben", FromUserName: "ben", Text: "@ann hi", Time: t0.Add(time.Second), ClientID: "ben-1"},
		{ChatID: "lobby", ID: 3, FromUserID: "guest:ann", FromUserName: "ann", Text: "third", Time: t0.Add(2 * time.Second)},
	}
	if g, w := fmt.Sprintf("%+v", msgs), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("old messages:\n got  %s\n want %s", g, w)
	}
	again, err := s.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "guest:ben", FromUserName: "ben", Text: "@ann hi", ClientID: "ben-1"})
	if err != nil || !again.Duplicate || again.ID != 2 {
		t.Errorf("retry of an old message: %+v, %v", again, err)
	}
	if m, err := s.EditMessage(ctx, chatr.MessageEdit{ChatID: "lobby", ID: 1, EditorID: "guest:ann", Text: "first!"}); err != nil || m.Text != "first!" || m.Edited.IsZero() {
		t.Errorf("edit an old message: %+v, %v", m, err)
	}
	if on, rs, err := s.ToggleReaction(ctx, "lobby", 2, "guest:ann", "👍"); err != nil || !on || len(rs) != 1 {
		t.Errorf("react to an old message: %v %v %v", on, rs, err)
	}
	if m, err := s.DeleteMessage(ctx, "lobby", 3, time.Time{}); err != nil || !m.Deleted || m.Text != "" {
		t.Errorf("delete an old message: %+v, %v", m, err)
	}
	reply, err := s.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "guest:ben", FromUserName: "ben", Text: "yes @ann",
		ReplyTo: 1, Mentions: chatr.Mentions{Users: []string{"guest:ann"}}})
	if err != nil || reply.ID != 4 || reply.ReplyTo != 1 {
		t.Fatalf("reply to an old message: %+v, %v", reply, err)
	}
	if c, err := s.MentionCounts(ctx, "guest:ann"); err != nil || c["lobby"] != 1 {
		t.Errorf("ann's mentions: %v, %v", c, err)
	}
	if m, err := s.ReadMarkers(ctx, "guest:ben"); err != nil || m["lobby"] != 1 {
		t.Errorf("ben's read markers: %v, %v", m, err)
	}
	msgs, err = s.ListMessages(ctx, "lobby", chatr.MessageQuery{Around: 2, Limit: 2})
	if err != nil || len(msgs) != 2 || msgs[0].Text != "first!" || msgs[1].Reactions[0].Users[0] != "guest:ann" {
		t.Errorf("around 2: %+v, %v", msgs, err)
	}
}

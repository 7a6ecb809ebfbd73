package postgres_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/postgres"
)

// release2Rows are rows as the release before message edits, reactions,
// replies and mentions wrote them, on its schema (migrations 0001 to 0003):
// messages with and without idempotency keys, and a read marker.
const release2Rows = `
CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
INSERT INTO schema_version (version) VALUES (1), (2), (3);
INSERT INTO users (id, name, provider, idle, last_seen, created) VALUES
	('guest:ann', 'Ann', 'guest', false, '2026-06-01 03:03:04Z', '2026-06-01 02:03:04Z'),
	('guest:ben', 'Ben', 'guest', false, '2026-06-01 03:03:04Z', '2026-06-01 02:04:04Z');
INSERT INTO chats (id, name, owner, private, created, last_message_id, topic, visibility, invite_policy, name_key) VALUES
	('lobby', 'Lobby', 'guest:ann', false, '2026-06-01 02:04:04Z', 3, 'hello', 'public', 'members', 'lobby');
INSERT INTO members (chat_id, user_id, user_name, joined, role) VALUES
	('lobby', 'guest:ann', 'ann', '2026-06-01 02:05:04Z', 'owner'),
	('lobby', 'guest:ben', 'ben', '2026-06-01 02:05:04Z', 'member');
INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time, client_id) VALUES
	('lobby', 1, 'guest:ann', 'Ann', 'first', '2026-06-01 03:03:04Z', 'ann-1'),
	('lobby', 2, 'guest:ben', 'Ben', '@ann hi', '2026-06-01 03:03:05Z', 'ben-1'),
	('lobby', 3, 'guest:ann', 'Ann', 'third', '2026-06-01 03:03:06Z', '');
INSERT INTO read_markers (user_id, chat_id, message_id) VALUES ('guest:ben', 'lobby', 1);
`

// TestUpgradeFromRelease2 builds a schema as the release before message
// features left it and opens it with this code, which applies 0005.
func TestUpgradeFromRelease2(t *testing.T) {
	ctx := t.Context()
	url := freshSchema(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"0001_init.sql", "0002_client_id_revocation.sql", "0003_rooms.sql"} {
		sql, err := os.ReadFile(filepath.Join("migrations", name))
		if err == nil {
			_, err = pool.Exec(ctx, string(sql))
		}
		if err != nil {
			pool.Close()
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := pool.Exec(ctx, release2Rows); err != nil {
		pool.Close()
		t.Fatalf("write the release-2 rows: %v", err)
	}
	pool.Close()

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("open a release-2 schema: %v", err)
	}
	defer db.Close()
	check := func(what string, got, want any) {
		t.Helper()
		if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
			t.Errorf("%s:\n got  %s\n want %s", what, g, w)
		}
	}
	t0 := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	msgs, err := db.ListMessages(ctx, "lobby", chatr.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	check("old messages", msgs, []chatr.Message{
		{ChatID: "lobby", ID: 1, FromUserID: "guest:ann", FromUserName: "Ann", Text: "first", Time: at(time.Hour), ClientID: "ann-1"},
		{ChatID: "lobby", ID: 2, FromUserID: "guest:ben", FromUserName: "Ben", Text: "@ann hi", Time: at(time.Hour + time.Second), ClientID: "ben-1"},
		{ChatID: "lobby", ID: 3, FromUserID: "guest:ann", FromUserName: "Ann", Text: "third", Time: at(time.Hour + 2*time.Second)},
	})
	markers, err := db.ReadMarkers(ctx, "guest:ben")
	if err != nil {
		t.Fatal(err)
	}
	check("ben's read marker", markers, map[string]int64{"lobby": 1})

	again, err := db.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "guest:ben", FromUserName: "Ben", Text: "@ann hi", ClientID: "ben-1"})
	if err != nil || !again.Duplicate || again.ID != 2 {
		t.Errorf("retry of an old message: %+v, %v", again, err)
	}
	if m, err := db.EditMessage(ctx, chatr.MessageEdit{ChatID: "lobby", ID: 1, EditorID: "guest:ann", Text: "first!", At: at(2 * time.Hour)}); err != nil || !m.Edited.Equal(at(2*time.Hour)) {
		t.Errorf("edit an old message: %+v, %v", m, err)
	}
	if on, rs, err := db.ToggleReaction(ctx, "lobby", 2, "guest:ann", "👍"); err != nil || !on || len(rs) != 1 {
		t.Errorf("react to an old message: %v %v %v", on, rs, err)
	}
	if m, err := db.DeleteMessage(ctx, "lobby", 3, at(3*time.Hour)); err != nil || !m.Deleted || m.Text != "" {
		t.Errorf("delete an old message: %+v, %v", m, err)
	}
	reply, err := db.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "guest:ben", FromUserName: "Ben", Text: "yes @ann",
		ReplyTo: 1, Mentions: chatr.Mentions{Users: []string{"guest:ann"}}})
	if err != nil || reply.ID != 4 || reply.ReplyTo != 1 {
		t.Fatalf("reply to an old message: %+v, %v", reply, err)
	}
	mentions, err := db.MentionCounts(ctx, "guest:ann")
	if err != nil {
		t.Fatal(err)
	}
	check("ann's mentions", mentions, map[string]int{"lobby": 1})
}

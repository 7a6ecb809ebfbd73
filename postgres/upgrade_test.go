package postgres_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr/postgres"
	"github.com/chatr/chatr/storetest"
)

// TestUpgradeInPlace opens a schema written by the first migration only, as
// the previous release left it, and checks that it upgrades in place: old
// data intact, keys and revocation working.
func TestUpgradeInPlace(t *testing.T) {
	url := freshSchema(t)
	ctx := t.Context()
	init, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(init),
		`CREATE TABLE schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO users (id, name, provider, idle, last_seen, created) VALUES ('guest:old', 'Old', 'guest', false, now(), now())`,
		`INSERT INTO chats (id, name, owner, private, created, last_message_id) VALUES ('old', 'Old chat', 'guest:old', false, now(), 2)`,
		`INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time) VALUES
			('old', 1, 'guest:old', 'Old', 'before 1', now()), ('old', 2, 'guest:old', 'Old', 'before 2', now())`,
	} {
		if _, err := old.Exec(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	old.Close(ctx)

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.CheckUpgraded(t, db)
}

// TestClientIDTwoNodes: one key sent on two nodes at once is stored once.
func TestClientIDTwoNodes(t *testing.T) {
	url := freshSchema(t)
	a, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	storetest.ClientIDTwoNodes(t, a, b)
}

package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatr/chatr/sqlite"
	"github.com/chatr/chatr/storetest"
)

// TestUpgradeInPlace opens a file written by the first schema (migration
// 0001 only, as the previous release left it) and checks that it upgrades
// in place: old data intact, keys and revocation working.
func TestUpgradeInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chatr.db")
	init, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(init),
		`CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied INTEGER NOT NULL)`,
		`INSERT INTO schema_version VALUES (1, 0)`,
		`INSERT INTO users (id, name, provider, idle, last_seen, created) VALUES ('guest:old', 'Old', 'guest', 0, 0, 0)`,
		`INSERT INTO chats (id, name, owner, private, created, last_message_id) VALUES ('old', 'Old chat', 'guest:old', 0, 0, 2)`,
		`INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time) VALUES
			('old', 1, 'guest:old', 'Old', 'before 1', 0), ('old', 2, 'guest:old', 'Old', 'before 2', 0)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.CheckUpgraded(t, db)
}

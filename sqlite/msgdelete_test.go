package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
)

// TestDeletedTextLeavesTheFile checks that DeleteMessage removes the text
// from the file itself, not only from what the store returns.
func TestDeletedTextLeavesTheFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "chatr.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("pasted-password-Zq8vX2mK")
	if err := db.CreateChat(ctx, chatr.Chat{ID: "c", Name: "C", Owner: "guest:a"}); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"before", string(secret), "after"} {
		if _, err := db.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "guest:a", FromUserName: "A", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.DeleteMessage(ctx, "c", 2, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, secret) {
			t.Errorf("%s still holds the deleted text", filepath.Base(f))
		}
		if !bytes.Contains(b, []byte("before")) && filepath.Base(f) == "chatr.db" {
			t.Errorf("%s lost the other messages", filepath.Base(f))
		}
	}
}

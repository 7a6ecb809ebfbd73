package main

import (
	"encoding/json"
	"testing"

	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/storetest"
)

func TestExport(t *testing.T) {
	db := sqliteDB(t)
	storetest.Fill(t, open(t, db))

	out, err := runCommand(t, "export", "--db", db, "--user", "github:1")
	if err != nil {
		t.Fatal(err)
	}
	var u httpapi.UserExport
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if u.User.ID != "github:1" || len(u.Chats) != 2 || len(u.Messages) != 7 {
		t.Errorf("user export: %q, %d chats, %d messages; want github:1, 2, 7", u.User.ID, len(u.Chats), len(u.Messages))
	}

	out, err = runCommand(t, "export", "--db", db, "--chat", "lobby")
	if err != nil {
		t.Fatal(err)
	}
	var c httpapi.ChatExport
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.Chat.ID != "lobby" || len(c.Members) != 3 || len(c.Messages) != 5 || c.Messages[0].ID != 1 {
		t.Errorf("chat export: %q, %d members, %d messages", c.Chat.ID, len(c.Members), len(c.Messages))
	}
	// Lobby's message 1 carries two files: their metadata is exported.
	if fs := c.Messages[0].Files; len(fs) != 2 || fs[0].ID != "file2" || fs[0].Name != "notes.txt" || fs[0].URL != "/api/files/file2" ||
		fs[1].ID != "file1" || fs[1].Size != 2048 || fs[1].Type != "image/png" || fs[1].ThumbURL != "/api/files/file1/thumb" || fs[1].Width != 640 {
		t.Errorf("attachments of lobby's message 1 in the export: %+v", fs)
	}
	if u.Messages[0].ChatID != "lobby" || len(u.Messages[0].Files) != 2 {
		t.Errorf("attachments of the user's first message in the export: %+v", u.Messages[0])
	}
	for _, args := range [][]string{{"--db", db}, {"--db", db, "--user", "x", "--chat", "y"}, {"--db", db, "--user", "nobody"}} {
		if _, err := runCommand(t, append([]string{"export"}, args...)...); err == nil {
			t.Errorf("export %v succeeded", args)
		}
	}
}

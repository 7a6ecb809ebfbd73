package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
)

// TestUpgradeFromRelease2 opens a file written by the release before
// message edits, reactions, replies and mentions (testdata/release2, made
// by testdata/release2/main.go with that code: migrations up to 0003) and
// checks that its messages read as before and take the new methods.
func TestUpgradeFromRelease2(t *testing.T) {
	ctx := t.Context()
	old, err := os.ReadFile(filepath.Join("testdata", "release2.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chatr.db")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open a release-2 file: %v", err)
	}
	defer func() { db.Close() }()
	check := func(what string, got, want any) {
		t.Helper()
		if g, w := sprint(got), sprint(want); g != w {
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
	mentions, err := db.MentionCounts(ctx, "guest:ann")
	if err != nil {
		t.Fatal(err)
	}
	check("old messages mention nobody", len(mentions), 0)

	// A retried send of an old message still finds it.
	again, err := db.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "guest:ben", FromUserName: "Ben", Text: "@ann hi", ClientID: "ben-1"})
	if err != nil || !again.Duplicate || again.ID != 2 {
		t.Errorf("retry of an old message: %+v, %v", again, err)
	}
	edited, err := db.EditMessage(ctx, chatr.MessageEdit{ChatID: "lobby", ID: 1, EditorID: "guest:ann", Text: "first!", At: at(2 * time.Hour)})
	if err != nil || edited.Text != "first!" || !edited.Edited.Equal(at(2*time.Hour)) {
		t.Errorf("edit an old message: %+v, %v", edited, err)
	}
	if on, rs, err := db.ToggleReaction(ctx, "lobby", 2, "guest:ann", "👍"); err != nil || !on || len(rs) != 1 {
		t.Errorf("react to an old message: %v %v %v", on, rs, err)
	}
	deleted, err := db.DeleteMessage(ctx, "lobby", 3, at(3*time.Hour))
	if err != nil || !deleted.Deleted || deleted.Text != "" {
		t.Errorf("delete an old message: %+v, %v", deleted, err)
	}
	reply, err := db.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "guest:ben", FromUserName: "Ben", Text: "yes @ann",
		ReplyTo: 1, Mentions: chatr.Mentions{Users: []string{"guest:ann"}}})
	if err != nil || reply.ID != 4 || reply.ReplyTo != 1 {
		t.Fatalf("reply to an old message: %+v, %v", reply, err)
	}
	mentions, err = db.MentionCounts(ctx, "guest:ann")
	if err != nil {
		t.Fatal(err)
	}
	check("ann's mentions", mentions, map[string]int{"lobby": 1})
	db.Close()

	// Opening again finds nothing to do and keeps everything.
	if db, err = sqlite.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	msgs, err = db.ListMessages(ctx, "lobby", chatr.MessageQuery{Around: 2, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Text != "first!" || msgs[1].Reactions[0].Users[0] != "guest:ann" {
		t.Errorf("after reopening: %+v", msgs)
	}
}

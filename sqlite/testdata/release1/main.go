// Command release1 wrote testdata/release1.db with the code of the release
// before rooms (commit 5474f6e): copy it to cmd/ of a checkout of that commit
// and run `go run ./cmd/release1 release1.db`.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
)

func main() {
	ctx := context.Background()
	path := os.Args[1]
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	for i, u := range []chatr.User{
		{ID: "github:583231", Name: "Octo Cat", Provider: "github"},
		{ID: "guest:bob-1", Name: "Bob", Provider: "guest"},
		{ID: "guest:bob-2", Name: "bob", Provider: "guest"},
		{ID: "guest:zoe", Name: "Zoë", Provider: "guest"},
	} {
		u.Created, u.LastSeen = at(time.Duration(i)*time.Minute), at(time.Hour)
		must(db.UpsertUser(ctx, u))
	}
	must(db.SetIdle(ctx, "guest:zoe", true, at(2*time.Hour)))
	must(db.CreateSession(ctx, chatr.Session{TokenHash: "hash-octo", UserID: "github:583231", Created: at(0), Expires: at(1000 * time.Hour)}))

	// Two public chats whose names differ only in case: the previous
	// release allowed that.
	must(db.CreateChat(ctx, chatr.Chat{ID: "general", Name: "General", Owner: "github:583231", Created: at(time.Minute)}))
	must(db.CreateChat(ctx, chatr.Chat{ID: "general-2", Name: "general", Owner: "guest:bob-1", Created: at(2 * time.Minute)}))
	dm := chatr.PrivateChatID("guest:bob-1", "guest:zoe")
	must(db.CreateChat(ctx, chatr.Chat{ID: dm, Name: "private", Private: true, Created: at(3 * time.Minute)}))
	for _, m := range []struct{ chat, user, name string }{
		{"general", "github:583231", "Octo Cat"}, {"general", "guest:bob-1", "Bob"}, {"general", "guest:zoe", "Zoë"},
		{"general-2", "guest:bob-1", "Bob"}, {"general-2", "guest:bob-2", "bob"},
		{dm, "guest:bob-1", "Bob"}, {dm, "guest:zoe", "Zoë"},
	} {
		must(db.AddMember(ctx, m.chat, chatr.Member{UserID: m.user, UserName: m.name, Joined: at(4 * time.Minute)}))
	}
	for i, m := range []chatr.Message{
		{ChatID: "general", FromUserID: "github:583231", FromUserName: "Octo Cat", Text: "hello"},
		{ChatID: "general", FromUserID: "guest:bob-1", FromUserName: "Bob", Text: "hi <b>all</b>"},
		{ChatID: "general", FromUserID: "guest:zoe", FromUserName: "Zoë", Text: "😀"},
		{ChatID: dm, FromUserID: "guest:bob-1", FromUserName: "Bob", Text: "psst"},
	} {
		m.Time = at(time.Hour + time.Duration(i)*time.Second)
		if _, err := db.AddMessage(ctx, m); err != nil {
			log.Fatal(err)
		}
	}
	must(db.MarkRead(ctx, "guest:bob-1", "general", 2))
	must(db.Close())
}

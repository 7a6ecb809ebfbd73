// Command release2 wrote testdata/release2.db with the code of the release
// before message edits, reactions, replies and mentions (commit 7a6bdec,
// schema up to migration 0003): copy it to cmd/ of a checkout of that
// commit and run `go run ./cmd/release2 release2.db`.
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
	db, err := sqlite.Open(ctx, os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Date(2026, 6, 1, 2, 3, 4, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	for i, u := range []chatr.User{
		{ID: "guest:ann", Name: "Ann", Provider: "guest"},
		{ID: "guest:ben", Name: "Ben", Provider: "guest"},
	} {
		u.Created, u.LastSeen = at(time.Duration(i)*time.Minute), at(time.Hour)
		must(db.UpsertUser(ctx, u))
	}
	must(db.CreateChat(ctx, chatr.Chat{ID: "lobby", Name: "Lobby", Owner: "guest:ann", Created: at(time.Minute), Topic: "hello"}))
	for _, u := range []string{"guest:ann", "guest:ben"} {
		must(db.AddMember(ctx, "lobby", chatr.Member{UserID: u, UserName: u[6:], Joined: at(2 * time.Minute)}))
	}
	for i, m := range []chatr.Message{
		{ChatID: "lobby", FromUserID: "guest:ann", FromUserName: "Ann", Text: "first", ClientID: "ann-1"},
		{ChatID: "lobby", FromUserID: "guest:ben", FromUserName: "Ben", Text: "@ann hi", ClientID: "ben-1"},
		{ChatID: "lobby", FromUserID: "guest:ann", FromUserName: "Ann", Text: "third"},
	} {
		m.Time = at(time.Hour + time.Duration(i)*time.Second)
		if _, err := db.AddMessage(ctx, m); err != nil {
			log.Fatal(err)
		}
	}
	must(db.MarkRead(ctx, "guest:ben", "lobby", 1))
	must(db.Close())
}

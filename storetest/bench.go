package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// BenchmarkAddMessageParallel measures a store's group commit: many
// goroutines (32 per GOMAXPROCS) add 100-byte messages to 16 chats, each
// waiting for its message to be durable. The msgs/s metric is the
// stored-and-acknowledged rate. db must be empty.
func BenchmarkAddMessageParallel(b *testing.B, db chatr.Store) { benchAdd(b, db, false) }

// BenchmarkAddMessageParallelKeyed is BenchmarkAddMessageParallel with an
// idempotency key on every message, as Chatr's own client sends them: the
// cost of the key look-up and its unique index.
func BenchmarkAddMessageParallelKeyed(b *testing.B, db chatr.Store) { benchAdd(b, db, true) }

func benchAdd(b *testing.B, db chatr.Store, keyed bool) {
	ctx := b.Context()
	const chats = 16
	for i := 0; i < chats; i++ {
		if err := db.CreateChat(ctx, chatr.Chat{ID: fmt.Sprint("chat-", i), Name: fmt.Sprint("bench-", i), Owner: "guest:bench"}); err != nil {
			b.Fatal(err)
		}
	}
	text := fmt.Sprintf("%-100s", "a chat message of a hundred bytes")
	var sender atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		n := sender.Add(1)
		m := chatr.Message{ChatID: fmt.Sprint("chat-", n%chats), FromUserID: fmt.Sprint("guest:", n), FromUserName: "bench", Text: text}
		for i := 0; pb.Next(); i++ {
			if keyed {
				m.ClientID = fmt.Sprint("bench-", i)
			}
			if _, err := db.AddMessage(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

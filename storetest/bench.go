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
// stored-and-acknowledged rate (with what a store indexes behind its
// writes indexed), cpu-µs/msg this process's CPU time per message (an
// embedded store's whole cost). db must be empty.
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
	start, cpu := time.Now(), processCPU()
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
	// A store that indexes behind its writes owes the index of what it
	// stored: the catch-up counts.
	if s, ok := db.(chatr.Searcher); ok {
		if err := s.SyncSearch(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(processCPU()-cpu)/1e3/float64(b.N), "cpu-µs/msg")
}

package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
	"github.com/chatr/chatr/storetest"
)

func TestSearch(t *testing.T) {
	storetest.RunSearch(t, func(t *testing.T) chatr.Store { return openTemp(t) })
}

// BenchmarkAddMessageSearchCost runs BenchmarkAddMessageParallel on a file
// without the search index (its triggers dropped, and the indexer told that
// every chat is indexed) and on one with it, in one run, so that the two
// msgs/s figures compare like with like: on a new file, and on one holding
// a history of 100,000 indexed messages in 100 other chats (the indexer's
// work must not grow with the messages it has done).
func BenchmarkAddMessageSearchCost(b *testing.B) {
	for _, history := range []int{0, 100_000} {
		for _, indexed := range []bool{false, true} {
			name := fmt.Sprintf("history=%d/%s", history, map[bool]string{false: "unindexed", true: "indexed"}[indexed])
			b.Run(name, func(b *testing.B) {
				db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				write, _ := sqlite.Pools(db)
				if history > 0 {
					loadHistory(b, db, history)
				}
				if !indexed {
					for _, s := range []string{`DROP TRIGGER search_message_update`, `DROP TRIGGER search_message_delete`,
						`DROP TABLE search_progress`, `CREATE VIEW search_progress (chat_id, indexed_id) AS SELECT id, 9223372036854775807 FROM chats`} {
						if _, err := write.ExecContext(b.Context(), s); err != nil {
							b.Fatal(err)
						}
					}
				}
				storetest.BenchmarkAddMessageParallel(b, db)
			})
		}
	}
}

// loadHistory stores n short messages in 100 chats and indexes them.
func loadHistory(b *testing.B, db *sqlite.DB, n int) {
	ctx := b.Context()
	for i := range 100 {
		if err := db.CreateChat(ctx, chatr.Chat{ID: fmt.Sprint("old-", i), Name: fmt.Sprint("old-", i), Owner: "guest:bench"}); err != nil {
			b.Fatal(err)
		}
	}
	write, _ := sqlite.Pools(db)
	for _, s := range []string{`WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ? - 1)
		INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time)
		SELECT 'old-' || (n % 100), n / 100 + 1, 'guest:old', 'old', 'an old message number ' || n, n FROM i`,
		`UPDATE chats SET last_message_id = ? / 100 WHERE id LIKE 'old-%'`} {
		if _, err := write.ExecContext(ctx, s, n); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.SyncSearch(ctx); err != nil {
		b.Fatal(err)
	}
}

// TestSearchUpgradeIndexesInBackground: a file of the release before search
// is indexed after Open by the background indexer, without SyncSearch.
func TestSearchUpgradeIndexesInBackground(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "chatr.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateChat(ctx, chatr.Chat{ID: "c", Name: "c", Owner: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, "c", chatr.Member{UserID: "u", UserName: "U"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Take the file back to the schema before migration 0006.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`DROP TRIGGER search_message_update`, `DROP TRIGGER search_message_delete`,
		`DROP TABLE search_fts`, `DROP TABLE search_docs`, `DROP TABLE search_progress`, `DELETE FROM schema_version WHERE version = 6`} {
		if _, err := raw.ExecContext(ctx, s); err != nil {
			t.Fatal(s, err)
		}
	}
	const n = 12000 // more than one indexing batch
	if _, err := raw.ExecContext(ctx, `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time) SELECT 'c', n, 'u', 'U', 'old message ' || (n - 1), n FROM i`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE chats SET last_message_id = ?`, n); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, text := range []string{"old message 0", fmt.Sprintf("old message %d", n-1)} {
		deadline := time.Now().Add(time.Minute)
		for {
			page, err := db.Search(ctx, "u", chatr.SearchQuery{Text: text, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range page.Results {
				found = found || r.Text == text
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q not found a minute after the upgrade", text)
			}
			time.Sleep(20 * time.Millisecond) // polling for a condition, not waiting a time
		}
	}
}

// BenchmarkSearch1M: storetest.BenchmarkSearch over 1,000,000 messages in
// 1,000 chats. The loaded file is kept in os.TempDir (keyed by the corpus
// version) for the next run; run with -cpu 1 for one core.
func BenchmarkSearch1M(b *testing.B) {
	const n, chats = 1_000_000, 1000
	ctx := b.Context()
	path := filepath.Join(os.TempDir(), "chatr-search-bench-"+storetest.SearchCorpusVersion+"-s2.db")
	if _, err := os.Stat(path + ".done"); err != nil {
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(p)
		}
		loadSearchCorpus(b, path, n, chats)
		if err := os.WriteFile(path+".done", nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.SyncSearch(ctx); err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkSearch(b, db, nil)
}

func loadSearchCorpus(b *testing.B, path string, n, chats int) {
	ctx := b.Context()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range chats {
		id := fmt.Sprint("chat-", i)
		if err := db.CreateChat(ctx, chatr.Chat{ID: id, Name: id, Owner: "user-0"}); err != nil {
			b.Fatal(err)
		}
		if i%20 == 0 {
			if err := db.AddMember(ctx, id, chatr.Member{UserID: storetest.SearchBenchUser, UserName: "Bench"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ms := storetest.SearchCorpus(b, n, chats)
	write, _ := sqlite.Pools(db)
	for len(ms) > 0 {
		batch := ms[:min(len(ms), 20000)]
		ms = ms[len(batch):]
		tx, err := write.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range batch {
			if _, err := st.ExecContext(ctx, m.ChatID, m.ID, m.FromUserID, m.FromUserName, m.Text, m.Time.UnixMicro()); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := write.ExecContext(ctx, `UPDATE chats SET last_message_id = (SELECT coalesce(max(id), 0) FROM messages WHERE chat_id = chats.id)`); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := db.SyncSearch(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("indexed %d messages in %v", n, time.Since(start))
}

package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/postgres"
	"github.com/chatr/chatr/storetest"
)

func TestSearch(t *testing.T) {
	server(t)
	storetest.RunSearch(t, func(t *testing.T) chatr.Store { return openFresh(t) })
}

// TestSearchRecent runs the conformance group through the plan that
// frequent words take.
func TestSearchRecent(t *testing.T) {
	server(t)
	storetest.RunSearch(t, func(t *testing.T) chatr.Store {
		db := openFresh(t)
		postgres.SearchRecent(db)
		return db
	})
}

// BenchmarkAddMessageSearchCost runs BenchmarkAddMessageParallel on a
// schema without the search column and time index and on one with them,
// in one run, so that the two msgs/s figures compare like with like.
func BenchmarkAddMessageSearchCost(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		name := map[bool]string{false: "unindexed", true: "indexed"}[indexed]
		b.Run(name, func(b *testing.B) {
			db := openFresh(b)
			if !indexed {
				for _, s := range []string{`ALTER TABLE messages DROP COLUMN search`, `DROP INDEX messages_time`} {
					if _, err := postgres.Pool(db).Exec(b.Context(), s); err != nil {
						b.Fatal(err)
					}
				}
			}
			storetest.BenchmarkAddMessageParallel(b, db)
		})
	}
}

// BenchmarkSearch1M: storetest.BenchmarkSearch over 1,000,000 messages in
// 1,000 chats. The loaded schema is kept (named by the corpus version) for
// the next run; run with -cpu 1 for one core on the client side.
func BenchmarkSearch1M(b *testing.B) {
	const n, chats = 1_000_000, 1000
	base, admin := server(b)
	ctx := b.Context()
	// The name says which indexes the load was made with (migration 0017
	// replaced the words-only one), so that a kept schema is not reused by
	// code that expects others.
	schema := "chatr_searchbench_" + storetest.SearchCorpusVersion + "_m17"
	var loaded bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'bench_loaded')`, schema).Scan(&loaded); err != nil {
		b.Fatal(err)
	}
	if !loaded {
		if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			b.Fatal(err)
		}
		if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			b.Fatal(err)
		}
	}
	app := fmt.Sprint("chatr-searchbench-", os.Getpid())
	db, err := postgres.Open(ctx, withSearchPath(b, base, schema)+"&application_name="+app)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if !loaded {
		loadSearchCorpus(b, db, n, chats)
	}
	storetest.BenchmarkSearch(b, db, backendCPU(admin, app))
}

// backendCPU returns the CPU time spent so far by the server processes of
// the connections named app, read from /proc (0 for a server on another
// machine), for storetest.BenchmarkSearch. It looks the processes up when
// start is set, so that the look-up is not counted.
func backendCPU(admin *pgxpool.Pool, app string) func(start bool) time.Duration {
	var pids []int
	return func(start bool) time.Duration {
		if start {
			pids = pids[:0]
			rows, _ := admin.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
			pids, _ = pgx.CollectRows(rows, pgx.RowTo[int])
		}
		var sum time.Duration
		for _, pid := range pids {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid)) // ns on a CPU, ns waiting, timeslices
			if f := strings.Fields(string(b)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				sum += time.Duration(ns)
			}
		}
		return sum
	}
}

func loadSearchCorpus(b *testing.B, db *postgres.DB, n, chats int) {
	ctx := b.Context()
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
	pool := postgres.Pool(db)
	start := time.Now()
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"messages"}, []string{"chat_id", "id", "from_user_id", "from_user_name", "text", "time"},
		pgx.CopyFromSlice(len(ms), func(i int) ([]any, error) {
			m := ms[i]
			return []any{m.ChatID, m.ID, m.FromUserID, m.FromUserName, m.Text, m.Time}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []string{`UPDATE chats SET last_message_id = (SELECT coalesce(max(id), 0) FROM messages WHERE chat_id = chats.id)`,
		`VACUUM ANALYZE messages`, `CREATE TABLE bench_loaded ()`} {
		if _, err := pool.Exec(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded and indexed %d messages in %v", n, time.Since(start))
}

// TestSearchIndexBuiltWhileServing: a database of the release before
// migration 0017, too large for the migration to build the chat-and-words
// index, gets it from the background build after Open, while it serves
// searches, and loses the words-only index.
func TestSearchIndexBuiltWhileServing(t *testing.T) {
	url := freshSchema(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	pool := postgres.Pool(db)
	if err := db.CreateChat(ctx, chatr.Chat{ID: "c", Name: "c", Owner: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, "c", chatr.Member{UserID: "u", UserName: "U"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`DROP INDEX messages_search_chat`, `CREATE INDEX messages_search ON messages USING gin (search)`,
		`DELETE FROM schema_version WHERE version = 17`,
		`INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time) SELECT 'c', n, 'u', 'U', 'old message ' || n, now() FROM generate_series(1, 12000) AS n`,
		`UPDATE chats SET last_message_id = 12000`} {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatal(s, err)
		}
	}
	db.Close()

	db, err = postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	page, err := db.Search(ctx, "u", chatr.SearchQuery{Text: "old 11999"})
	if err != nil || len(page.Results) != 1 {
		t.Fatalf("search while the index builds: %v, %v", page.Results, err)
	}
	pool = postgres.Pool(db)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var built, old bool
		if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('messages_search_chat')), false),
			to_regclass('messages_search') IS NOT NULL`).Scan(&built, &old); err != nil {
			t.Fatal(err)
		}
		if built && !old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two minutes after Open: chat-and-words index valid %v, words-only index still there %v", built, old)
		}
		time.Sleep(50 * time.Millisecond) // polling for a condition, not waiting a time
	}
	page, err = db.Search(ctx, "u", chatr.SearchQuery{Text: "old 11999"})
	if err != nil || len(page.Results) != 1 || page.Results[0].ID != 11999 {
		t.Fatalf("search with the index built: %v, %v", page.Results, err)
	}
}

// TestSearchFrequentWords: with the planner's statistics read, a query
// that pairs a rare word with one in most messages looks up the rare one
// only and checks the other on the rows, and a frequent word alone reads
// newest first; both find exactly the user's matching messages.
func TestSearchFrequentWords(t *testing.T) {
	server(t)
	db := openFresh(t)
	ctx := t.Context()
	pool := postgres.Pool(db)
	for _, c := range []string{"mine", "theirs"} {
		if err := db.CreateChat(ctx, chatr.Chat{ID: c, Name: c, Owner: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddMember(ctx, "mine", chatr.Member{UserID: "u", UserName: "U"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time)
			SELECT CASE WHEN n % 2 = 0 THEN 'mine' ELSE 'theirs' END, n, 'u', 'U',
				CASE WHEN n % 100 = 0 THEN 'the zebra ' || n WHEN n % 100 = 50 THEN 'zebra ' || n ELSE 'the filler ' || n END,
				now() - make_interval(secs => 10000 - n)
			FROM generate_series(1, 10000) AS n`,
		`UPDATE chats SET last_message_id = 10000`,
		`ANALYZE messages`} {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatal(s, err)
		}
	}
	for _, tc := range []struct {
		text string
		want int // matches in chat "mine"
	}{{"zebra the", 100}, {"the", 300}, {"zebra", 200}, {"the the zebra", 100}} {
		var got int
		cursor := ""
		for {
			page, err := db.Search(ctx, "u", chatr.SearchQuery{Text: tc.text, Cursor: cursor, Limit: chatr.MaxSearchLimit})
			if err != nil {
				t.Fatalf("Search(%q): %v", tc.text, err)
			}
			for _, r := range page.Results {
				if r.ChatID != "mine" || !strings.Contains(r.Text, strings.Fields(tc.text)[0]) {
					t.Fatalf("Search(%q) found %+v", tc.text, r)
				}
			}
			got += len(page.Results)
			if cursor = page.Cursor; cursor == "" || tc.text == "the" && got >= 300 {
				break
			}
		}
		if got != tc.want {
			t.Errorf("Search(%q) found %d, want %d", tc.text, got, tc.want)
		}
	}
}

package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/postgres"
	"github.com/chatr/chatr/storetest"
)

// defaultURL is the development and CI server: trust auth, database test.
const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var admin struct {
	once sync.Once
	url  string
	pool *pgxpool.Pool
	err  error
}

// server returns the test server's URL and an admin pool on it. Without a
// reachable server the test is skipped, or fails when CI=true.
func server(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	admin.once.Do(func() {
		admin.url = os.Getenv("CHATR_TEST_POSTGRES")
		if admin.url == "" {
			admin.url = defaultURL
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		admin.pool, admin.err = pgxpool.New(ctx, admin.url)
		if admin.err == nil {
			admin.err = admin.pool.Ping(ctx)
		}
	})
	if admin.err != nil {
		msg := "PostgreSQL at " + admin.url + " (CHATR_TEST_POSTGRES) is unreachable: " + admin.err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return admin.url, admin.pool
}

// withSearchPath returns the connection string with search_path set.
func withSearchPath(t testing.TB, base, schema string) string {
	t.Helper()
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return base + " search_path=" + schema
}

// freshSchema creates an empty schema dropped when the test ends and
// returns a connection string that works in it.
func freshSchema(t testing.TB) string {
	t.Helper()
	base, pool := server(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "chatr_test_" + hex.EncodeToString(b[:])
	if _, err := pool.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

func openFresh(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	server(t) // skip (or fail in CI) once, not in every subtest
	storetest.Run(t, func(t *testing.T) chatr.Store { return openFresh(t) })
}

func TestReopen(t *testing.T) {
	server(t)
	storetest.RunReopen(t, func(t *testing.T) func() (chatr.Store, error) {
		url := freshSchema(t)
		return func() (chatr.Store, error) { return postgres.Open(context.Background(), url) }
	})
}

// TestTwoNodes checks that two stores on one database, as two Chatr nodes
// have, never hand out the same message ID.
func TestTwoNodes(t *testing.T) {
	url := freshSchema(t)
	var nodes [2]*postgres.DB
	for i := range nodes {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	for _, c := range []string{"a", "b"} {
		if err := nodes[0].CreateChat(t.Context(), chatr.Chat{ID: c, Name: c, Owner: "guest:x"}); err != nil {
			t.Fatal(err)
		}
	}
	const senders, each = 8, 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]map[int64]bool{"a": {}, "b": {}}
	)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := nodes[g%2]
			for i := 0; i < each; i++ {
				chat := []string{"a", "b"}[(g/2+i)%2]
				m, err := node.AddMessage(context.Background(), chatr.Message{ChatID: chat, FromUserID: "guest:x", Text: "x"})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[chat][m.ID] {
					t.Errorf("ID %d of chat %s handed out twice", m.ID, chat)
				}
				seen[chat][m.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	for chat, ids := range seen {
		for id := int64(1); id <= int64(len(ids)); id++ {
			if !ids[id] {
				t.Fatalf("chat %s: ID %d missing among %d", chat, id, len(ids))
			}
		}
		total += len(ids)
	}
	if total != senders*each {
		t.Fatalf("got %d messages, want %d", total, senders*each)
	}
}

// TestUnstorableText checks that strings PostgreSQL cannot hold (NUL,
// invalid UTF-8) are bad input when written and simply absent when looked
// up, never a server error.
func TestUnstorableText(t *testing.T) {
	db := openFresh(t)
	ctx := t.Context()
	if err := db.CreateChat(ctx, chatr.Chat{ID: "c", Name: "c", Owner: "guest:a"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"nul\x00byte", "bad\xffutf8"} {
		_, err := db.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: bad})
		if got := chatr.ErrorCode(err); got != chatr.EINVALID {
			t.Errorf("AddMessage %q: got code %q (%v), want %q", bad, got, err, chatr.EINVALID)
		}
		if err := db.CreateChat(ctx, chatr.Chat{ID: bad, Name: "x"}); chatr.ErrorCode(err) != chatr.EINVALID {
			t.Errorf("CreateChat %q: got %v, want EINVALID", bad, err)
		}
		if _, err := db.GetChat(ctx, bad); chatr.ErrorCode(err) != chatr.ENOTFOUND {
			t.Errorf("GetChat %q: got %v, want ENOTFOUND", bad, err)
		}
		if _, err := db.GetUser(ctx, bad); chatr.ErrorCode(err) != chatr.ENOTFOUND {
			t.Errorf("GetUser %q: got %v, want ENOTFOUND", bad, err)
		}
		if _, err := db.GetSession(ctx, bad, time.Now()); chatr.ErrorCode(err) != chatr.ENOTFOUND {
			t.Errorf("GetSession %q: got %v, want ENOTFOUND", bad, err)
		}
		if _, err := db.ListMessages(ctx, bad, chatr.MessageQuery{}); chatr.ErrorCode(err) != chatr.ENOTFOUND {
			t.Errorf("ListMessages %q: got %v, want ENOTFOUND", bad, err)
		}
		if ok, err := db.IsMember(ctx, bad, bad); ok || err != nil {
			t.Errorf("IsMember %q: got %v, %v, want false, nil", bad, ok, err)
		}
	}
	// The batch around a rejected message is unaffected.
	m, err := db.AddMessage(ctx, chatr.Message{ChatID: "c", FromUserID: "guest:a", Text: "fine"})
	if err != nil || m.ID != 1 {
		t.Fatalf("AddMessage after rejected ones: got %+v, %v, want ID 1", m, err)
	}
}

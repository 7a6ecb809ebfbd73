package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/chatr/chatr/internal/wsclient"
)

// crashRounds is how many times the crash tests kill the server
// (CHATR_CRASH_ROUNDS, default 15).
func crashRounds(t *testing.T) int {
	if s := os.Getenv("CHATR_CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CHATR_CRASH_ROUNDS=%q", s)
		}
		return n
	}
	return 15
}

// unlimited are the flags that let one test client send as fast as it can.
var unlimited = []string{"--messages-per-second", "1000000", "--message-burst", "1000000",
	"--events-per-second", "1000000", "--event-burst", "1000000",
	"--requests-per-second", "-1", "--sign-ins-per-minute", "-1", "--connections-per-ip", "-1"}

func TestCrashSafetySQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the real binary many times")
	}
	path := filepath.Join(t.TempDir(), "chatr.db")
	runCrashRounds(t, path, func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		var res string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Errorf("integrity_check: %q %v", res, err)
		}
		rows, err := db.Query("PRAGMA foreign_key_check")
		if err != nil {
			t.Fatal(err)
		}
		if rows.Next() {
			t.Errorf("foreign_key_check reports violations")
		}
		rows.Close()
		return db
	})
}

func TestCrashSafetyPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the real binary many times")
	}
	dbURL := postgresSchema(t)
	runCrashRounds(t, dbURL, func(t *testing.T) *sql.DB {
		_, pool := postgresAdmin(t)
		return openPgxStd(t, pool, dbURL)
	})
}

// runCrashRounds starts the binary on db, has two users send bursts of
// messages to two chats (and create a chat) without waiting, kills the
// process with SIGKILL at a random moment, and repeats. Then every message
// and chat whose ack arrived must be stored exactly once, message ids must
// run 1..N per chat, and the database must hold no orphan rows.
func runCrashRounds(t *testing.T, db string, open func(*testing.T) *sql.DB) {
	port := freePort(t)
	rounds := crashRounds(t)
	p := startProcess(t, db, port, unlimited...)
	alice, bob := guest(t, p.Base, "Alice"), guest(t, p.Base, "Bob")
	{
		ca, cb := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON)
		for _, id := range []string{"c1", "c2"} {
			mustAck(t, ca, "createChat", map[string]string{"name": id, "id": id})
			mustAck(t, ca, "joinChat", id)
			mustAck(t, cb, "joinChat", id)
		}
		ca.Close()
		cb.Close()
	}
	var (
		mu         sync.Mutex
		ackedMsgs  = map[string]string{} // text -> chat
		ackedChats []string
		sent       int
		signedIn   []*client // guests whose sign-in was answered 200 before a kill
	)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	for round := 0; round < rounds; round++ {
		if round > 0 {
			p = startProcess(t, db, port, unlimited...)
		}
		conns := []*wsclient.Conn{alice.Connect(wsclient.JSON), bob.Connect(wsclient.Reliable)}
		killAfter := time.Duration(20+rng.IntN(400)) * time.Millisecond
		var wg sync.WaitGroup
		for ci, c := range conns {
			wg.Add(2)
			texts := map[uint64]string{}
			chats := map[uint64]string{}
			var tmu sync.Mutex
			// Reader: records acks until the socket dies.
			go func() {
				defer wg.Done()
				for {
					f, err := c.Next(10 * time.Second)
					if err != nil {
						return
					}
					if f.Type != "ack" || !f.Success {
						continue
					}
					tmu.Lock()
					text, isMsg := texts[f.AckID]
					chat, isChat := chats[f.AckID]
					tmu.Unlock()
					mu.Lock()
					if isMsg {
						ackedMsgs[text] = []string{"c1", "c2"}[msgChat(text)]
					} else if isChat {
						ackedChats = append(ackedChats, chat)
					}
					mu.Unlock()
				}
			}()
			// Writer: sends until the socket dies.
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					id := c.NextAckID()
					var frame map[string]any
					if ci == 0 && i == 5 {
						chat := fmt.Sprintf("round-%d", round)
						frame = event("createChat", map[string]string{"name": chat, "id": chat})
						tmu.Lock()
						chats[id] = chat
						tmu.Unlock()
					} else {
						text := fmt.Sprintf("r%d-u%d-m%d", round, ci, i)
						chat := []string{"c1", "c2"}[msgChat(text)]
						frame = send(chat, text)
						tmu.Lock()
						texts[id] = text
						tmu.Unlock()
						mu.Lock()
						sent++
						mu.Unlock()
					}
					frame["ackId"] = id
					if c.Send(frame) != nil {
						return
					}
					if i%20 == 19 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
		// Sign-ins meanwhile: an answered one must survive the kill.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				c := anon(t, p.Base)
				c.HTTP.Timeout = 2 * time.Second
				body := strings.NewReader(`{"name":"Guest"}`)
				resp, err := c.HTTP.Post(p.Base+"/.auth/login/guest", "application/json", body)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					signedIn = append(signedIn, c)
					mu.Unlock()
				}
			}
		}()
		time.Sleep(killAfter)
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.Done
		for _, c := range conns {
			c.Drop()
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ackedMsgs) == 0 {
		t.Fatal("no message was acknowledged in any round; the test proves nothing")
	}
	// Restart once more and read everything back through the API.
	p = startProcess(t, db, port, unlimited...)
	stored := 0
	for _, chat := range []string{"c1", "c2"} {
		seen := map[string]int{}
		for i, m := range alice.History(chat) {
			stored++
			seen[m.Message]++
			if m.ID != int64(i+1) {
				t.Errorf("%s: message %d has id %d, want ids 1..N without gaps", chat, i, m.ID)
				break
			}
		}
		for text, k := range seen {
			if k != 1 {
				t.Errorf("%s: %q stored %d times", chat, text, k)
			}
		}
		for text, c := range ackedMsgs {
			if c == chat && seen[text] != 1 {
				t.Errorf("%s: acked message %q stored %d times, want 1", chat, text, seen[text])
			}
		}
	}
	for _, c := range signedIn {
		var me struct{ ClientPrincipal *struct{ UserID string } }
		if st := c.Do("GET", "/.auth/me", nil, &me); st != 200 || me.ClientPrincipal == nil {
			t.Errorf("a session answered before a kill is gone: %d %+v", st, me.ClientPrincipal)
			break
		}
	}
	var list struct{ Chats map[string]any }
	alice.Do("GET", "/api/chats", nil, &list)
	for _, chat := range ackedChats {
		if _, ok := list.Chats[chat]; !ok {
			t.Errorf("acked createChat %q lost", chat)
		}
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	<-p.Done
	t.Logf("%d SIGKILL rounds: %d messages sent, %d acked, %d stored; %d chats acked; %d sign-ins answered, all sessions kept",
		rounds, sent, len(ackedMsgs), stored, len(ackedChats), len(signedIn))

	// The database itself: no orphans, counters agree with the rows.
	sdb := open(t)
	defer sdb.Close()
	for _, q := range []struct{ what, sql string }{
		{"messages of missing chats", "SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = m.chat_id)"},
		{"members of missing chats", "SELECT count(*) FROM members m WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = m.chat_id)"},
		{"read markers of missing chats", "SELECT count(*) FROM read_markers r WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = r.chat_id)"},
		{"members who are not users", "SELECT count(*) FROM members m WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id)"},
		{"chats whose counter disagrees with their messages", `SELECT count(*) FROM chats c WHERE c.last_message_id <>
			(SELECT coalesce(max(id), 0) FROM messages m WHERE m.chat_id = c.id) OR
			(SELECT count(*) FROM messages m WHERE m.chat_id = c.id) <> (SELECT coalesce(max(id), 0) FROM messages m WHERE m.chat_id = c.id)`},
	} {
		var n int
		if err := sdb.QueryRow(q.sql).Scan(&n); err != nil {
			t.Errorf("%s: %v", q.what, err)
		} else if n != 0 {
			t.Errorf("%s: %d", q.what, n)
		}
	}
}

// openPgxStd opens database/sql on the test's schema.
func openPgxStd(t *testing.T, _ any, dbURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// msgChat is the chat (0: c1, 1: c2) a crash-test message goes to, by
// the parity of its number.
func msgChat(text string) int {
	n, _ := strconv.Atoi(text[strings.LastIndex(text, "m")+1:])
	return n % 2
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// RunReopen checks that a store closed and opened again on the same data
// sees everything that was acknowledged before the close, and that Close
// flushes the messages whose AddMessage was in flight.
//
// newLocation is called once per subtest; it makes a fresh, empty place for
// the data (a file, a schema) and returns a function that opens a store on
// it. The suite calls that function several times and closes each store it
// opened; the store's Close may be called more than once.
func RunReopen(t *testing.T, newLocation func(t *testing.T) (open func() (chatr.Store, error))) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() chatr.Store)
	}{
		{"EverythingSurvives", testReopenEverything},
		{"CloseFlushesInFlightMessages", testCloseFlushes},
		{"OpenTwiceMigratesOnce", testOpenTwice},
		{"KeysAndRevocationSurvive", testReopenKeysAndRevocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			openLoc := newLocation(t)
			open := func() chatr.Store {
				t.Helper()
				s, err := openLoc()
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			tt.fn(t, open)
		})
	}
}

func testReopenEverything(t *testing.T, open func() chatr.Store) {
	ctx := t.Context()
	s := open()
	a := chatr.User{ID: "guest:a", Name: "Ann", Provider: "guest", Created: at(0), LastSeen: at(0)}
	b := chatr.User{ID: "guest:b", Name: "Bob", Provider: "guest", Created: at(0), LastSeen: at(0)}
	mustUser(t, s, a)
	mustUser(t, s, b)
	ok(t, "SetIdle", s.SetIdle(ctx, "guest:b", true, at(time.Hour)))
	b.Idle, b.LastSeen = true, at(time.Hour)
	sess := session("h", "guest:a", at(24*time.Hour))
	ok(t, "CreateSession", s.CreateSession(ctx, sess))
	g := group("g", at(0))
	p := private("guest:a", "guest:b", at(time.Second))
	mustChat(t, s, g)
	mustChat(t, s, p)
	ma, mb := member("guest:a", at(0)), member("guest:b", at(time.Second))
	for _, c := range []string{"g", p.ID} {
		mustMember(t, s, c, ma)
		mustMember(t, s, c, mb)
	}
	var sent []chatr.Message
	for i := 0; i < 10; i++ {
		sent = append(sent, mustMessage(t, s, msg("g", "guest:b", fmt.Sprint("g", i))))
	}
	mustMessage(t, s, msg(p.ID, "guest:a", "private"))
	ok(t, "MarkRead", s.MarkRead(ctx, "guest:a", "g", 4))
	ok(t, "Close", s.Close())

	s = open()
	users, err := s.ListUsers(ctx)
	ok(t, "ListUsers", err)
	same(t, "users after reopen", users, []chatr.User{a, b})
	gotSess, err := s.GetSession(ctx, "h", at(0))
	ok(t, "GetSession", err)
	same(t, "session after reopen", gotSess, sess)
	chats, err := s.ListUserChats(ctx, "guest:a")
	ok(t, "ListUserChats", err)
	same(t, "chats after reopen", chats, []chatr.Chat{g, p})
	members, err := s.ListMembers(ctx, "g")
	ok(t, "ListMembers", err)
	same(t, "members after reopen", members, []chatr.Member{ma, mb})
	ms, err := s.ListMessages(ctx, "g", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	same(t, "messages after reopen", ms, sent)
	counts, err := s.UnreadCounts(ctx, "guest:a")
	ok(t, "UnreadCounts", err)
	same(t, "unread counts after reopen", nonZero(counts), map[string]int{"g": 6})

	// IDs go on from where they were.
	next := mustMessage(t, s, msg("g", "guest:a", "after reopen"))
	same(t, "ID of the first message after reopen", next.ID, int64(11))
	next = mustMessage(t, s, msg(p.ID, "guest:b", "after reopen"))
	same(t, "ID of the first private message after reopen", next.ID, int64(2))
}

func testCloseFlushes(t *testing.T, open func() chatr.Store) {
	s := open()
	mustChat(t, s, group("c", at(0)))
	const senders = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []chatr.Message
		start = make(chan struct{})
		sent  = make(chan struct{}, 1<<16)
	)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				m, err := s.AddMessage(context.Background(), msg("c", "guest:a", fmt.Sprintf("%d/%d", g, i)))
				if err != nil {
					return // closed
				}
				mu.Lock()
				acked = append(acked, m)
				mu.Unlock()
				sent <- struct{}{}
			}
		}()
	}
	close(start)
	for i := 0; i < 200; i++ {
		<-sent
	}
	ok(t, "Close", s.Close())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("AddMessage still blocked 10s after Close")
	}
	if _, err := s.AddMessage(context.Background(), msg("c", "guest:a", "late")); err == nil {
		t.Fatal("AddMessage after Close: got no error")
	}

	s = open()
	stored := map[int64]chatr.Message{}
	for _, m := range listAll(t, s, "c") {
		stored[m.ID] = m
	}
	for _, m := range acked {
		got, found := stored[m.ID]
		if !found {
			t.Fatalf("acknowledged message %d (%q) is lost after Close", m.ID, m.Text)
		}
		same(t, fmt.Sprint("message ", m.ID), got, m)
	}
	// Whatever was stored has ids 1..n without holes.
	for id := int64(1); id <= int64(len(stored)); id++ {
		if _, found := stored[id]; !found {
			t.Fatalf("stored ids have a hole at %d (%d stored)", id, len(stored))
		}
	}
	t.Logf("%d messages acknowledged, %d stored", len(acked), len(stored))
}

func testOpenTwice(t *testing.T, open func() chatr.Store) {
	ctx := t.Context()
	for i := 0; i < 3; i++ {
		s := open()
		mustChat(t, s, group(fmt.Sprint("c", i), at(time.Duration(i)*time.Second)))
		chats, err := s.ListGroupChats(ctx)
		ok(t, "ListGroupChats", err)
		same(t, fmt.Sprint("chats after open number ", i+1), len(chats), i+1)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil && !errors.Is(err, context.Canceled) {
			// A second Close may report that the store is closed, but must not panic.
			t.Logf("second Close: %v", err)
		}
	}
}

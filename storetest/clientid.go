package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// keyed is a message from the sender with the idempotency key clientID.
func keyed(chatID, from, clientID, text string) chatr.Message {
	m := msg(chatID, from, text)
	m.ClientID = clientID
	return m
}

// asDuplicate is m as AddMessage answers a retry of it.
func asDuplicate(m chatr.Message) chatr.Message {
	m.Duplicate = true
	return m
}

func testClientIDOnce(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("c", at(0)))
	first := mustMessage(t, s, keyed("c", "guest:a", "k1", "hello"))
	want := keyed("c", "guest:a", "k1", "hello")
	want.ID = 1
	same(t, "first AddMessage with a key", first, want)

	// A retry, even with other text or time, stores nothing and answers
	// with the first message.
	retry := keyed("c", "guest:a", "k1", "hello again")
	retry.Time = at(time.Hour)
	same(t, "retried AddMessage", mustMessage(t, s, retry), asDuplicate(first))

	// Messages without a key are never taken for duplicates.
	plain1 := mustMessage(t, s, msg("c", "guest:a", "plain"))
	plain2 := mustMessage(t, s, msg("c", "guest:a", "plain"))
	same(t, "ids of two messages without a key", []int64{plain1.ID, plain2.ID}, []int64{2, 3})
	same(t, "Duplicate of messages without a key", []bool{plain1.Duplicate, plain2.Duplicate}, []bool{false, false})

	second := mustMessage(t, s, keyed("c", "guest:a", "k2", "other"))
	same(t, "id of a message with another key", second.ID, int64(4))

	ms, err := s.ListMessages(ctx, "c", chatr.MessageQuery{})
	ok(t, "ListMessages", err)
	same(t, "ListMessages after a retry", ms, []chatr.Message{first, plain1, plain2, second})

	// The longest key is kept whole; a longer one is refused.
	long := strings.Repeat("é", chatr.MaxClientID/2)
	got := mustMessage(t, s, keyed("c", "guest:a", long, "long key"))
	same(t, "retry with the longest key", mustMessage(t, s, keyed("c", "guest:a", long, "x")), asDuplicate(got))
	_, err = s.AddMessage(ctx, keyed("c", "guest:a", long+"x", "too long"))
	code(t, "AddMessage with a key too long", err, chatr.EINVALID)
}

func testClientIDPerSender(t *testing.T, s chatr.Store) {
	mustChat(t, s, group("c", at(0)))
	a := mustMessage(t, s, keyed("c", "guest:a", "same", "from a"))
	b := mustMessage(t, s, keyed("c", "guest:b", "same", "from b"))
	same(t, "ids of two senders' messages with one key", []int64{a.ID, b.ID}, []int64{1, 2})
	same(t, "Duplicate of the second sender's message", b.Duplicate, false)
	same(t, "retry of the second sender", mustMessage(t, s, keyed("c", "guest:b", "same", "x")), asDuplicate(b))
	same(t, "retry of the first sender", mustMessage(t, s, keyed("c", "guest:a", "same", "x")), asDuplicate(a))
	same(t, "messages stored", ids(listAll(t, s, "c")), []int64{1, 2})
}

// testClientIDConcurrent sends every key several times at once, as retries
// racing their original do: each key is stored once, every call answers
// with its id, and exactly one call per key is not a duplicate.
func testClientIDConcurrent(t *testing.T, s chatr.Store) {
	const (
		keys   = 12
		copies = 6
	)
	mustChat(t, s, group("c", at(0)))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  = map[string][]chatr.Message{}
		errs = make(chan error, keys*copies)
	)
	for k := range keys {
		for c := range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprint("key", k)
				m, err := s.AddMessage(t.Context(), keyed("c", "guest:a", key, fmt.Sprint(key, " copy ", c)))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got[key] = append(got[key], m)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AddMessage: %v", err)
	}
	stored := listAll(t, s, "c")
	same(t, "ids stored", ids(stored), span(1, keys))
	byKey := map[string]chatr.Message{}
	for _, m := range stored {
		byKey[m.ClientID] = m
	}
	for k := range keys {
		key := fmt.Sprint("key", k)
		originals := 0
		for _, m := range got[key] {
			if !m.Duplicate {
				originals++
			}
			m.Duplicate = false
			same(t, "answer for "+key, m, byKey[key])
		}
		same(t, "answers that stored "+key, originals, 1)
	}
}

// testClientIDAfterGivingUp: a call whose context has ended before it
// began stores nothing; calls whose deadline ends at any point of their
// way may or may not have stored the message, and the retry with the same
// key tells which: each key ends up stored once, under the id its retry
// answers.
func testClientIDAfterGivingUp(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("c", at(0)))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddMessage(cancelled, keyed("c", "guest:a", "early", "x")); err == nil {
		t.Fatal("AddMessage with a cancelled context succeeded")
	}
	same(t, "messages after a cancelled AddMessage", ids(listAll(t, s, "c")), []int64{})

	const n = 40
	var wg sync.WaitGroup
	retried := make([]chatr.Message, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("k", i)
			// Deadlines from 0 to about 4 ms end before, during and after
			// the commit of a busy store.
			short, cancel := context.WithTimeout(ctx, time.Duration(i%9)*500*time.Microsecond)
			s.AddMessage(short, keyed("c", "guest:a", key, key))
			cancel()
			m, err := s.AddMessage(ctx, keyed("c", "guest:a", key, key))
			if err != nil {
				t.Errorf("retry of %s: %v", key, err)
			}
			m.Duplicate = false
			retried[i] = m
		}()
	}
	wg.Wait()
	stored := map[string]chatr.Message{}
	for _, m := range listAll(t, s, "c") {
		if _, twice := stored[m.ClientID]; twice {
			t.Errorf("key %s stored twice", m.ClientID)
		}
		stored[m.ClientID] = m
	}
	same(t, "messages stored", len(stored), n)
	for i, m := range retried {
		same(t, fmt.Sprint("retry ", i), m, stored[fmt.Sprint("k", i)])
	}
}

func testRevokeTokens(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	code(t, "RevokeTokens of an unknown user", s.RevokeTokens(ctx, "guest:nobody", at(0)), chatr.ENOTFOUND)
	mustUser(t, s, user("guest:a", "Ann"))
	mustUser(t, s, user("guest:b", "Bob"))
	revoked := func(id string) time.Time {
		t.Helper()
		u, err := s.GetUser(ctx, id)
		ok(t, "GetUser", err)
		return u.TokensRevoked
	}
	same(t, "TokensRevoked of a new user", revoked("guest:a").IsZero(), true)

	// Millisecond precision: a token minted in the same second as the
	// sign-out, but after it, must stay valid.
	first := at(1234 * time.Millisecond)
	ok(t, "RevokeTokens", s.RevokeTokens(ctx, "guest:a", first))
	same(t, "TokensRevoked", revoked("guest:a"), first)
	same(t, "TokensRevoked of another user", revoked("guest:b").IsZero(), true)

	ok(t, "RevokeTokens earlier", s.RevokeTokens(ctx, "guest:a", at(time.Millisecond)))
	same(t, "TokensRevoked after an earlier revocation", revoked("guest:a"), first)

	later := at(time.Hour + 5*time.Millisecond)
	ok(t, "RevokeTokens later", s.RevokeTokens(ctx, "guest:a", later))
	same(t, "TokensRevoked after a later revocation", revoked("guest:a"), later)

	// Signing in again (UpsertUser, SetIdle) keeps it.
	mustUser(t, s, user("guest:a", "Ann Again"))
	ok(t, "SetIdle", s.SetIdle(ctx, "guest:a", true, at(2*time.Hour)))
	same(t, "TokensRevoked after UpsertUser and SetIdle", revoked("guest:a"), later)
}

// testReopenKeysAndRevocation checks that idempotency keys and token
// revocations survive a restart.
func testReopenKeysAndRevocation(t *testing.T, open func() chatr.Store) {
	ctx := t.Context()
	s := open()
	mustUser(t, s, user("guest:a", "Ann"))
	mustChat(t, s, group("c", at(0)))
	first := mustMessage(t, s, keyed("c", "guest:a", "k", "hello"))
	revokedAt := at(1500 * time.Millisecond)
	ok(t, "RevokeTokens", s.RevokeTokens(ctx, "guest:a", revokedAt))
	ok(t, "Close", s.Close())

	s = open()
	same(t, "retry after reopen", mustMessage(t, s, keyed("c", "guest:a", "k", "hello")), asDuplicate(first))
	same(t, "messages after reopen", ids(listAll(t, s, "c")), []int64{1})
	u, err := s.GetUser(ctx, "guest:a")
	ok(t, "GetUser", err)
	same(t, "TokensRevoked after reopen", u.TokensRevoked, revokedAt)
}

// ClientIDTwoNodes checks idempotency keys across two stores on the same
// data (two Chatr nodes): every key sent on both at once is stored once,
// and both answers carry its id. The caller closes the stores.
func ClientIDTwoNodes(t *testing.T, a, b chatr.Store) {
	t.Helper()
	mustChat(t, a, group("c", at(0)))
	const keys = 30
	var wg sync.WaitGroup
	answers := make([][2]chatr.Message, keys)
	for k := range keys {
		for n, node := range []chatr.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprint("k", k)
				m, err := node.AddMessage(t.Context(), keyed("c", "guest:a", key, fmt.Sprint(key, " via node ", n)))
				if err != nil {
					t.Errorf("AddMessage %s on node %d: %v", key, n, err)
				}
				answers[k][n] = m
			}()
		}
	}
	wg.Wait()
	stored := map[string]chatr.Message{}
	for _, m := range listAll(t, b, "c") {
		if _, twice := stored[m.ClientID]; twice {
			t.Errorf("key %s stored twice", m.ClientID)
		}
		stored[m.ClientID] = m
	}
	same(t, "keys stored", len(stored), keys)
	for k, pair := range answers {
		key := fmt.Sprint("k", k)
		if pair[0].Duplicate == pair[1].Duplicate {
			t.Errorf("%s: Duplicate on both nodes is %v, want it on exactly one", key, pair[0].Duplicate)
		}
		for n, m := range pair {
			m.Duplicate = false
			same(t, fmt.Sprint(key, " on node ", n), m, stored[key])
		}
	}
}

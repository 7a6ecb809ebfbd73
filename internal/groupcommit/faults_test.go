package groupcommit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// waitFor polls cond until it holds; the test's own deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// item is a message as the model store sees it: an idempotency key (may be
// empty), the id the store gives it, and whether the answer is a duplicate.
type item struct {
	Key  string
	Body string
	ID   int
	Dup  bool
}

type fault int

const (
	ok          fault = iota
	failBefore        // the transaction fails, nothing written
	commitLost        // COMMIT fails before it took effect: outcome unknown, nothing written
	commitAfter       // COMMIT took effect, then its answer is lost: outcome unknown
	hang              // the database does not answer until the batch's deadline
)

// model is a store with transactions: a batch's rows are written all or
// nothing, keys are unique per store (as the SQL stores' unique index), and
// every write is logged so that the test can count copies.
type model struct {
	mu     sync.Mutex
	rows   []item         // the log of stored rows; id = index + 1
	byKey  map[string]int // key -> id
	faults func() fault   // the fault of the next commit
	seen   []bool         // per commit: did its ctx have a deadline
}

func newModel(faults func() fault) *model {
	return &model{byKey: map[string]int{}, faults: faults}
}

func (m *model) commit(ctx context.Context, batch []*groupcommit.Request[item]) error {
	_, hasDeadline := ctx.Deadline()
	m.mu.Lock()
	m.seen = append(m.seen, hasDeadline)
	f := m.faults()
	m.mu.Unlock()
	switch f {
	case failBefore:
		return errors.New("connection refused")
	case commitLost:
		return fmt.Errorf("commit: %w: connection reset", groupcommit.ErrUnknown)
	case hang:
		<-ctx.Done()
		return fmt.Errorf("commit: %w: %w", groupcommit.ErrUnknown, ctx.Err())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inBatch := map[string]*item{}
	for _, r := range batch {
		r.Item.ID, r.Item.Dup = 0, false
		if r.Item.Key != "" {
			if id, ok := m.byKey[r.Item.Key]; ok {
				r.Item = m.rows[id-1]
				r.Item.Dup = true
				continue
			}
			if first := inBatch[r.Item.Key]; first != nil {
				r.Item = *first
				r.Item.Dup = true
				continue
			}
			inBatch[r.Item.Key] = &r.Item
		}
		m.rows = append(m.rows, r.Item)
		r.Item.ID = len(m.rows)
		m.rows[r.Item.ID-1].ID = r.Item.ID
		if r.Item.Key != "" {
			m.byKey[r.Item.Key] = r.Item.ID
		}
	}
	if f == commitAfter {
		return fmt.Errorf("commit: %w: connection reset", groupcommit.ErrUnknown)
	}
	return nil
}

// resolve looks each item up: by key, or by the id the failed attempt gave
// it and its body.
func (m *model) resolve(_ context.Context, batch []*groupcommit.Request[item]) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range batch {
		if r.Item.Key != "" {
			if id, ok := m.byKey[r.Item.Key]; ok {
				dup := r.Item.Dup || id != r.Item.ID
				r.Item, r.Stored = m.rows[id-1], true
				r.Item.Dup = dup
			}
			continue
		}
		if id := r.Item.ID; id > 0 && id <= len(m.rows) && m.rows[id-1].Body == r.Item.Body {
			r.Item, r.Stored = m.rows[id-1], true
		}
	}
	return nil
}

// copies returns how many times each body was stored.
func (m *model) copies() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := map[string]int{}
	for _, r := range m.rows {
		n[r.Body]++
	}
	return n
}

func start(m *model, cfg groupcommit.Config[item]) *groupcommit.Committer[item] {
	cfg.Commit, cfg.Resolve = m.commit, m.resolve
	return groupcommit.Start(cfg)
}

// TestCommitAfterWriteResolved: a COMMIT that took effect but whose answer
// was lost is resolved by looking the items up. Every caller gets the id its
// item was stored under, and nothing is stored twice, with or without a key.
// (Retrying the batch item by item, as before, stored each item again.)
func TestCommitAfterWriteResolved(t *testing.T) {
	for _, f := range []fault{commitAfter, commitLost} {
		t.Run(fmt.Sprint("fault ", f), func(t *testing.T) {
			// The first batch is let through; the second, holding every
			// item queued behind it, meets the fault.
			commits := 0
			m := newModel(func() fault {
				commits++
				if commits == 2 {
					return f
				}
				return ok
			})
			gate := make(chan struct{})
			var held atomic.Bool
			c := groupcommit.Start(groupcommit.Config[item]{MaxBatch: 64, Commit: func(ctx context.Context, b []*groupcommit.Request[item]) error {
				if held.CompareAndSwap(false, true) {
					<-gate // the first batch waits until every item is queued, so the others share one
				}
				return m.commit(ctx, b)
			}, Resolve: m.resolve})
			defer c.Close()
			const n = 20
			got := make([]item, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := ""
					if i%2 == 0 {
						key = fmt.Sprint("k", i)
					}
					got[i], errs[i] = c.Submit(t.Context(), item{Key: key, Body: fmt.Sprint("body", i)})
				}()
			}
			waitFor(t, "items queued", func() bool { return held.Load() && c.Pending() == n-1 })
			close(gate)
			wg.Wait()
			copies := m.copies()
			for i := range n {
				body := fmt.Sprint("body", i)
				if errs[i] != nil {
					t.Errorf("item %d: %v", i, errs[i])
					continue
				}
				if copies[body] != 1 {
					t.Errorf("item %d stored %d times, want once", i, copies[body])
				}
				if got[i].Dup {
					t.Errorf("item %d answered as a duplicate of itself", i)
				}
				if got[i].ID < 1 || m.rows[got[i].ID-1].Body != body {
					t.Errorf("item %d acked with id %d, which does not hold it", i, got[i].ID)
				}
			}
		})
	}
}

// TestGaveUpBeforeBatchNeverStored: an item whose caller gave up while it
// was queued is dropped, never stored, and its caller learns of it.
func TestGaveUpBeforeBatchNeverStored(t *testing.T) {
	m := newModel(func() fault { return ok })
	gate := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	c := groupcommit.Start(groupcommit.Config[item]{MaxBatch: 64, Commit: func(ctx context.Context, b []*groupcommit.Request[item]) error {
		once.Do(func() { close(entered); <-gate })
		return m.commit(ctx, b)
	}, Resolve: m.resolve})
	defer c.Close()

	first := make(chan error, 1)
	go func() { _, err := c.Submit(t.Context(), item{Body: "first"}); first <- err }()
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() { _, err := c.Submit(ctx, item{Body: "gave up"}); gaveUp <- err }()
	kept := make(chan error, 1)
	go func() { _, err := c.Submit(t.Context(), item{Body: "kept"}); kept <- err }()
	waitFor(t, "two items queued", func() bool { return c.Pending() == 2 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit of the abandoned item: %v, want context.Canceled", err)
	}
	close(gate)
	for _, ch := range []chan error{first, kept} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if n := m.copies()["gave up"]; n != 0 {
		t.Errorf("an item whose caller gave up before its batch was stored %d times", n)
	}
	if n := m.copies()["kept"]; n != 1 {
		t.Errorf("the item queued beside it was stored %d times, want once", n)
	}
}

// TestHangingCommitHasDeadline: every commit runs under a deadline, so a
// database that does not answer fails the batch instead of holding every
// caller, including callers that set no deadline of their own.
func TestHangingCommitHasDeadline(t *testing.T) {
	m := newModel(func() fault { return hang })
	c := start(m, groupcommit.Config[item]{Timeout: 20 * time.Millisecond})
	defer c.Close()
	_, err := c.Submit(context.Background(), item{Body: "x"})
	if err == nil {
		t.Fatal("Submit succeeded although the database never answered")
	}
	if !errors.Is(err, groupcommit.ErrUnknown) {
		t.Errorf("Submit: %v, want an error saying the outcome is unknown", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, d := range m.seen {
		if !d {
			t.Errorf("commit %d ran without a deadline", i)
		}
	}
}

// TestQueueBounded: beyond MaxPending queued items Submit answers ELIMIT at
// once instead of queueing without end.
func TestQueueBounded(t *testing.T) {
	m := newModel(func() fault { return ok })
	gate, entered := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c := groupcommit.Start(groupcommit.Config[item]{MaxBatch: 4, MaxPending: 4, Commit: func(ctx context.Context, b []*groupcommit.Request[item]) error {
		once.Do(func() { close(entered); <-gate })
		return m.commit(ctx, b)
	}})
	defer c.Close()
	var wg sync.WaitGroup
	submit := func(body string) {
		defer wg.Done()
		if _, err := c.Submit(t.Context(), item{Body: body}); err != nil {
			t.Errorf("Submit %s: %v", body, err)
		}
	}
	wg.Add(1)
	go submit("in flight")
	<-entered
	for i := range 4 {
		wg.Add(1)
		go submit(fmt.Sprint("queued", i))
	}
	waitFor(t, "4 items queued", func() bool { return c.Pending() == 4 })
	_, err := c.Submit(t.Context(), item{Body: "one too many"})
	if chatr.ErrorCode(err) != chatr.ELIMIT {
		t.Errorf("Submit beyond the bound: %v, want code %q", err, chatr.ELIMIT)
	}
	close(gate)
	wg.Wait()
	if n := m.copies()["one too many"]; n != 0 {
		t.Errorf("the refused item was stored")
	}
}

// TestFaultsExactlyOnce: callers with short deadlines send keyed items and
// retry each with its key until acknowledged, as the chat layer and the
// clients do, while commits fail before writing, lose their COMMIT before
// or after it took effect, or hang. Every acknowledged item is stored under
// the id it was acknowledged with (acked ⊆ stored), and no item is stored
// twice.
func TestFaultsExactlyOnce(t *testing.T) {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	m := newModel(func() fault {
		mu.Lock()
		defer mu.Unlock()
		switch r := rng.IntN(10); {
		case r < 5:
			return ok
		case r < 6:
			return failBefore
		case r < 7:
			return commitLost
		case r < 9:
			return commitAfter
		default:
			return hang
		}
	})
	c := start(m, groupcommit.Config[item]{MaxBatch: 8, MaxPending: 1 << 12, Timeout: 5 * time.Millisecond})
	defer c.Close()

	const (
		senders = 16
		each    = 25
	)
	type ack struct {
		body string
		id   int
	}
	acks := make(chan ack, senders*each)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf("s%d-%d", s, i)
				for attempt := 0; ; attempt++ {
					if attempt == 1000 {
						t.Errorf("%s: never acknowledged", body)
						return
					}
					ctx, cancel := context.WithTimeout(t.Context(), time.Duration(1+attempt%8)*time.Millisecond)
					got, err := c.Submit(ctx, item{Key: body, Body: body})
					cancel()
					if err == nil {
						acks <- ack{body, got.ID}
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(acks)
	c.Close()

	copies := m.copies()
	acked := 0
	for a := range acks {
		acked++
		if a.id < 1 || a.id > len(m.rows) || m.rows[a.id-1].Body != a.body {
			t.Errorf("%s acknowledged with id %d, which does not hold it", a.body, a.id)
		}
	}
	if acked != senders*each {
		t.Errorf("%d of %d acknowledged", acked, senders*each)
	}
	for body, n := range copies {
		if n != 1 {
			t.Errorf("%s stored %d times", body, n)
		}
	}
	t.Logf("%d items, %d commits", acked, len(m.seen))
}

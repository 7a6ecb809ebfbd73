package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/chatr/chatr/internal/groupcommit"
)

// TestBatchesAndIsolatesFailures: concurrent submissions share
// transactions, each caller gets its own result, and a failing transaction is
// retried item by item so that only the bad item fails.
func TestBatchesAndIsolatesFailures(t *testing.T) {
	var mu sync.Mutex
	var batches []int
	next := 0
	entered, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c := groupcommit.New(16, func(_ context.Context, batch []*groupcommit.Request[int]) error {
		once.Do(func() { close(entered); <-gate }) // hold the first commit while the others queue up
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, len(batch))
		for _, r := range batch {
			if r.Item < 0 {
				return errors.New("transaction failed") // a bad item fails the whole batch
			}
		}
		for _, r := range batch {
			next++
			r.Item = next * 1000
		}
		return nil
	})
	const n = 200
	results := make([]int, n)
	errs := make([]error, n)
	var wg, started sync.WaitGroup
	submit := func(i int) {
		defer wg.Done()
		item := i
		if i == 7 {
			item = -1
		}
		started.Done()
		results[i], errs[i] = c.Submit(context.Background(), item)
	}
	wg.Add(1)
	started.Add(1)
	go submit(0)
	<-entered
	for i := 1; i < n; i++ {
		wg.Add(1)
		started.Add(1)
		go submit(i)
	}
	started.Wait()
	waitFor(t, "199 items queued", func() bool { return c.Pending() == n-1 })
	close(gate)
	wg.Wait()
	c.Close()

	seen := map[int]bool{}
	for i := 0; i < n; i++ {
		if i == 7 {
			if errs[i] == nil {
				t.Errorf("the bad item succeeded")
			}
			continue
		}
		if errs[i] != nil || results[i]%1000 != 0 || seen[results[i]] {
			t.Errorf("item %d: %d, %v", i, results[i], errs[i])
		}
		seen[results[i]] = true
	}
	if len(seen) != n-1 {
		t.Errorf("%d distinct results, want %d", len(seen), n-1)
	}
	// 1 held commit, then 199 queued items in batches of at most 16, plus
	// the failed batch retried item by item.
	if len(batches) > 1+13+16+1 {
		t.Errorf("%d transactions for %d items: queued items were not batched (%v)", len(batches), n, batches)
	}
	for _, b := range batches {
		if b > 16 {
			t.Errorf("batch of %d, max 16", b)
		}
	}
	if _, err := c.Submit(context.Background(), 1); !errors.Is(err, groupcommit.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

// TestCloseDrainsPending: what was submitted before Close is committed.
func TestCloseDrainsPending(t *testing.T) {
	release := make(chan struct{})
	var stored []int
	c := groupcommit.New(4, func(_ context.Context, batch []*groupcommit.Request[int]) error {
		<-release
		for _, r := range batch {
			stored = append(stored, r.Item)
		}
		return nil
	})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.Submit(context.Background(), i) }()
	}
	close(release)
	wg.Wait()
	c.Close()
	if len(stored) != 10 {
		t.Errorf("%d of 10 stored", len(stored))
	}
}

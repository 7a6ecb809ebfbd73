// Package groupcommit turns many concurrent writes into few transactions:
// callers submit an item and wait, one writer goroutine takes everything
// pending, stores it in one transaction and answers every caller after the
// commit. The stores use it for chat messages, where one fsync per batch
// instead of one per message is what makes acknowledged writes fast.
package groupcommit

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by Submit once Close has begun.
var ErrClosed = errors.New("store is closed")

// Request is one submitted item on its way through a commit.
type Request[T any] struct {
	Item T     // the commit function may update it (an assigned id, say)
	Err  error // set by the commit function for this item alone
	done chan struct{}
}

// CommitFunc stores a batch in one transaction. It returns an error when the
// transaction as a whole failed; an item that fails on its own (a missing
// parent row, say) gets its Request.Err set instead. Each attempt starts
// with every Err nil; the function must reset anything else it sets.
type CommitFunc[T any] func(batch []*Request[T]) error

// Committer batches submitted items into transactions.
type Committer[T any] struct {
	commit   CommitFunc[T]
	maxBatch int

	mu      sync.Mutex
	wake    *sync.Cond // signalled when pending grows or Close begins
	pending []*Request[T]
	closed  bool
	done    chan struct{} // closed when the writer has exited
}

// New starts a committer that stores at most maxBatch items per transaction.
func New[T any](maxBatch int, commit CommitFunc[T]) *Committer[T] {
	c := &Committer[T]{commit: commit, maxBatch: maxBatch, done: make(chan struct{})}
	c.wake = sync.NewCond(&c.mu)
	go c.write()
	return c
}

// Submit hands item to the writer and waits until the transaction that
// stored it has committed, returning the item as the commit left it. If ctx
// ends first, Submit returns ctx's error and the item may still be stored.
func (c *Committer[T]) Submit(ctx context.Context, item T) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	req := &Request[T]{Item: item, done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return zero, ErrClosed
	}
	c.pending = append(c.pending, req)
	if len(c.pending) == 1 {
		c.wake.Signal()
	}
	c.mu.Unlock()

	select {
	case <-req.done:
		if req.Err != nil {
			return zero, req.Err
		}
		return req.Item, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Close stores what is pending, stops the writer and waits for it. Calling
// it again waits too.
func (c *Committer[T]) Close() {
	c.mu.Lock()
	c.closed = true
	c.wake.Broadcast()
	c.mu.Unlock()
	<-c.done
}

// write commits everything pending, batch after batch, until Close with
// nothing left.
func (c *Committer[T]) write() {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.pending) == 0 && !c.closed {
			c.wake.Wait()
		}
		if len(c.pending) == 0 { // closed and drained
			c.mu.Unlock()
			return
		}
		n := min(len(c.pending), c.maxBatch)
		batch := make([]*Request[T], n)
		copy(batch, c.pending)
		rest := copy(c.pending, c.pending[n:])
		clear(c.pending[rest:])
		c.pending = c.pending[:rest]
		c.mu.Unlock()

		c.commitBatch(batch)
	}
}

// commitBatch commits the batch; should the transaction fail, each item is
// retried in a transaction of its own, so that one bad item cannot fail the
// others.
func (c *Committer[T]) commitBatch(batch []*Request[T]) {
	for _, r := range batch {
		r.Err = nil
	}
	err := c.commit(batch)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			c.commitBatch([]*Request[T]{r})
		}
		return
	}
	for _, r := range batch {
		if err != nil {
			r.Err = err
		}
		close(r.done)
	}
}

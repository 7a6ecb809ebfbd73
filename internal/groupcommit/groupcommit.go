// Package groupcommit turns many concurrent writes into few transactions:
// callers submit an item and wait, one writer goroutine takes everything
// pending, stores it in one transaction and answers every caller after the
// commit. The stores use it for chat messages, where one fsync per batch
// instead of one per message is what makes acknowledged writes fast.
//
// What a caller that gives up can rely on: a request whose context ended
// before its batch began is dropped, never stored; one whose context ended
// later may be stored, and the stores make that findable by the message's
// idempotency key (chatr.Message.ClientID), so the caller's retry gets the
// first result. A COMMIT that fails without saying whether it took effect is
// resolved by looking the items up (Config.Resolve), never by writing them
// again blindly. Every batch has a deadline, and the queue is bounded.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chatr/chatr"
)

// ErrClosed is returned by Submit once Close has begun.
var ErrClosed = errors.New("store is closed")

// ErrFull is returned by Submit when MaxPending items are waiting already.
var ErrFull = chatr.Errorf(chatr.ELIMIT, "too many messages waiting to be stored, try again")

// ErrUnknown marks a commit error after which the transaction may or may
// not have taken effect (COMMIT failed or timed out). A CommitFunc wraps it
// into such an error so that the committer resolves the batch.
var ErrUnknown = errors.New("outcome of the commit is unknown")

// Request is one submitted item on its way through a commit.
type Request[T any] struct {
	Item   T     // the commit function may update it (an assigned id, say)
	Err    error // set by the commit function for this item alone
	Stored bool  // set by the resolve function: Item is stored (and Item is its stored form)
	ctx    context.Context
	done   chan struct{}
}

// CommitFunc stores a batch in one transaction, within ctx's deadline. It
// returns an error when the transaction as a whole failed (wrapping
// ErrUnknown if it may have committed); an item that fails on its own (a
// missing parent row, say) gets its Request.Err set instead. Each attempt
// starts with every Err nil; the function must reset anything else it sets.
type CommitFunc[T any] func(ctx context.Context, batch []*Request[T]) error

// ResolveFunc learns the outcome of a commit that failed with ErrUnknown:
// it sets Stored (and Item to the stored form) on every request whose item
// is stored, and leaves the others, which are then known not to be stored.
type ResolveFunc[T any] func(ctx context.Context, batch []*Request[T]) error

// Config sets up a Committer. Zero values take the defaults given.
type Config[T any] struct {
	MaxBatch   int           // items per transaction (default 1024)
	MaxPending int           // items waiting before Submit answers ErrFull (default 16 × MaxBatch)
	Timeout    time.Duration // deadline of one batch, retries included (default 30 s)
	Commit     CommitFunc[T] // required
	Resolve    ResolveFunc[T]
}

// Committer batches submitted items into transactions.
type Committer[T any] struct {
	cfg Config[T]

	mu      sync.Mutex
	wake    *sync.Cond // signalled when pending grows or Close begins
	pending []*Request[T]
	closed  bool
	done    chan struct{} // closed when the writer has exited
}

// New starts a committer that stores at most maxBatch items per transaction
// with the default bounds.
func New[T any](maxBatch int, commit CommitFunc[T]) *Committer[T] {
	return Start(Config[T]{MaxBatch: maxBatch, Commit: commit})
}

// Start starts a committer configured by cfg.
func Start[T any](cfg Config[T]) *Committer[T] {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1024
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 16 * cfg.MaxBatch
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	c := &Committer[T]{cfg: cfg, done: make(chan struct{})}
	c.wake = sync.NewCond(&c.mu)
	go c.write()
	return c
}

// Submit hands item to the writer and waits until the transaction that
// stored it has committed, returning the item as the commit left it. If ctx
// ends first, Submit returns ctx's error: the item is then not stored if its
// batch had not begun, and may be stored otherwise. ErrFull when the queue
// is full.
func (c *Committer[T]) Submit(ctx context.Context, item T) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	req := &Request[T]{Item: item, ctx: ctx, done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return zero, ErrClosed
	}
	if len(c.pending) >= c.cfg.MaxPending {
		c.mu.Unlock()
		return zero, ErrFull
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

// Pending returns how many submitted items wait for a batch.
func (c *Committer[T]) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
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
		n := min(len(c.pending), c.cfg.MaxBatch)
		batch := make([]*Request[T], n)
		copy(batch, c.pending)
		rest := copy(c.pending, c.pending[n:])
		clear(c.pending[rest:])
		c.pending = c.pending[:rest]
		c.mu.Unlock()

		if batch = live(batch); len(batch) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
			c.commitBatch(ctx, batch, 3)
			cancel()
		}
	}
}

// live answers the requests whose callers have given up (they are never
// stored) and returns the others.
func live[T any](batch []*Request[T]) []*Request[T] {
	out := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.Err = err
			close(r.done)
			continue
		}
		out = append(out, r)
	}
	return out
}

// commitBatch commits the batch within ctx. Should the transaction fail
// with a known outcome (nothing stored), each item whose caller still waits
// is retried in a transaction of its own, so that one bad item cannot fail
// the others; with an unknown outcome the batch is resolved, and only the
// items known not to be stored are committed again. attempts bounds the
// rounds.
func (c *Committer[T]) commitBatch(ctx context.Context, batch []*Request[T], attempts int) {
	for _, r := range batch {
		r.Err, r.Stored = nil, false
	}
	err := c.cfg.Commit(ctx, batch)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknown) && c.cfg.Resolve != nil && attempts > 1:
		// The batch's deadline may be what failed the commit: the look-up
		// gets a deadline of its own.
		rctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		rerr := c.cfg.Resolve(rctx, batch)
		cancel()
		if rerr != nil {
			answer(batch, fmt.Errorf("%w (resolving: %v)", err, rerr))
			return
		}
		var again []*Request[T]
		for _, r := range batch {
			if r.Stored {
				r.Err = nil
				close(r.done)
			} else {
				again = append(again, r)
			}
		}
		if again = live(again); len(again) > 0 {
			// Known not stored: committing them again is safe, within a
			// fresh deadline for the same reason.
			actx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
			c.commitBatch(actx, again, attempts-1)
			cancel()
		}
		return
	case !errors.Is(err, ErrUnknown) && len(batch) > 1 && ctx.Err() == nil && attempts > 1:
		for _, r := range live(batch) {
			c.commitBatch(ctx, []*Request[T]{r}, attempts-1)
		}
		return
	default:
		answer(batch, err)
		return
	}
	answer(batch, nil)
}

// answer wakes every caller of the batch, with err if it is not nil.
func answer[T any](batch []*Request[T], err error) {
	for _, r := range batch {
		if err != nil {
			r.Err = err
		}
		close(r.done)
	}
}

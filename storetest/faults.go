package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// Fault names what a faulty database does to one commit of messages.
type Fault int

const (
	FaultNone        Fault = iota
	FaultFail              // the transaction fails before COMMIT: nothing stored
	FaultCommitLost        // COMMIT is lost before it took effect: outcome unknown, nothing stored
	FaultCommitAfter       // COMMIT takes effect, then its answer is lost: outcome unknown
	FaultHang              // the database does not answer until the deadline: nothing stored
)

// RandomFaults returns a fault injector for a store's message commits (the
// stores' tests plug it in): seeded, so a failure repeats, and at most
// every other commit is faulty so that senders make progress.
func RandomFaults(seed uint64) func(ctx context.Context, batch []*groupcommit.Request[chatr.Message], commit groupcommit.CommitFunc[chatr.Message]) error {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed))
	return func(ctx context.Context, batch []*groupcommit.Request[chatr.Message], commit groupcommit.CommitFunc[chatr.Message]) error {
		mu.Lock()
		f := Fault(rng.IntN(int(FaultHang)*2 + 1))
		mu.Unlock()
		switch f {
		case FaultFail:
			return errors.New("injected: connection refused")
		case FaultCommitLost:
			return fmt.Errorf("injected: %w: connection reset", groupcommit.ErrUnknown)
		case FaultCommitAfter:
			if err := commit(ctx, batch); err != nil {
				return err
			}
			return fmt.Errorf("injected: %w: connection reset after COMMIT", groupcommit.ErrUnknown)
		case FaultHang:
			// A database that does not answer holds the batch until its
			// deadline; a short one keeps the test short.
			hang, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			defer cancel()
			<-hang.Done()
			return fmt.Errorf("injected: %w: %w", groupcommit.ErrUnknown, hang.Err())
		}
		return commit(ctx, batch)
	}
}

// ExactlyOnceUnderFaults sends keyed messages from concurrent senders with
// short deadlines, each retried with its key until acknowledged, as the
// chat layer and the clients do. The store's commits should meet faults
// (RandomFaults). Every acknowledged message is stored under the id it was
// acknowledged with (acked ⊆ stored) and no message is stored twice.
func ExactlyOnceUnderFaults(t *testing.T, s chatr.Store) {
	t.Helper()
	mustChat(t, s, group("c", at(0)))
	const (
		senders = 8
		each    = 15
	)
	var (
		mu    sync.Mutex
		acked = map[string]chatr.Message{}
		wg    sync.WaitGroup
	)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("s%d-%d", g, i)
				for attempt := 0; ; attempt++ {
					if attempt == 500 {
						t.Errorf("%s: never acknowledged", key)
						return
					}
					// Deadlines from 1 ms, doubling every ten attempts, as a
					// client backs off: short ones end at every point of
					// the way, long ones let a slow disk finish.
					ctx, cancel := context.WithTimeout(t.Context(), time.Duration(1+attempt%10)*time.Millisecond<<min(attempt/10, 10))
					m, err := s.AddMessage(ctx, keyed("c", fmt.Sprint("guest:", g), key, key))
					cancel()
					if err == nil {
						m.Duplicate = false
						mu.Lock()
						acked[key] = m
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	stored := map[string]chatr.Message{}
	all := listAll(t, s, "c")
	for _, m := range all {
		if _, twice := stored[m.ClientID]; twice {
			t.Errorf("%s stored twice", m.ClientID)
		}
		stored[m.ClientID] = m
	}
	same(t, "ids stored", ids(all), span(1, int64(len(all))))
	same(t, "messages acknowledged", len(acked), senders*each)
	for key, m := range acked {
		same(t, "acknowledged "+key, m, stored[key])
	}
}

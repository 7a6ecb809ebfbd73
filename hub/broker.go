package hub

import (
	"context"
	"errors"
	"sync"
)

// LocalBroker is the in-process Broker: Publish hands the command to every
// subscriber synchronously, on the publisher's goroutine, so a command is
// applied (queued to sockets) by the time Publish returns and one
// goroutine's commands are delivered in the order it published them.
//
// Unlike a network broker it may call deliver from several goroutines at
// once (one per concurrent publisher); the Hub's deliver is safe for that,
// and it saves a goroutine hop and a lock on the fan-out path. Several Hubs
// subscribed to one LocalBroker behave like the nodes of a cluster, which is
// how the tests exercise cross-node paths. Subscribers must not modify the
// commands they are given: all of them see the same *Command.
type LocalBroker struct {
	mu     sync.RWMutex
	subs   []*localSub
	closed bool
}

type localSub struct {
	ctx     context.Context
	deliver func(*Command)
}

var _ Broker = (*LocalBroker)(nil)

// NewLocalBroker returns an in-process broker with no subscribers.
func NewLocalBroker() *LocalBroker { return &LocalBroker{} }

// ErrBrokerClosed is returned by a closed broker.
var ErrBrokerClosed = errors.New("hub: broker closed")

// Publish delivers cmd to every live subscriber before returning.
func (b *LocalBroker) Publish(ctx context.Context, cmd *Command) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	subs, closed := b.subs, b.closed
	b.mu.RUnlock()
	if closed {
		return ErrBrokerClosed
	}
	for _, s := range subs {
		if s.ctx.Err() == nil {
			s.deliver(cmd)
		}
	}
	return nil
}

// Subscribe registers deliver until ctx is done.
func (b *LocalBroker) Subscribe(ctx context.Context, deliver func(*Command)) error {
	s := &localSub{ctx: ctx, deliver: deliver}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBrokerClosed
	}
	// Copy on write: Publish reads the slice without holding the lock.
	b.subs = append(b.subs[:len(b.subs):len(b.subs)], s)
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		subs := make([]*localSub, 0, len(b.subs))
		for _, x := range b.subs {
			if x != s {
				subs = append(subs, x)
			}
		}
		b.subs = subs
	})
	return nil
}

// Close stops delivery to every subscriber.
func (b *LocalBroker) Close() error {
	b.mu.Lock()
	b.closed, b.subs = true, nil
	b.mu.Unlock()
	return nil
}

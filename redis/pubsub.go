package redis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/hub"
)

// Timings of the broker.
const (
	// publishTimeout bounds one round trip of a batch of PUBLISH commands.
	publishTimeout = 5 * time.Second
	// maxBatch is how many queued commands one pipelined round trip carries.
	maxBatch = 256
	// receiveTimeout: a subscription silent for this long is pinged, and
	// one still silent after another receiveTimeout is re-established
	// (it catches a Redis that vanished without closing the socket).
	receiveTimeout = 15 * time.Second
	// resubscribeBackoff is the first and maxResubscribeBackoff the longest
	// wait between attempts to re-subscribe while Redis is unreachable.
	resubscribeBackoff    = 100 * time.Millisecond
	maxResubscribeBackoff = 2 * time.Second
)

// PubSubBroker is a hub.Broker on Redis pub/sub: every command goes to one
// channel per hub, which every node subscribes to. It is the broker Chatr
// used before Broker (on streams), kept as the baseline of the broker
// benchmark; it does not resume after a cut (see below), so a cluster uses
// Broker.
//
// Ordering: Redis relays a channel's messages to each subscriber in the
// order it executed the PUBLISH commands, and Publish returns only once
// Redis has executed its command, so commands published one after another
// (by any node) reach every node in that order, and all nodes see all
// commands in the same global order. A node's own commands take the same
// path, so they interleave with the other nodes' consistently.
//
// Delivery is at most once. A command is lost for a node whose subscription
// is down when it is published (Redis restarting, a network cut, a
// subscriber Redis disconnected for falling behind its output-buffer limit);
// the broker re-subscribes by itself and logs the gap. What that means for
// Chatr: a chat message is stored before it is acknowledged and published,
// so a lost publication costs live delivery, never the message: clients
// re-sync from history (GET /api/chats/{id}/messages) when they reconnect or
// reopen a chat, and de-duplicate by message id. Presence and group
// membership commands lost in a gap are corrected by the next connection of
// the users concerned.
//
// Publish pipelines: commands queued while a round trip is in flight go out
// together in the next one, in queue order.
type PubSubBroker struct {
	rdb     goredis.UniversalClient
	channel string
	log     *slog.Logger

	queue  chan *publishReq
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the writer has stopped
	wg     sync.WaitGroup
}

var _ hub.Broker = (*PubSubBroker)(nil)

// NewPubSubBroker returns a pub/sub broker on rdb. It owns no connection of
// its own: closing the broker leaves rdb open.
func NewPubSubBroker(rdb goredis.UniversalClient, cfg BrokerConfig) *PubSubBroker {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Hub == "" {
		cfg.Hub = "chat"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &PubSubBroker{
		rdb: rdb, channel: cfg.Prefix + "hub:" + cfg.Hub, log: cfg.Logger,
		queue: make(chan *publishReq, maxBatch), done: make(chan struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.write()
	return b
}

// Channel is the Redis channel the broker publishes on.
func (b *PubSubBroker) Channel() string { return b.channel }

// Publish sends cmd to every subscribed node, this one included. It returns
// once Redis has accepted the command (or with the error that prevented it).
func (b *PubSubBroker) Publish(ctx context.Context, cmd *hub.Command) error {
	payload, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	req := &publishReq{payload: payload, err: make(chan error, 1)}
	select {
	case b.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return hub.ErrBrokerClosed
	}
	select {
	case err := <-req.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return hub.ErrBrokerClosed
	}
}

// write is the single writer: one pipelined round trip per batch of queued
// commands, batches one after another, so the queue order is the order in
// which Redis executes them.
func (b *PubSubBroker) write() {
	defer close(b.done)
	batch := make([]*publishReq, 0, maxBatch)
	for {
		select {
		case <-b.ctx.Done():
			return
		case req := <-b.queue:
			batch = append(batch[:0], req)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case req := <-b.queue:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		b.send(batch)
		clear(batch)
	}
}

func (b *PubSubBroker) send(batch []*publishReq) {
	ctx, cancel := context.WithTimeout(b.ctx, publishTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].err <- b.rdb.Publish(ctx, b.channel, batch[0].payload).Err()
		return
	}
	pipe := b.rdb.Pipeline()
	cmds := make([]*goredis.IntCmd, len(batch))
	for i, req := range batch {
		cmds[i] = pipe.Publish(ctx, b.channel, req.payload)
	}
	_, err := pipe.Exec(ctx)
	for i, req := range batch {
		if e := cmds[i].Err(); e != nil {
			req.err <- e
		} else {
			req.err <- err
		}
	}
}

// Subscribe calls deliver with every command published on the hub's
// channel, one at a time, until ctx is done or the broker is closed. It
// returns once Redis has confirmed the subscription. When the subscription
// breaks it is re-established in the background; commands published in the
// gap are not delivered to this subscriber (see Broker).
func (b *PubSubBroker) Subscribe(ctx context.Context, deliver func(*hub.Command)) error {
	if b.ctx.Err() != nil {
		return hub.ErrBrokerClosed
	}
	ps, err := b.subscribe(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer stop()
		defer cancel()
		b.receive(sctx, ps, deliver)
	}()
	return nil
}

// subscribe opens a subscription and waits for Redis to confirm it.
func (b *PubSubBroker) subscribe(ctx context.Context) (*goredis.PubSub, error) {
	ps := b.rdb.Subscribe(ctx, b.channel)
	rctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if _, err := ps.ReceiveTimeout(rctx, publishTimeout); err != nil {
		ps.Close()
		return nil, err
	}
	return ps, nil
}

// receive reads the subscription until ctx is done, re-subscribing after
// errors and pinging a quiet connection to find out whether it still lives.
func (b *PubSubBroker) receive(ctx context.Context, ps *goredis.PubSub, deliver func(*hub.Command)) {
	var mu sync.Mutex // guards ps against the closer below
	closed := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		ps.Close() // unblocks ReceiveTimeout
	})
	defer closed()
	defer func() {
		mu.Lock()
		ps.Close()
		mu.Unlock()
	}()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, receiveTimeout)
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		switch {
		case err == nil:
			pinged = false
		case errors.As(err, &ne) && ne.Timeout() && !pinged:
			pinged = true
			_ = ps.Ping(ctx) // the pong, or the failure, shows up in the next receive
			continue
		default:
			b.log.Warn("redis broker: subscription lost; commands published until it is back are lost for this node", "err", err)
			next := b.resubscribe(ctx)
			if next == nil {
				return
			}
			mu.Lock()
			ps.Close()
			ps = next
			mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			pinged = false
			b.log.Info("redis broker: subscription re-established", "channel", b.channel)
			continue
		}
		m, ok := msg.(*goredis.Message)
		if !ok {
			continue // pong or subscription confirmation
		}
		var cmd hub.Command
		if err := json.Unmarshal([]byte(m.Payload), &cmd); err != nil {
			b.log.Error("redis broker: undecodable command", "err", err)
			continue
		}
		deliver(&cmd)
	}
}

// resubscribe retries until a subscription is confirmed or ctx is done
// (then it returns nil).
func (b *PubSubBroker) resubscribe(ctx context.Context) *goredis.PubSub {
	wait := resubscribeBackoff
	for {
		if ps, err := b.subscribe(ctx); err == nil {
			return ps
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxResubscribeBackoff)
	}
}

// Close stops publishing and every subscription. Publish calls in flight
// return hub.ErrBrokerClosed. The Redis client stays open.
func (b *PubSubBroker) Close() error {
	b.cancel()
	<-b.done
	b.wg.Wait()
	return nil
}

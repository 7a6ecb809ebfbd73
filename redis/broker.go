package redis

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/hub"
)

// Defaults and timings of the stream broker.
const (
	// DefaultMaxLen is how many commands the bus keeps (approximately: Redis
	// trims whole nodes of the stream). A node cut off for fewer commands
	// than this resumes without loss; at a few thousand commands a second
	// that is tens of seconds of outage, and about 30 MB of Redis memory
	// for chat-sized messages.
	DefaultMaxLen = 100_000
	// readBlock is how long one XREAD waits for new commands. It also
	// bounds how long Close waits for the reader.
	readBlock = time.Second
	// readCount is how many commands one XREAD returns at most.
	readCount = 512
)

// Broker is a hub.Broker on a Redis stream: every command is appended to
// one stream per hub (XADD, trimmed to about MaxLen entries), and each node
// reads the stream from its own position (XREAD from the last id it has
// seen). A node whose connection drops reconnects and reads on from that
// position, so it misses nothing that the stream still holds, and it never
// sees a command twice: ids only grow, and entries at or below the
// position are skipped.
//
// Ordering: one writer per node appends its commands one batch after
// another in publish order, and every node reads the one stream in order,
// so each publisher's commands reach every node in publish order, and all
// nodes see all commands in the same global order.
//
// Loss is detected, not silent. Next to the stream the bus keeps a counter
// that every append increments in the same script, and each entry carries
// its number: a node that reads a number other than the one after the last
// it saw has lost commands (its position was trimmed away while it was cut
// off, or Redis restarted empty). The counter starts at a random value, so
// that a reset stream cannot by chance continue the old numbering. The
// node then delivers a hub.CmdResync before going on; the hub ends every
// local session so that clients reconnect and re-join through the
// application, which checks each join against the store (see hub.CmdResync
// for why ending sessions is the right re-sync).
//
// What the guarantees mean for membership: a node either applies every
// membership command in order, or it drops every membership it holds. A
// "leave" or "remove group" cannot be missed while later messages to that
// group are delivered, so a removed member cannot read a chat, nor one
// re-created under the same id.
//
// Publish pipelines: commands queued while a round trip is in flight go out
// together in the next one, in queue order.
type Broker struct {
	rdb    goredis.UniversalClient
	stream string // the stream's key
	seq    string // the key of the stream's entry counter
	maxLen int64
	start  int64 // the counter's first value, should the counter be missing
	log    *slog.Logger

	queue  chan *publishReq
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the writer has stopped
	wg     sync.WaitGroup

	reading atomic.Bool // the last read of the bus succeeded
}

// BrokerConfig configures a Broker. Zero values mean the defaults.
type BrokerConfig struct {
	Prefix string // key and channel prefix, default DefaultPrefix
	Hub    string // hub name, part of the stream's key, default "chat"
	// MaxLen is how many commands the stream keeps, default DefaultMaxLen.
	MaxLen int64
	Logger *slog.Logger
}

type publishReq struct {
	ctx     context.Context // the publisher's: once it is done, the command is not sent
	payload []byte
	err     chan error
	revoke  bool // the command takes a membership or a connection away (see send)
}

var _ hub.Broker = (*Broker)(nil)

// appendScript appends one command and numbers it. KEYS: stream, counter.
// ARGV: max length, payload, the counter's start should it be missing.
var appendScript = goredis.NewScript(`
redis.call('SET', KEYS[2], ARGV[3], 'NX')
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'n', n, 'c', ARGV[2])
return n`)

// positionScript returns the id and number of the newest entry, or "0-0"
// and the counter when the stream is empty, creating the counter (at
// ARGV[1]) if it is missing, so that the first entry's number is known.
// KEYS: stream, counter.
var positionScript = goredis.NewScript(`
local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #e > 0 then
  local f = e[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'n' then return {e[1][1], f[i+1]} end
  end
end
redis.call('SET', KEYS[2], ARGV[1], 'NX')
return {'0-0', redis.call('GET', KEYS[2])}`)

// NewBroker returns a broker on rdb. It owns no connection of its own:
// closing the broker leaves rdb open.
func NewBroker(rdb goredis.UniversalClient, cfg BrokerConfig) *Broker {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Hub == "" {
		cfg.Hub = "chat"
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var r [8]byte
	rand.Read(r[:])
	b := &Broker{
		rdb: rdb, stream: cfg.Prefix + "bus:" + cfg.Hub, seq: cfg.Prefix + "bus:" + cfg.Hub + ":n",
		maxLen: cfg.MaxLen, start: int64(binary.BigEndian.Uint64(r[:]) >> 16), log: cfg.Logger,
		queue: make(chan *publishReq, maxBatch), done: make(chan struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.write()
	return b
}

// Reading reports whether the broker's last read of the bus succeeded:
// false before Subscribe has read once and while Redis cannot be read.
func (b *Broker) Reading() bool { return b.reading.Load() }

// Stream is the key of the Redis stream the broker appends to.
func (b *Broker) Stream() string { return b.stream }

// Publish appends cmd to the stream that every node reads, this one
// included. It returns once Redis has appended it (or with the error that
// prevented it).
func (b *Broker) Publish(ctx context.Context, cmd *hub.Command) error {
	payload, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	req := &publishReq{ctx: ctx, payload: payload, err: make(chan error, 1), revoke: revokes(cmd.Kind)}
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

// revokes reports whether a command takes a membership or a connection
// away: missing one would let someone keep reading what they should not.
func revokes(k hub.CommandKind) bool {
	switch k {
	case hub.CmdRemoveUserFromGroup, hub.CmdRemoveConnFromGroup, hub.CmdRemoveGroup, hub.CmdCloseConnection, hub.CmdCloseUser:
		return true
	}
	return false
}

// write is the single writer: one pipelined round trip per batch of queued
// commands, batches one after another, so the queue order is the order in
// which Redis appends them.
func (b *Broker) write() {
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

// send appends a batch in one round trip and reports each command's
// outcome to its publisher. The commands of a failed batch that take a
// membership or a connection away are then appended again, before any
// later command, until Redis takes them or the broker closes: the caller
// has already changed the store (deleted the chat, say), and a removal
// lost on the bus would leave stale members on every node. Appending one
// twice (when Redis ran it but the reply was lost) is harmless, because
// removals are idempotent and nothing published later overtakes them.
func (b *Broker) send(batch []*publishReq) {
	// A publisher that gave up waiting (while Redis was away, say) was told
	// its command failed: it must not go out later behind its back, unless
	// it is a removal (see above).
	live := batch[:0]
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil && !req.revoke {
			req.err <- err
		} else {
			live = append(live, req)
		}
	}
	batch = live
	if len(batch) == 0 {
		return
	}
	errs := b.appendBatch(batch)
	var retry []*publishReq
	for i, req := range batch {
		req.err <- errs[i]
		if errs[i] != nil && req.revoke {
			retry = append(retry, req)
		}
	}
	wait := resubscribeBackoff
	for len(retry) > 0 {
		b.log.Warn("redis bus: could not publish removals; retrying before anything else", "count", len(retry), "err", errs[0])
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, maxResubscribeBackoff)
		errs = b.appendBatch(retry)
		for i, err := range errs {
			if err != nil { // keep this one and the rest, in order
				retry = retry[i:]
				break
			}
			if i == len(errs)-1 {
				retry = nil
			}
		}
	}
}

// appendBatch appends commands in one round trip and returns each one's
// error. A batch refused because Redis lost its scripts (a restart, SCRIPT
// FLUSH) ran none of its commands, so it is sent again once the script is
// loaded.
func (b *Broker) appendBatch(batch []*publishReq) []error {
	ctx, cancel := context.WithTimeout(b.ctx, publishTimeout)
	defer cancel()
	keys := []string{b.stream, b.seq}
	maxLen := strconv.FormatInt(b.maxLen, 10)
	start := strconv.FormatInt(b.start, 10)
	errs := make([]error, len(batch))
	for attempt := 0; ; attempt++ {
		pipe := b.rdb.Pipeline()
		cmds := make([]*goredis.Cmd, len(batch))
		for i, req := range batch {
			cmds[i] = appendScript.EvalSha(ctx, pipe, keys, maxLen, req.payload, start)
		}
		_, err := pipe.Exec(ctx)
		if err != nil && attempt == 0 && goredis.HasErrorPrefix(cmds[0].Err(), "NOSCRIPT") {
			if err = appendScript.Load(ctx, b.rdb).Err(); err == nil {
				continue
			}
		}
		for i := range batch {
			errs[i] = cmds[i].Err()
		}
		return errs
	}
}

// position is a node's place in the stream: the id and number of the last
// entry it has read.
type position struct {
	id streamID
	n  int64
}

// Subscribe calls deliver with every command appended from now on, one at
// a time and in stream order, until ctx is done or the broker is closed. It
// returns once the starting position is known. When the connection breaks
// it reads on from where it stopped; when commands were lost it first
// delivers a hub.CmdResync (see Broker).
func (b *Broker) Subscribe(ctx context.Context, deliver func(*hub.Command)) error {
	if b.ctx.Err() != nil {
		return hub.ErrBrokerClosed
	}
	pos, err := b.position(ctx)
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
		b.read(sctx, pos, deliver)
	}()
	return nil
}

// position returns the stream's newest entry, where a new reader starts.
func (b *Broker) position(ctx context.Context) (position, error) {
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	v, err := positionScript.Run(pctx, b.rdb, []string{b.stream, b.seq}, b.start).StringSlice()
	if err != nil {
		return position{}, fmt.Errorf("redis bus position: %w", err)
	}
	if len(v) != 2 {
		return position{}, fmt.Errorf("redis bus position: unexpected reply %q", v)
	}
	id, err := parseStreamID(v[0])
	if err != nil {
		return position{}, err
	}
	n, err := strconv.ParseInt(v[1], 10, 64)
	if err != nil {
		return position{}, fmt.Errorf("redis bus counter %q: %w", v[1], err)
	}
	return position{id: id, n: n}, nil
}

// read follows the stream from pos until ctx is done.
func (b *Broker) read(ctx context.Context, pos position, deliver func(*hub.Command)) {
	wait := resubscribeBackoff
	var cutAt time.Time // when reading started failing; zero while it works
	for {
		res, err := b.rdb.XRead(ctx, &goredis.XReadArgs{
			Streams: []string{b.stream, pos.id.String()}, Count: readCount, Block: readBlock,
		}).Result()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, goredis.Nil) {
			b.reading.Store(false)
			if cutAt.IsZero() {
				cutAt = time.Now()
				b.log.Warn("redis bus: cannot read; will resume from the last command seen", "stream", b.stream, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, maxResubscribeBackoff)
			continue
		}
		b.reading.Store(true)
		if !cutAt.IsZero() {
			b.log.Info("redis bus: reading again", "stream", b.stream, "after", time.Since(cutAt).Round(time.Millisecond))
			cutAt, wait = time.Time{}, resubscribeBackoff
		}
		for _, s := range res {
			for _, m := range s.Messages {
				if ctx.Err() != nil {
					return
				}
				pos = b.apply(pos, m, deliver)
			}
		}
	}
}

// apply delivers one stream entry and returns the position after it. An
// entry at or before pos has been delivered already and is skipped; a gap
// in the numbering delivers a hub.CmdResync first.
func (b *Broker) apply(pos position, m goredis.XMessage, deliver func(*hub.Command)) position {
	id, err := parseStreamID(m.ID)
	if err != nil || !pos.id.less(id) {
		return pos
	}
	ns, _ := m.Values["n"].(string)
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		b.log.Error("redis bus: entry without a number", "id", m.ID)
		return position{id: id, n: pos.n}
	}
	if n != pos.n+1 {
		reason := fmt.Sprintf("commands %d to %d of %s are no longer in the stream", pos.n+1, n-1, b.stream)
		if n <= pos.n {
			reason = "the stream " + b.stream + " was reset"
		}
		b.log.Warn("redis bus: lost commands", "reason", reason)
		deliver(&hub.Command{Kind: hub.CmdResync, Reason: reason})
	}
	pos = position{id: id, n: n}
	payload, _ := m.Values["c"].(string)
	var cmd hub.Command
	if err := json.Unmarshal([]byte(payload), &cmd); err != nil {
		b.log.Error("redis bus: undecodable command", "id", m.ID, "err", err)
		return pos
	}
	deliver(&cmd)
	return pos
}

// Close stops publishing and every subscription. Publish calls in flight
// return hub.ErrBrokerClosed. The Redis client stays open.
func (b *Broker) Close() error {
	b.cancel()
	<-b.done
	b.wg.Wait()
	return nil
}

// streamID is a Redis stream entry id, <milliseconds>-<sequence>.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, error) {
	a, c, ok := strings.Cut(s, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(c, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("redis bus: bad stream id %q", s)
	}
	return streamID{ms, seq}, nil
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

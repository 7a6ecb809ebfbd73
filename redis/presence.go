package redis

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/chat"
)

// Defaults of PresenceConfig.
const (
	DefaultHeartbeat   = 2 * time.Second  // how often a node says it is alive
	DefaultNodeTimeout = 10 * time.Second // silence after which a node counts as dead
	// reapInterval is how often each node looks for dead nodes; a dead
	// node's users go offline within NodeTimeout + reapInterval of its
	// last heartbeat.
	reapInterval = time.Second
	// reapBatch bounds the connections one reaping script removes, so that
	// cleaning up after a large node never blocks Redis for long.
	reapBatch = 1000
	// opTimeout bounds the node's own background Redis calls.
	opTimeout = 5 * time.Second
)

// Presence is a chat.Presence shared by the nodes of a cluster through
// Redis. Each connection is recorded under its user (which node holds it)
// and under its node; each node refreshes a heartbeat. When a node stops
// heartbeating for NodeTimeout, the first surviving node to notice removes
// its connections in one atomic script, so the users who thereby went
// offline are reported by exactly one node, exactly once (see Start).
//
// Keys, with the prefix p:
//
//	p+"presence:nodes"          sorted set: node id -> last heartbeat (Redis time, ms)
//	p+"presence:node:"+node     set: connID+"\n"+userID of the node's connections
//	p+"presence:user:"+user     hash: connID -> node id
//	p+"presence:online"         set: ids of users with at least one connection
//
// Count and Online are cluster-wide. A node also keeps its own connections
// in memory, so that it can put them back when Redis lost them (a Redis
// restart without persistence) or when it was wrongly declared dead (a
// long pause); the users that brings back online are reported too.
type Presence struct {
	rdb      goredis.UniversalClient
	node     string
	prefix   string
	cfg      PresenceConfig
	log      *slog.Logger
	nodesKey string
	nodeKey  string
	online   string

	// Add and Remove hold mu shared while they change Redis and the local
	// set; a resync holds it exclusively so it compares a still picture.
	mu    sync.RWMutex
	lmu   sync.Mutex
	local map[string]struct{} // this node's members (connID+"\n"+userID)
	dirty atomic.Bool         // a write failed: resync at the next heartbeat

	onChange func(ctx context.Context, online, offline []string)
	changes  sync.WaitGroup
	cancel   context.CancelFunc
	done     chan struct{}
}

// PresenceConfig configures a Presence. NodeID is required.
type PresenceConfig struct {
	Prefix      string        // key prefix, default DefaultPrefix
	NodeID      string        // this node's id, unique in the cluster
	Heartbeat   time.Duration // default DefaultHeartbeat
	NodeTimeout time.Duration // default DefaultNodeTimeout; keep it several heartbeats long
	Logger      *slog.Logger
}

var _ chat.Presence = (*Presence)(nil)

// NewPresence returns the presence of node cfg.NodeID on rdb. Call Start
// before the node accepts connections.
func NewPresence(rdb goredis.UniversalClient, cfg PresenceConfig) (*Presence, error) {
	if cfg.NodeID == "" || strings.ContainsAny(cfg.NodeID, "\n") {
		return nil, errors.New("redis presence: a node id (without newlines) is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := cfg.Prefix
	return &Presence{
		rdb: rdb, node: cfg.NodeID, prefix: p, cfg: cfg, log: cfg.Logger,
		nodesKey: p + "presence:nodes", nodeKey: p + "presence:node:" + cfg.NodeID, online: p + "presence:online",
		local: make(map[string]struct{}),
	}, nil
}

func (p *Presence) userKey(userID string) string { return p.prefix + "presence:user:" + userID }

// addScript records a connection; it returns 1 when it is the user's first.
var addScript = goredis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[3])
local new = redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[2])
if new == 1 and redis.call('HLEN', KEYS[2]) == 1 then return 1 end
return 0`)

// removeScript forgets a connection; it returns 1 when it was the user's last.
var removeScript = goredis.NewScript(`
redis.call('SREM', KEYS[1], ARGV[3])
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  return 1
end
return 0`)

// heartbeatScript refreshes the node's heartbeat with Redis's clock (so the
// nodes' clocks do not matter); it returns 1 when the node was not
// registered: its first heartbeat, or it had been reaped.
var heartbeatScript = goredis.NewScript(`
local t = redis.call('TIME')
return redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])`)

// reapScript removes the connections of nodes silent for ARGV[2] ms (and of
// node ARGV[4], when set), at most ARGV[3] of them, and returns how many it
// removed followed by the users who have no connection left. A node is unregistered once its set is
// empty. Being one script, it runs atomically: a connection is removed by
// one reaper only, so each departed user is returned to one caller once.
var reapScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, 16)
if ARGV[4] ~= '' then table.insert(dead, 1, ARGV[4]) end
local budget = tonumber(ARGV[3])
local gone = {0}
for _, node in ipairs(dead) do
  local nodeKey = ARGV[1] .. 'presence:node:' .. node
  local members = redis.call('SPOP', nodeKey, budget)
  budget = budget - #members
  gone[1] = gone[1] + #members
  for _, m in ipairs(members) do
    local sep = string.find(m, '\n', 1, true)
    local conn, user = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
    local userKey = ARGV[1] .. 'presence:user:' .. user
    if redis.call('HGET', userKey, conn) == node then
      redis.call('HDEL', userKey, conn)
      if redis.call('EXISTS', userKey) == 0 then
        redis.call('SREM', ARGV[1] .. 'presence:online', user)
        table.insert(gone, user)
      end
    end
  end
  if redis.call('SCARD', nodeKey) == 0 and node ~= ARGV[4] then
    redis.call('ZREM', KEYS[1], node)
  end
  if budget <= 0 then break end
end
return gone`)

// Add records a live connection of the user on this node and reports
// whether it is the user's only one in the cluster.
func (p *Presence) Add(ctx context.Context, userID, connID string) (bool, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m := member(connID, userID)
	p.lmu.Lock()
	p.local[m] = struct{}{}
	p.lmu.Unlock()
	first, err := addScript.Run(ctx, p.rdb, []string{p.nodeKey, p.userKey(userID), p.online},
		connID, userID, m, p.node).Int()
	if err != nil {
		p.dirty.Store(true)
		return false, err
	}
	return first == 1, nil
}

// Remove forgets a connection and reports whether the user has no live
// connection left anywhere in the cluster.
func (p *Presence) Remove(ctx context.Context, userID, connID string) (bool, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m := member(connID, userID)
	p.lmu.Lock()
	delete(p.local, m)
	p.lmu.Unlock()
	last, err := removeScript.Run(ctx, p.rdb, []string{p.nodeKey, p.userKey(userID), p.online},
		connID, userID, m).Int()
	if err != nil {
		p.dirty.Store(true)
		return false, err
	}
	return last == 1, nil
}

// Online returns the users with a live connection on any node, sorted.
// Users of a node that died stay listed until it is reaped.
func (p *Presence) Online(ctx context.Context) ([]string, error) {
	ids, err := p.rdb.SMembers(ctx, p.online).Result()
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	return ids, nil
}

// Count returns the user's live connections on every node.
func (p *Presence) Count(ctx context.Context, userID string) (int, error) {
	n, err := p.rdb.HLen(ctx, p.userKey(userID)).Result()
	return int(n), err
}

func member(connID, userID string) string { return connID + "\n" + userID }

// Start removes what a previous process with this node id left behind,
// registers the node and starts heartbeating and reaping dead nodes.
// onChange is called, on a goroutine of its own, with users who came
// online or went offline other than through Add and Remove: users of a dead
// node (offline), or of this node when it puts its connections back after
// Redis lost them (online). The application announces them.
func (p *Presence) Start(ctx context.Context, onChange func(ctx context.Context, online, offline []string)) error {
	p.onChange = onChange
	for more := true; more; {
		gone, n, err := p.reap(ctx, p.node)
		if err != nil {
			return err
		}
		p.report(nil, gone)
		more = n == reapBatch
	}
	if err := heartbeatScript.Run(ctx, p.rdb, []string{p.nodesKey}, p.node).Err(); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.loop(lctx)
	return nil
}

// loop heartbeats and reaps until ctx is done.
func (p *Presence) loop(ctx context.Context) {
	defer close(p.done)
	beat := time.NewTicker(p.cfg.Heartbeat)
	defer beat.Stop()
	reap := time.NewTicker(reapInterval)
	defer reap.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			p.heartbeat(ctx)
		case <-reap.C:
			for more := true; more; {
				gone, n, err := p.reap(ctx, "")
				if err != nil {
					if ctx.Err() == nil && !p.dirty.Load() {
						p.log.Warn("redis presence: reap", "err", err)
					}
					break
				}
				p.report(nil, gone)
				more = n == reapBatch
			}
		}
	}
}

func (p *Presence) heartbeat(ctx context.Context) {
	hctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	added, err := heartbeatScript.Run(hctx, p.rdb, []string{p.nodesKey}, p.node).Int()
	if err != nil {
		if ctx.Err() == nil && !p.dirty.Load() {
			p.log.Warn("redis presence: heartbeat failed; retrying", "node", p.node, "err", err)
		}
		p.dirty.Store(true)
		return
	}
	if added == 0 && !p.dirty.Load() {
		return
	}
	if added == 1 {
		p.log.Warn("redis presence: this node was unregistered (Redis lost its data, or the node was taken for dead); putting its connections back", "node", p.node)
	}
	online, offline, err := p.resync(hctx)
	if err != nil {
		p.log.Warn("redis presence: resync", "node", p.node, "err", err)
		return
	}
	p.dirty.Store(false)
	p.report(online, offline)
}

// resync makes Redis hold exactly this node's connections and returns the
// users that brought online or offline.
func (p *Presence) resync(ctx context.Context) (online, offline []string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	remote, err := p.rdb.SMembers(ctx, p.nodeKey).Result()
	if err != nil {
		return nil, nil, err
	}
	have := make(map[string]struct{}, len(remote))
	for _, m := range remote {
		have[m] = struct{}{}
	}
	p.lmu.Lock()
	local := make([]string, 0, len(p.local))
	for m := range p.local {
		local = append(local, m)
	}
	p.lmu.Unlock()
	want := make(map[string]struct{}, len(local))
	for _, m := range local {
		want[m] = struct{}{}
		// Re-adding a member already in the node's set is harmless, and
		// repairs a user hash lost on its own.
		conn, user, _ := strings.Cut(m, "\n")
		first, err := addScript.Run(ctx, p.rdb, []string{p.nodeKey, p.userKey(user), p.online}, conn, user, m, p.node).Int()
		if err != nil {
			return online, offline, err
		}
		if first == 1 {
			online = append(online, user)
		}
	}
	for m := range have {
		if _, ok := want[m]; ok {
			continue
		}
		conn, user, _ := strings.Cut(m, "\n")
		last, err := removeScript.Run(ctx, p.rdb, []string{p.nodeKey, p.userKey(user), p.online}, conn, user, m).Int()
		if err != nil {
			return online, offline, err
		}
		if last == 1 {
			offline = append(offline, user)
		}
	}
	return online, offline, nil
}

// reap runs reapScript once; force names a node to clean up regardless of
// its heartbeat ("" for none). It returns the users gone offline and the
// number of connections removed (reapBatch: there may be more).
func (p *Presence) reap(ctx context.Context, force string) (gone []string, removed int, err error) {
	rctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	res, err := reapScript.Run(rctx, p.rdb, []string{p.nodesKey},
		p.prefix, p.cfg.NodeTimeout.Milliseconds(), reapBatch, force).Slice()
	if err != nil {
		return nil, 0, err
	}
	if len(res) == 0 {
		return nil, 0, errors.New("redis presence: empty reap result")
	}
	n, _ := res[0].(int64)
	for _, v := range res[1:] {
		if u, ok := v.(string); ok {
			gone = append(gone, u)
		}
	}
	return gone, int(n), nil
}

func (p *Presence) report(online, offline []string) {
	if len(online) == 0 && len(offline) == 0 {
		return
	}
	p.log.Info("redis presence: presence changed outside the hub", "node", p.node, "online", len(online), "offline", len(offline))
	if p.onChange == nil {
		return
	}
	p.changes.Add(1)
	go func() {
		defer p.changes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.onChange(ctx, online, offline)
	}()
}

// Close stops heartbeating, removes whatever this node still has registered
// (normally nothing: the hub ended every connection before) and unregisters
// it, so that the other nodes need not wait for it to time out.
func (p *Presence) Close(ctx context.Context) error {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	var err error
	for more := true; more; {
		var gone []string
		var n int
		if gone, n, err = p.reap(ctx, p.node); err != nil {
			break
		}
		p.report(nil, gone)
		more = n == reapBatch
	}
	if err == nil {
		err = p.rdb.ZRem(ctx, p.nodesKey, p.node).Err()
	}
	p.changes.Wait()
	return err
}

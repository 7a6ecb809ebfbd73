package redis

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/hub"
)

// Timings of the index.
const (
	// DefaultIndexNodeTTL: a node whose entry was not renewed for this long
	// counts as gone, and the next heartbeat of any node deletes what it
	// had indexed. A node renews its entry three times per TTL.
	DefaultIndexNodeTTL = 15 * time.Second
	indexTimeout        = 5 * time.Second // one round trip of the writer or a query
	indexBatch          = 512             // changes per round trip
)

// Index is a hub.Index on Redis: a record of one hub's connections, users
// and group memberships on every node, so that the service REST API's
// existence and listing queries (package restapi) answer for the whole
// cluster.
//
// Each node writes only its own keys (<prefix>idx:<hub>:<node>:...): a hash
// of its connections, a set per user of their connections, a set per group
// of its members, a set per connection of its groups. Its entry in the
// hub's node set carries an expiry that a heartbeat renews; queries, one
// script each, read only the keys of nodes whose entry has not expired, so
// what a node had indexed expires with it, and the survivors delete its
// keys. Changes are queued by the hub under its lock and written in order,
// in batches, by one goroutine: a query sees a change a round trip after
// the hub made it.
//
// Limitation: Redis losing its data (a restart without persistence) empties
// the index until the connections concerned come again.
type Index struct {
	rdb   goredis.UniversalClient
	base  string // <prefix>idx:<hub>:
	nodes string // the hub's node set
	node  string
	mine  string // base + node + ":"
	ttl   time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	pending []indexOp
	wake    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// IndexConfig configures an Index.
type IndexConfig struct {
	Prefix string // default DefaultPrefix
	Hub    string // the hub's name (lowercase)
	NodeID string // this node, unique in the cluster (required)
	// NodeTTL is how long the node's entries outlive its last heartbeat,
	// default DefaultIndexNodeTTL.
	NodeTTL time.Duration
	Logger  *slog.Logger
}

type indexOp struct {
	kind       byte // 'c' connected, 'd' disconnected, 'j' joined, 'l' left
	conn, user string
	group      string
}

var _ hub.Index = (*Index)(nil)

// NewIndex starts the node's part of the hub's index. Close removes it.
func NewIndex(rdb goredis.UniversalClient, cfg IndexConfig) *Index {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NodeTTL <= 0 {
		cfg.NodeTTL = DefaultIndexNodeTTL
	}
	base := cfg.Prefix + "idx:" + cfg.Hub + ":"
	ix := &Index{rdb: rdb, base: base, nodes: base + "nodes", node: cfg.NodeID, mine: base + cfg.NodeID + ":", ttl: cfg.NodeTTL,
		log: cfg.Logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
	ix.ctx, ix.cancel = context.WithCancel(context.Background())
	go ix.run()
	return ix
}

func (ix *Index) push(op indexOp) {
	ix.mu.Lock()
	ix.pending = append(ix.pending, op)
	ix.mu.Unlock()
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// Connected records a connection of this node.
func (ix *Index) Connected(c *hub.ConnInfo) { ix.push(indexOp{kind: 'c', conn: c.ID, user: c.UserID}) }

// Disconnected forgets a connection of this node.
func (ix *Index) Disconnected(c *hub.ConnInfo) {
	ix.push(indexOp{kind: 'd', conn: c.ID, user: c.UserID})
}

// Joined records a connection's membership of group.
func (ix *Index) Joined(c *hub.ConnInfo, group string) {
	ix.push(indexOp{kind: 'j', conn: c.ID, user: c.UserID, group: group})
}

// Left forgets a connection's membership of group.
func (ix *Index) Left(c *hub.ConnInfo, group string) {
	ix.push(indexOp{kind: 'l', conn: c.ID, user: c.UserID, group: group})
}

// run writes queued changes and beats the node's heartbeat until Close.
func (ix *Index) run() {
	defer close(ix.done)
	ix.heartbeat()
	t := time.NewTicker(ix.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ix.ctx.Done():
			return
		case <-t.C:
			ix.heartbeat()
		case <-ix.wake:
		}
		for ix.flush() {
		}
	}
}

// flush writes up to one batch of queued changes and reports whether more
// are waiting. A batch that fails is kept and tried again.
func (ix *Index) flush() bool {
	ix.mu.Lock()
	n := min(len(ix.pending), indexBatch)
	batch := ix.pending[:n:n]
	ix.mu.Unlock()
	if n == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ix.ctx, indexTimeout)
	defer cancel()
	pipe := ix.rdb.TxPipeline()
	for _, op := range batch {
		member := op.conn + "\x00" + op.user
		switch op.kind {
		case 'c':
			pipe.HSet(ctx, ix.mine+"conns", op.conn, op.user)
			if op.user != "" {
				pipe.SAdd(ctx, ix.mine+"u:"+op.user, op.conn)
			}
		case 'd':
			pipe.HDel(ctx, ix.mine+"conns", op.conn)
			pipe.Del(ctx, ix.mine+"c:"+op.conn)
			if op.user != "" {
				pipe.SRem(ctx, ix.mine+"u:"+op.user, op.conn)
			}
		case 'j':
			pipe.SAdd(ctx, ix.mine+"g:"+op.group, member)
			pipe.SAdd(ctx, ix.mine+"c:"+op.conn, op.group)
		case 'l':
			pipe.SRem(ctx, ix.mine+"g:"+op.group, member)
			pipe.SRem(ctx, ix.mine+"c:"+op.conn, op.group)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		if ix.ctx.Err() == nil {
			ix.log.Warn("redis index: write failed; retrying", "err", err)
			select {
			case <-ix.ctx.Done():
			case <-time.After(resubscribeBackoff):
			}
		}
		return ix.ctx.Err() == nil
	}
	ix.mu.Lock()
	ix.pending = ix.pending[n:]
	more := len(ix.pending) > 0
	ix.mu.Unlock()
	return more
}

// heartbeat renews this node's entry and deletes the keys of nodes whose
// entry expired.
func (ix *Index) heartbeat() {
	ctx, cancel := context.WithTimeout(ix.ctx, indexTimeout)
	defer cancel()
	now, err := ix.rdb.Time(ctx).Result()
	if err != nil {
		ix.log.Warn("redis index: heartbeat failed", "err", err)
		return
	}
	ix.rdb.ZAdd(ctx, ix.nodes, goredis.Z{Score: float64(now.Add(ix.ttl).UnixMilli()), Member: ix.node})
	dead, err := ix.rdb.ZRangeByScore(ctx, ix.nodes, &goredis.ZRangeBy{Min: "-inf", Max: "(" + strconv.FormatInt(now.UnixMilli(), 10)}).Result()
	if err != nil {
		return
	}
	for _, n := range dead {
		if err := ix.deleteNode(ctx, n); err == nil {
			ix.rdb.ZRem(ctx, ix.nodes, n)
		}
	}
}

// deleteNode deletes every key of node n.
func (ix *Index) deleteNode(ctx context.Context, n string) error {
	iter := ix.rdb.Scan(ctx, 0, globEscape(ix.base+n+":")+"*", 500).Iterator()
	for iter.Next(ctx) {
		ix.rdb.Del(ctx, iter.Val())
	}
	return iter.Err()
}

// Close stops the index and deletes this node's part of it.
func (ix *Index) Close() error {
	ix.cancel()
	<-ix.done
	ctx, cancel := context.WithTimeout(context.Background(), indexTimeout)
	defer cancel()
	err := ix.deleteNode(ctx, ix.node)
	return errors.Join(err, ix.rdb.ZRem(ctx, ix.nodes, ix.node).Err())
}

// queryScript answers one query over the live nodes. KEYS: the node set.
// ARGV: the key base, the query, its argument. Existence queries return 1
// or 0, listings the members found on every node.
var queryScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local q, a = ARGV[2], ARGV[3]
local out = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  local k = ARGV[1] .. n .. ':'
  if q == 'conn' then
    if redis.call('HEXISTS', k .. 'conns', a) == 1 then return 1 end
  elseif q == 'user' then
    if redis.call('EXISTS', k .. 'u:' .. a) == 1 then return 1 end
  elseif q == 'group' then
    if redis.call('EXISTS', k .. 'g:' .. a) == 1 then return 1 end
  elseif q == 'members' then
    for _, m in ipairs(redis.call('SMEMBERS', k .. 'g:' .. a)) do out[#out + 1] = m end
  elseif q == 'conngroups' then
    for _, m in ipairs(redis.call('SMEMBERS', k .. 'c:' .. a)) do out[#out + 1] = m end
  elseif q == 'userconns' then
    for _, m in ipairs(redis.call('SMEMBERS', k .. 'u:' .. a)) do out[#out + 1] = m end
  elseif q == 'allconns' then
    for _, m in ipairs(redis.call('HKEYS', k .. 'conns')) do out[#out + 1] = m end
  elseif q == 'usergroups' then
    for _, c in ipairs(redis.call('SMEMBERS', k .. 'u:' .. a)) do
      for _, m in ipairs(redis.call('SMEMBERS', k .. 'c:' .. c)) do out[#out + 1] = m end
    end
  end
end
if q == 'conn' or q == 'user' or q == 'group' then return 0 end
return out`)

func (ix *Index) exists(ctx context.Context, q, arg string) (bool, error) {
	n, err := queryScript.Run(ctx, ix.rdb, []string{ix.nodes}, ix.base, q, arg).Int()
	return n == 1, err
}

func (ix *Index) list(ctx context.Context, q, arg string) ([]string, error) {
	l, err := queryScript.Run(ctx, ix.rdb, []string{ix.nodes}, ix.base, q, arg).StringSlice()
	if err != nil {
		return nil, err
	}
	sort.Strings(l)
	return dedupe(l), nil
}

// ConnectionExists reports whether the connection lives on any node.
func (ix *Index) ConnectionExists(ctx context.Context, connID string) (bool, error) {
	return ix.exists(ctx, "conn", connID)
}

// UserExists reports whether the user has a connection on any node.
func (ix *Index) UserExists(ctx context.Context, userID string) (bool, error) {
	if userID == "" {
		return false, nil
	}
	return ix.exists(ctx, "user", userID)
}

// GroupExists reports whether the group has a member on any node.
func (ix *Index) GroupExists(ctx context.Context, group string) (bool, error) {
	return ix.exists(ctx, "group", group)
}

// GroupMembers returns the group's members on every node, by connection
// id; only ID and UserID are set.
func (ix *Index) GroupMembers(ctx context.Context, group string) ([]*hub.ConnInfo, error) {
	l, err := ix.list(ctx, "members", group)
	if err != nil {
		return nil, err
	}
	ms := make([]*hub.ConnInfo, 0, len(l))
	for _, m := range l {
		c, u, _ := strings.Cut(m, "\x00")
		ms = append(ms, &hub.ConnInfo{ID: c, UserID: u})
	}
	return ms, nil
}

// ConnectionGroups returns the groups of a connection of any node.
func (ix *Index) ConnectionGroups(ctx context.Context, connID string) ([]string, error) {
	return ix.list(ctx, "conngroups", connID)
}

// UserGroups returns the groups of the user's connections on every node.
func (ix *Index) UserGroups(ctx context.Context, userID string) ([]string, error) {
	return ix.list(ctx, "usergroups", userID)
}

// UserConnectionIDs returns the user's connections on every node.
func (ix *Index) UserConnectionIDs(ctx context.Context, userID string) ([]string, error) {
	return ix.list(ctx, "userconns", userID)
}

// ConnectionIDs returns the connections of every node, or the group's
// members when group is not "".
func (ix *Index) ConnectionIDs(ctx context.Context, group string) ([]string, error) {
	if group == "" {
		return ix.list(ctx, "allconns", "")
	}
	ms, err := ix.GroupMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids, nil
}

// IndexedBroker is a hub's broker and its index in one value, which the hub
// finds its index in (see hub.Index).
type IndexedBroker struct {
	*Broker
	*Index
}

// The hub finds the index by a type assertion: a method of the same name on
// Broker and Index would hide it without a compile error, but not past this.
var _ hub.Index = IndexedBroker{}

// Close closes the broker, then the index.
func (b IndexedBroker) Close() error {
	return errors.Join(b.Broker.Close(), b.Index.Close())
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// globEscape escapes the characters SCAN MATCH treats as patterns.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

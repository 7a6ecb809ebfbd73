package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/redis"
)

// cluster is what a node shares with the others through Redis: the broker
// that carries the hub's server-side calls, and presence. It is nil on a
// node that runs alone (no Config.Redis).
type cluster struct {
	node     string
	prefix   string
	log      *slog.Logger
	rdb      *goredis.Client
	broker   *redis.Broker
	presence *clusterPresence
	renames  *goredis.PubSub // display-name changes (people.go); nil until shareRenames

	mu    sync.Mutex
	extra []redis.IndexedBroker // of the drop-in hubs
}

// openCluster connects to cfg.Redis and builds the broker and presence of
// node cfg.NodeID (default: the host name and a random suffix, so that a
// restarted process never inherits its predecessor's connections).
func openCluster(ctx context.Context, cfg Config) (*cluster, error) {
	if cfg.Redis == "" {
		return nil, nil
	}
	node := cfg.NodeID
	if node == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		rand.Read(b)
		node = strings.Trim(host+"-"+hex.EncodeToString(b), "-")
	}
	prefix := cfg.RedisPrefix
	if prefix == "" {
		prefix = redis.DefaultPrefix
	} else if !strings.HasSuffix(prefix, ":") {
		prefix += ":"
	}
	rdb, err := redis.ConnectNamed(ctx, cfg.Redis, prefix+node)
	if err != nil {
		return nil, err
	}
	p, err := redis.NewPresence(rdb, redis.PresenceConfig{Prefix: prefix, NodeID: node, Logger: cfg.Logger})
	if err != nil {
		rdb.Close()
		return nil, err
	}
	b := redis.NewBroker(rdb, redis.BrokerConfig{Prefix: prefix, Hub: "chat", Logger: cfg.Logger})
	cfg.Logger.Info("chatr cluster node", "node", node, "redis", redactDB(cfg.Redis), "prefix", prefix)
	presence := &clusterPresence{Presence: p, RateLimits: redis.NewRateLimits(rdb, prefix)}
	return &cluster{node: node, prefix: prefix, log: cfg.Logger, rdb: rdb, broker: b, presence: presence}, nil
}

// clusterPresence is the presence the chat application is given on a node
// of a cluster. It also holds the rate-limit buckets (a ratelimit.Backend,
// which chat.New looks for on its Presence), so that a user's budget of
// messages and events is one across the cluster, not one per node.
type clusterPresence struct {
	*redis.Presence
	*redis.RateLimits
}

// hubBroker returns the broker and node id for a further hub of this node
// (a drop-in hub), on a stream of its own; nil and "" on a node that runs
// alone, so that the hub uses its in-process broker. The broker carries the
// hub's cluster-wide index too, which the REST API's queries read.
func (c *cluster) hubBroker(name string) (hub.Broker, string) {
	if c == nil {
		return nil, ""
	}
	name = strings.ToLower(name)
	b := redis.IndexedBroker{
		Broker: redis.NewBroker(c.rdb, redis.BrokerConfig{Prefix: c.prefix, Hub: name, Logger: c.log}),
		Index:  redis.NewIndex(c.rdb, redis.IndexConfig{Prefix: c.prefix, Hub: name, NodeID: c.node, Logger: c.log}),
	}
	c.mu.Lock()
	c.extra = append(c.extra, b)
	c.mu.Unlock()
	return b, c.node
}

// start registers the node's presence; changes is told about users the
// cluster's presence saw come and go outside this node's hooks.
func (c *cluster) start(ctx context.Context, changes func(ctx context.Context, online, offline []string)) error {
	if c == nil {
		return nil
	}
	if err := c.presence.Start(ctx, changes); err != nil {
		return fmt.Errorf("redis presence: %w", err)
	}
	return nil
}

// close unregisters the node (after the hub has ended its connections),
// stops the broker and closes the Redis client. It first waits out the
// offline grace (0: chat.DefaultOfflineGrace), so that the userOffline of
// this node's users who do not reconnect elsewhere still reaches the other
// nodes: the chat announces it only after the grace, through the broker.
func (c *cluster) close(ctx context.Context, log *slog.Logger, offlineGrace time.Duration) error {
	if c == nil {
		return nil
	}
	if offlineGrace == 0 {
		offlineGrace = chat.DefaultOfflineGrace
	}
	if offlineGrace > 0 {
		t := time.NewTimer(offlineGrace + 200*time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	err := c.presence.Close(ctx)
	if err != nil {
		log.Warn("redis presence shutdown", "err", err)
	}
	c.mu.Lock()
	for _, b := range c.extra {
		b.Close()
	}
	c.mu.Unlock()
	if c.renames != nil {
		c.renames.Close()
	}
	return errors.Join(err, c.broker.Close(), c.rdb.Close())
}

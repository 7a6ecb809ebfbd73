// Package redis carries a Chatr cluster's shared real-time state on Redis:
// a hub.Broker that fans server-side calls out to every node (Broker), and a
// chat.Presence shared by every node with heartbeats that let the survivors
// clean up after a node that died (Presence).
//
// It knows the hub's commands and the presence contract, nothing of chats,
// HTTP or storage. Durable state (chats, messages, sessions) lives in the
// Store (PostgreSQL in a cluster); Redis holds only what may be lost: pub/sub
// traffic in flight and the presence sets, which the nodes rebuild after a
// Redis restart.
//
// Every key and channel starts with a prefix (default "chatr:"), so that
// several clusters, or parallel test runs, can share one Redis. Standalone
// Redis (or Sentinel) is supported; the presence scripts touch several keys
// and are not written for Redis Cluster.
package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key and channel unless configured otherwise.
const DefaultPrefix = "chatr:"

// Connect opens a client on url (redis://[user:password@]host:port[/db], or
// rediss:// for TLS) and checks that the server answers within 5 s.
func Connect(ctx context.Context, url string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	c := goredis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	return c, nil
}

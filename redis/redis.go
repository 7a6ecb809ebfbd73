// Package redis carries a Chatr cluster's shared real-time state on Redis:
// the bus that fans the hub's server-side calls out to every node (Broker),
// a chat.Presence shared by every node with heartbeats that let the
// survivors clean up after a node that died (Presence), rate-limit buckets
// that every node draws from (RateLimits), and an index of each drop-in
// hub's connections and groups on every node, for the service REST API's
// existence and listing queries (Index).
//
// The bus loses nothing it can keep, and says so when it cannot. Commands
// go to one Redis stream per hub, trimmed to about BrokerConfig.MaxLen
// entries; each node reads it from the last id it has seen and, after a
// cut, resumes from there, so a node that lost its connection for a moment
// gets every command once and in order. Each entry is numbered by a
// counter kept next to the stream; a node that reads a number out of turn
// (its position was trimmed away, or Redis restarted empty) cannot know
// what it missed, and delivers hub.CmdResync to its hub, which ends every
// local session with 1008 so that clients reconnect and re-join, each join
// checked by the application against the store. A node thus either applies
// every membership change or forgets every membership: a member removed
// while its node was cut off cannot read the chat afterwards, nor a chat
// re-created under the same id. (PubSubBroker, the pub/sub bus of earlier
// releases, is kept as the benchmark's baseline; it drops what a cut node
// misses.)
//
// It knows the hub's commands, the presence contract and the rate-limit
// backend, nothing of chats, HTTP or storage. Durable state (chats,
// messages, sessions) lives in the Store (PostgreSQL in a cluster); Redis
// holds only what may be lost or rebuilt: the bus's recent commands, the
// presence sets, which the nodes rebuild after a Redis restart, rate-limit
// buckets and the REST index.
//
// Every key starts with a prefix (default "chatr:"), so that several
// clusters, or parallel test runs, can share one Redis. Standalone Redis
// (or Sentinel) is supported; the scripts touch several keys and are not
// written for Redis Cluster.
package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key and channel unless configured otherwise.
const DefaultPrefix = "chatr:"

// Connect opens a client on url (redis://[user:password@]host:port[/db], or
// rediss:// for TLS) and checks that the server answers within 5 s.
func Connect(ctx context.Context, url string) (*goredis.Client, error) {
	return ConnectNamed(ctx, url, "")
}

// ConnectNamed is Connect with every connection of the client named (CLIENT
// SETNAME; spaces become underscores), so that an operator can find a
// node's connections in CLIENT LIST, and kill them to test a cut.
func ConnectNamed(ctx context.Context, url, name string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	if name != "" {
		opt.ClientName = strings.Map(func(r rune) rune {
			if r <= ' ' || r > '~' {
				return '_'
			}
			return r
		}, name)
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

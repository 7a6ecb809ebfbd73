package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/redis"
	"github.com/chatr/chatr/server"
)

// `chatr admin ban --redis` reaches the running nodes of a cluster: the
// banned user's open socket closes with 1008 "banned", and the ban is in
// the moderation log.
func TestAdminBanClosesSocketsThroughRedis(t *testing.T) {
	redisURL := os.Getenv("CHATR_TEST_REDIS")
	if redisURL == "" {
		t.Skip("needs CHATR_TEST_REDIS")
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "chatr-admin-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		rdb, err := redis.Connect(ctx, redisURL)
		if err != nil {
			return
		}
		defer rdb.Close()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	n := testnode.Start(t, server.Config{Redis: redisURL, RedisPrefix: prefix})
	bob := n.Guest("Bob")
	live := bob.Connect(wsclient.Reliable)

	if out, err := runCommand(t, "admin", "--db", n.DB, "--redis", redisURL, "--redis-prefix", prefix, "ban", bob.ID); err != nil {
		t.Fatalf("admin ban: %v\n%s", err, out)
	}
	code, err := live.WaitClosed(5 * time.Second)
	var ce wsutil.ClosedError
	errors.As(live.Err(), &ce)
	if err != nil || code != ws.StatusPolicyViolation || ce.Reason != "banned" {
		t.Errorf("bob's socket: closed with %d %q (%v), want 1008 banned", code, ce.Reason, err)
	}
	if st := bob.Do("GET", "/api/getToken", nil, nil); st != 401 {
		t.Errorf("getToken after the ban: status %d, want 401", st)
	}
	events, err := open(t, n.DB).ListModEvents(context.Background(), chatr.ModEventQuery{})
	if err != nil || len(events) != 1 || events[0].Action != "ban" || events[0].Actor != "operator" || events[0].TargetUser != bob.ID {
		t.Errorf("moderation log %+v (%v), want operator's ban of bob", events, err)
	}
}

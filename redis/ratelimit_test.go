package redis_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/ratelimit"
	"github.com/chatr/chatr/redis"
)

// TestRateLimitsShared gives two nodes, each with its own Redis client, the
// same limit: together they get one budget per key, not one each.
func TestRateLimitsShared(t *testing.T) {
	rdbA, prefix := testRedis(t)
	rdbB, err := redis.Connect(context.Background(), os.Getenv("CHATR_TEST_REDIS"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdbB.Close() })
	const burst = 5
	// One token per 1,000 s: no refill during the test.
	a := ratelimit.NewShared(redis.NewRateLimits(rdbA, prefix), "messages", 0.001, burst)
	b := ratelimit.NewShared(redis.NewRateLimits(rdbB, prefix), "messages", 0.001, burst)
	now := time.Now()
	allowed := 0
	for i := range 2 * burst {
		l := a
		if i%2 == 1 {
			l = b
		}
		if l.Allow("alice", now) {
			allowed++
		}
	}
	if allowed != burst {
		t.Fatalf("two nodes allowed %d events of one user at once, want the one burst of %d", allowed, burst)
	}
	if !b.Allow("bob", now) {
		t.Fatal("another user is limited by alice's bucket")
	}
	other := ratelimit.NewShared(redis.NewRateLimits(rdbB, prefix), "events", 0.001, burst)
	if !other.Allow("alice", now) {
		t.Fatal("another kind of limit shares alice's message bucket")
	}
}

// TestRateLimitsRefill takes a one-token bucket and waits for Redis's
// clock to refill it (20 tokens a second).
func TestRateLimitsRefill(t *testing.T) {
	rdb, prefix := testRedis(t)
	rl := redis.NewRateLimits(rdb, prefix)
	ctx := context.Background()
	if ok, err := rl.Take(ctx, "k", 20, 1); err != nil || !ok {
		t.Fatalf("first token: %v, %v", ok, err)
	}
	if ok, _ := rl.Take(ctx, "k", 20, 1); ok {
		t.Fatal("second token at once allowed, want refused")
	}
	waitUntil(t, "the bucket to refill", func() bool {
		ok, err := rl.Take(ctx, "k", 20, 1)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	ttl, err := rdb.PTTL(ctx, prefix+"rate:k").Result()
	if err != nil || ttl <= 0 || ttl > 200*time.Millisecond {
		t.Fatalf("bucket key expires in %v (%v), want within the 50 ms it takes to refill", ttl, err)
	}
}

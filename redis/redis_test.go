package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/redis"
)

// testRedis connects to CHATR_TEST_REDIS and returns the client with a key
// prefix of the test's own, whose keys are deleted when the test ends. It
// skips the test when Redis is not configured or unreachable, and fails it
// instead under CI=true.
func testRedis(t testing.TB) (*goredis.Client, string) {
	t.Helper()
	url := os.Getenv("CHATR_TEST_REDIS")
	if url == "" {
		unavailable(t, "CHATR_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0)")
	}
	rdb, err := redis.Connect(context.Background(), url)
	if err != nil {
		unavailable(t, "Redis at "+url+" (CHATR_TEST_REDIS) is unreachable: "+err.Error())
	}
	prefix := "chatr-test-" + randomHex(6) + ":"
	t.Cleanup(func() {
		deleteKeys(t, rdb, prefix)
		rdb.Close()
	})
	return rdb, prefix
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// deleteKeys removes every key under prefix.
func deleteKeys(t testing.TB, rdb *goredis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("delete test keys: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

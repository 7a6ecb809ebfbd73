package redis

import (
	"context"
	"math"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/internal/ratelimit"
)

// RateLimits keeps rate-limit buckets in Redis, so that the nodes of a
// cluster share each user's budget (a ratelimit.Backend). One Take is one
// round trip: a script that applies GCRA (the generic cell rate algorithm,
// a token bucket stored as one timestamp per key) on Redis's clock, the
// one clock every node shares. A bucket's key expires once it is full
// again, so quiet users cost no memory.
type RateLimits struct {
	rdb    goredis.UniversalClient
	prefix string
}

var _ ratelimit.Backend = (*RateLimits)(nil)

// NewRateLimits returns buckets under prefix (default DefaultPrefix) on rdb.
func NewRateLimits(rdb goredis.UniversalClient, prefix string) *RateLimits {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &RateLimits{rdb: rdb, prefix: prefix + "rate:"}
}

// gcraScript takes one token. KEYS: the bucket. ARGV: the interval between
// tokens and the burst's span (interval × burst), in microseconds. The key
// holds the theoretical arrival time (tat): the bucket is full when tat is
// in the past, empty when it is a whole span ahead.
var gcraScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new = tat + interval
if new - now > span then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
return 1`)

// Take takes one token from key's bucket (rate tokens a second, burst at
// most) and reports whether there was one.
func (r *RateLimits) Take(ctx context.Context, key string, rate float64, burst int) (bool, error) {
	if rate <= 0 || burst <= 0 {
		return false, nil
	}
	interval := math.Ceil(1e6 / rate)
	span := interval * float64(burst)
	n, err := gcraScript.Run(ctx, r.rdb, []string{r.prefix + key},
		strconv.FormatFloat(interval, 'f', 0, 64), strconv.FormatFloat(span, 'f', 0, 64)).Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// Package ratelimit is a token-bucket rate limiter keyed by string (a user
// id, an IP address), with buckets of quiet keys dropped. Its buckets live
// in the process, or in a Backend that several processes share (the nodes
// of a cluster, on Redis), so that a user's budget is one across the
// cluster rather than one per node.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// backendTimeout bounds one Backend call; past it the local bucket decides.
const backendTimeout = 500 * time.Millisecond

// Backend keeps token buckets outside the process.
type Backend interface {
	// Take takes one token from the bucket named key, which holds at most
	// burst tokens and gains rate tokens a second, and reports whether
	// there was one. The bucket runs on the backend's own clock.
	Take(ctx context.Context, key string, rate float64, burst int) (bool, error)
}

// Limiter is a token bucket per key: rate tokens a second, at most
// burst at once. Buckets of users who went quiet are dropped when full.
type Limiter struct {
	rate  float64
	burst float64

	shared Backend // nil: the local buckets decide
	name   string  // the limiter's part of a shared bucket's key

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter allowing rate events a second per key, burst at once.
func New(rate float64, burst int) *Limiter {
	return &Limiter{rate: rate, burst: float64(burst), buckets: make(map[string]*bucket)}
}

// NewShared returns a limiter like New whose buckets live in b, under
// names that start with name (one per kind of limit), so that every
// process sharing b shares each key's budget. When b fails or is slow the
// local bucket decides, so that an outage of the backend weakens the limit
// to one per process instead of refusing or allowing everything. A nil b
// makes a local limiter.
func NewShared(b Backend, name string, rate float64, burst int) *Limiter {
	l := New(rate, burst)
	l.shared, l.name = b, name
	return l
}

// Allow takes one token from key's bucket and reports whether there was one.
// A shared limiter ignores now (its buckets run on the backend's clock,
// which all processes share) unless it falls back to its local bucket.
func (l *Limiter) Allow(key string, now time.Time) bool {
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		ok, err := l.shared.Take(ctx, l.name+":"+key, l.rate, int(l.burst))
		cancel()
		if err == nil {
			return ok
		}
	}
	return l.allowLocal(key, now)
}

func (l *Limiter) allowLocal(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		l.sweep = now
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/ratelimit"
)

func TestBurstThenRate(t *testing.T) {
	l := ratelimit.New(2, 3) // 2 a second, 3 at once
	now := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if !l.Allow("a", now) {
			t.Fatalf("event %d of the burst refused", i)
		}
	}
	if l.Allow("a", now) {
		t.Fatal("4th event at once allowed, want refused")
	}
	if !l.Allow("b", now) {
		t.Fatal("another key is limited by a's bucket")
	}
	if l.Allow("a", now.Add(400*time.Millisecond)) {
		t.Fatal("allowed after 0.4 s at 2/s (0.8 tokens)")
	}
	if !l.Allow("a", now.Add(600*time.Millisecond)) {
		t.Fatal("refused after 0.6 s at 2/s (1.2 tokens)")
	}
	// A long pause refills only up to the burst.
	later := now.Add(time.Hour)
	got := 0
	for l.Allow("a", later) {
		got++
	}
	if got != 3 {
		t.Fatalf("after a long pause %d events allowed at once, want the burst of 3", got)
	}
}

// backend is a Backend whose answers the test chooses.
type backend struct {
	ok   bool
	err  error
	keys []string
}

func (b *backend) Take(_ context.Context, key string, rate float64, burst int) (bool, error) {
	b.keys = append(b.keys, key)
	return b.ok, b.err
}

func TestSharedDecidesAndFallsBack(t *testing.T) {
	b := &backend{ok: false}
	l := ratelimit.NewShared(b, "messages", 2, 3)
	now := time.Unix(1000, 0)
	if l.Allow("a", now) {
		t.Fatal("allowed although the shared bucket is empty")
	}
	if len(b.keys) != 1 || b.keys[0] != "messages:a" {
		t.Fatalf("shared bucket keys %q, want [messages:a]", b.keys)
	}
	b.err = errors.New("redis down")
	got := 0
	for l.Allow("a", now) {
		got++
	}
	if got != 3 {
		t.Fatalf("with the backend down %d events allowed at once, want the local burst of 3", got)
	}
}

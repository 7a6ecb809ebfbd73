package ratelimit_test

import (
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

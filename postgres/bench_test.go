package postgres_test

import (
	"testing"

	"github.com/chatr/chatr/storetest"
)

// BenchmarkAddMessageParallel measures group commit on a fresh schema.
func BenchmarkAddMessageParallel(b *testing.B) {
	storetest.BenchmarkAddMessageParallel(b, openFresh(b))
}

// BenchmarkAddMessageParallelKeyed is the same with idempotency keys.
func BenchmarkAddMessageParallelKeyed(b *testing.B) {
	storetest.BenchmarkAddMessageParallelKeyed(b, openFresh(b))
}

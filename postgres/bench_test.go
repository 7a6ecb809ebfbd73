package postgres_test

import (
	"testing"

	"github.com/chatr/chatr/storetest"
)

// BenchmarkAddMessageParallel measures group commit on a fresh schema.
func BenchmarkAddMessageParallel(b *testing.B) {
	storetest.BenchmarkAddMessageParallel(b, openFresh(b))
}

package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/chatr/chatr/sqlite"
	"github.com/chatr/chatr/storetest"
)

// BenchmarkAddMessageParallel measures group commit on one SQLite file.
func BenchmarkAddMessageParallel(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkAddMessageParallel(b, db)
}

// BenchmarkAddMessageParallelKeyed is the same with idempotency keys.
func BenchmarkAddMessageParallelKeyed(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkAddMessageParallelKeyed(b, db)
}

package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
	"github.com/chatr/chatr/storetest"
)

func openTemp(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "chatr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chatr.Store { return openTemp(t) })
}

func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) func() (chatr.Store, error) {
		path := filepath.Join(t.TempDir(), "chatr.db")
		return func() (chatr.Store, error) { return sqlite.Open(t.Context(), path) }
	})
}

func TestOpenRejectsURIs(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if db, err := sqlite.Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q): got no error", path)
		}
	}
}

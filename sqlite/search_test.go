package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
	"github.com/chatr/chatr/storetest"
)

func TestSearch(t *testing.T) {
	storetest.RunSearch(t, func(t *testing.T) chatr.Store { return openTemp(t) }, setText)
}

// setText edits or deletes (empties) a message as the message features do.
func setText(s chatr.Store) storetest.SetText {
	write, _ := sqlite.Pools(s.(*sqlite.DB))
	return func(ctx context.Context, chatID string, id int64, text string) error {
		_, err := write.ExecContext(ctx, `UPDATE messages SET text = ? WHERE chat_id = ? AND id = ?`, text, chatID, id)
		return err
	}
}

// BenchmarkAddMessageSearchCost runs BenchmarkAddMessageParallel on a file
// without the search index (its triggers dropped) and on one with it, in
// one run, so that the two msgs/s figures compare like with like.
func BenchmarkAddMessageSearchCost(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		name := map[bool]string{false: "unindexed", true: "indexed"}[indexed]
		b.Run(name, func(b *testing.B) {
			db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if !indexed {
				write, _ := sqlite.Pools(db)
				for _, tr := range []string{"search_message_insert", "search_message_update", "search_message_delete"} {
					if _, err := write.ExecContext(b.Context(), `DROP TRIGGER `+tr); err != nil {
						b.Fatal(err)
					}
				}
			}
			storetest.BenchmarkAddMessageParallel(b, db)
		})
	}
}

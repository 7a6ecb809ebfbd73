package postgres_test

import (
	"context"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/postgres"
	"github.com/chatr/chatr/storetest"
)

func TestSearch(t *testing.T) {
	server(t)
	storetest.RunSearch(t, func(t *testing.T) chatr.Store { return openFresh(t) }, setText)
}

// setText edits or deletes (empties) a message as the message features do.
func setText(s chatr.Store) storetest.SetText {
	pool := postgres.Pool(s.(*postgres.DB))
	return func(ctx context.Context, chatID string, id int64, text string) error {
		_, err := pool.Exec(ctx, `UPDATE messages SET text = $1 WHERE chat_id = $2 AND id = $3`, text, chatID, id)
		return err
	}
}

// BenchmarkAddMessageSearchCost runs BenchmarkAddMessageParallel on a
// schema without the search column and on one with it, in one run, so that
// the two msgs/s figures compare like with like.
func BenchmarkAddMessageSearchCost(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		name := map[bool]string{false: "unindexed", true: "indexed"}[indexed]
		b.Run(name, func(b *testing.B) {
			db := openFresh(b)
			if !indexed {
				if _, err := postgres.Pool(db).Exec(b.Context(), `ALTER TABLE messages DROP COLUMN search`); err != nil {
					b.Fatal(err)
				}
			}
			storetest.BenchmarkAddMessageParallel(b, db)
		})
	}
}

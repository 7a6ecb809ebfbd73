package sqlite_test

import (
	"context"
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

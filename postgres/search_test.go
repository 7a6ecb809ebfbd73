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

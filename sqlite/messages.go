package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// AddMessage hands m to the writer goroutine and waits until the transaction
// that stored it has committed. If ctx ends first, AddMessage returns its
// error; the message may still be stored.
func (db *DB) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	if err := chatr.CheckText(m.ChatID, m.Text, m.FromUserID, m.FromUserName); err != nil {
		return chatr.Message{}, err
	}
	m.ID = 0
	m.Time = normal(orNow(m.Time))
	return db.messages.Submit(ctx, m)
}

// insertMessages raises each chat's counter once by the number of its
// messages in the batch, numbers the messages in submission order and
// inserts them. Requests for a missing chat get ENOTFOUND and are skipped.
func (db *DB) insertMessages(batch []*groupcommit.Request[chatr.Message]) error {
	ctx := context.Background() // a batch is never abandoned half-way
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	defer tx.Rollback()

	perChat := map[string]int64{}
	for _, req := range batch {
		req.Item.ID = 0 // a retry starts afresh
		perChat[req.Item.ChatID]++
	}
	next := make(map[string]int64, len(perChat))
	for chatID, n := range perChat {
		var last int64
		err := tx.StmtContext(ctx, db.raiseCounter).QueryRowContext(ctx, n, chatID).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
		next[chatID] = last - n + 1
	}

	insert := tx.StmtContext(ctx, db.insertMessage)
	for _, req := range batch {
		m := &req.Item
		id, found := next[m.ChatID]
		if !found {
			req.Err = chatr.Errorf(chatr.ENOTFOUND, "no chat %q", m.ChatID)
			continue
		}
		next[m.ChatID] = id + 1
		m.ID = id
		if _, err := insert.ExecContext(ctx, m.ChatID, m.ID, m.FromUserID, m.FromUserName, m.Text, stamp(m.Time)); err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	return nil
}

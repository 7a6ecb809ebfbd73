package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

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
// messages in the batch (in chat-ID order, the lock order every node
// follows), numbers the messages in submission order and inserts them, all
// in one pipelined round trip. Requests for a missing chat get ENOTFOUND.
func (db *DB) insertMessages(batch []*groupcommit.Request[chatr.Message]) error {
	ctx := context.Background() // a batch is never abandoned half-way
	perChat := map[string]int64{}
	for _, req := range batch {
		req.Item.ID = 0 // a retry starts afresh
		perChat[req.Item.ChatID]++
	}
	chatIDs := make([]string, 0, len(perChat))
	for id := range perChat {
		chatIDs = append(chatIDs, id)
	}
	sort.Strings(chatIDs)

	// seq numbers each message within its chat in this batch, from 1; the
	// server adds it to the counter's value before the batch.
	n := len(batch)
	var (
		chat, from, name, text = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seq                    = make([]int64, n)
		at                     = make([]time.Time, n)
		seen                   = map[string]int64{}
	)
	for i, req := range batch {
		m := req.Item
		seen[m.ChatID]++
		chat[i], from[i], name[i], text[i], seq[i], at[i] = m.ChatID, m.FromUserID, m.FromUserName, m.Text, seen[m.ChatID], m.Time
	}

	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: add message: %w", err)
	}
	defer tx.Rollback(ctx)

	b := &pgx.Batch{}
	for _, id := range chatIDs {
		b.Queue(`UPDATE chats SET last_message_id = last_message_id + $1 WHERE id = $2 RETURNING last_message_id`, perChat[id], id)
	}
	// The counters are already raised when this runs: the batch's IDs are
	// last_message_id - count + seq.
	b.Queue(`
		INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time)
		SELECT m.chat_id, c.last_message_id - k.n + m.seq, m.from_user_id, m.from_user_name, m.text, m.time
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
			AS m (chat_id, seq, from_user_id, from_user_name, text, time)
		JOIN (SELECT chat_id, count(*) AS n FROM unnest($1::text[]) AS u (chat_id) GROUP BY chat_id) k USING (chat_id)
		JOIN chats c ON c.id = m.chat_id`,
		chat, seq, from, name, text, at)
	results := tx.SendBatch(ctx, b)
	first := make(map[string]int64, len(chatIDs)) // the first new ID of each chat
	for _, id := range chatIDs {
		var last int64
		err := results.QueryRow().Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			results.Close()
			return fmt.Errorf("postgres: add message: %w", err)
		}
		first[id] = last - perChat[id] + 1
	}
	if _, err := results.Exec(); err != nil {
		results.Close()
		return fmt.Errorf("postgres: add message: %w", err)
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("postgres: add message: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: add message: %w", err)
	}

	for i, req := range batch {
		base, found := first[req.Item.ChatID]
		if !found {
			req.Err = chatr.Errorf(chatr.ENOTFOUND, "no chat %q", req.Item.ChatID)
			continue
		}
		req.Item.ID = base + seq[i] - 1
	}
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// AddMessage hands m to the writer goroutine and waits until the transaction
// that stored it has committed. If ctx ends first, AddMessage returns its
// error; the message may then be stored, and a retry with the same ClientID
// finds it.
func (db *DB) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	if err := chatr.CheckText(m.ChatID, m.Text, m.FromUserID, m.FromUserName, m.ClientID); err != nil {
		return chatr.Message{}, err
	}
	if len(m.ClientID) > chatr.MaxClientID {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "client message id is longer than %d bytes", chatr.MaxClientID)
	}
	if err := chatr.CheckMessageExtras(m); err != nil {
		return chatr.Message{}, err
	}
	if _, err := chatr.MessageFileIDs(m); err != nil {
		return chatr.Message{}, err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	m.ID, m.Duplicate = 0, false
	m.Time = normal(orNow(m.Time))
	m.Mentions = chatr.NormalMentions(m.Mentions)
	m.Edited, m.Deleted, m.DeletedAt, m.Reactions = time.Time{}, false, time.Time{}, nil
	return db.messages.Submit(ctx, m)
}

const messageColumns = `chat_id, id, from_user_id, from_user_name, text, time, client_id, reply_to, mentions, edited, deleted`

func scanMessage(row pgx.Row) (chatr.Message, error) {
	var (
		m               chatr.Message
		mentions        string
		edited, deleted *time.Time
	)
	err := row.Scan(&m.ChatID, &m.ID, &m.FromUserID, &m.FromUserName, &m.Text, &m.Time, &m.ClientID, &m.ReplyTo, &mentions, &edited, &deleted)
	utc(&m.Time)
	if err == nil {
		err = decodeMentions(mentions, &m.Mentions)
	}
	if edited != nil {
		m.Edited = edited.UTC()
	}
	if deleted != nil {
		m.Deleted, m.DeletedAt = true, deleted.UTC()
	}
	return m, err
}

// byClientID returns the stored messages with the given (sender, key)
// pairs. The query repeats the partial index's condition (a non-empty client_id) so that
// the planner may use the partial index.
func byClientID(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, from, keys []string) (map[[2]string]chatr.Message, error) {
	rows, _ := q.Query(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE client_id <> '' AND (from_user_id, client_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, from, keys)
	ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.Message, error) { return scanMessage(row) })
	if err != nil {
		return nil, err
	}
	out := make(map[[2]string]chatr.Message, len(ms))
	for _, m := range ms {
		out[[2]string{m.FromUserID, m.ClientID}] = m
	}
	return out, nil
}

// insertMessages raises each chat's counter once by the number of its new
// messages in the batch (in chat-ID order, the lock order every node
// follows), numbers them in submission order and inserts them, in one
// pipelined round trip after the look-up of the batch's ClientIDs. A message
// whose (sender, ClientID) is stored already, or appears earlier in the
// batch, is not inserted: it gets the first one, marked Duplicate. Should
// another node insert one of the keys meanwhile, the unique index fails the
// transaction, and the next attempt finds that key stored. Requests for a
// missing chat get ENOTFOUND. A message's files are linked to it in the
// same transaction.
func (db *DB) insertMessages(ctx context.Context, batch []*groupcommit.Request[chatr.Message]) error {
	for range 10 {
		err := db.insertOnce(ctx, batch)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" || pe.ConstraintName != "messages_client_id" {
			return err
		}
	}
	return errors.New("postgres: add message: too much contention on message keys")
}

func (db *DB) insertOnce(ctx context.Context, batch []*groupcommit.Request[chatr.Message]) error {
	first := map[[2]string]*groupcommit.Request[chatr.Message]{} // (sender, key) -> its first request
	var (
		fresh, copies []*groupcommit.Request[chatr.Message]
		keyFrom, keys []string
	)
	for _, req := range batch {
		m := &req.Item
		m.ID, m.Duplicate = 0, false // a retry starts afresh
		if m.ClientID != "" {
			k := [2]string{m.FromUserID, m.ClientID}
			if first[k] != nil {
				copies = append(copies, req)
				continue
			}
			first[k] = req
			keyFrom, keys = append(keyFrom, m.FromUserID), append(keys, m.ClientID)
		}
		fresh = append(fresh, req)
	}

	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: add message: %w", err)
	}
	defer tx.Rollback(context.Background())

	if len(keys) > 0 {
		stored, err := byClientID(ctx, tx, keyFrom, keys)
		if err != nil {
			return fmt.Errorf("postgres: add message: %w", err)
		}
		kept := fresh[:0]
		for _, req := range fresh {
			if old, ok := stored[[2]string{req.Item.FromUserID, req.Item.ClientID}]; ok && req.Item.ClientID != "" {
				ms := []chatr.Message{old}
				if err := addReactions(ctx, tx, old.ChatID, ms); err != nil {
					return fmt.Errorf("postgres: add message: %w", err)
				}
				old = ms[0]
				old.Duplicate = true
				req.Item = old
				continue
			}
			kept = append(kept, req)
		}
		fresh = kept
	}

	if fresh, err = checkReplies(ctx, tx, fresh); err != nil {
		return fmt.Errorf("postgres: add message: %w", err)
	}
	fresh, named, err := claimFiles(ctx, tx, fresh)
	if err != nil {
		return fmt.Errorf("postgres: add message: %w", err)
	}
	perChat := map[string]int64{}
	for _, req := range fresh {
		perChat[req.Item.ChatID]++
	}
	chatIDs := make([]string, 0, len(perChat))
	for id := range perChat {
		chatIDs = append(chatIDs, id)
	}
	sort.Strings(chatIDs)

	// seq numbers each message within its chat in this batch, from 1; the
	// server adds it to the counter's value before the batch.
	n := len(fresh)
	var (
		chat, from, name, text, client = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seq, replyTo                   = make([]int64, n), make([]int64, n)
		mentions                       = make([]string, n)
		mentionAll                     = make([]bool, n)
		at                             = make([]time.Time, n)
		seen                           = map[string]int64{}
	)
	for i, req := range fresh {
		m := req.Item
		seen[m.ChatID]++
		chat[i], from[i], name[i], text[i], client[i], seq[i], at[i] = m.ChatID, m.FromUserID, m.FromUserName, m.Text, m.ClientID, seen[m.ChatID], m.Time
		replyTo[i], mentionAll[i] = m.ReplyTo, m.Mentions.All
		if mentions[i], err = encodeMentions(m.Mentions); err != nil {
			return fmt.Errorf("postgres: add message: %w", err)
		}
	}

	if n > 0 {
		b := &pgx.Batch{}
		for _, id := range chatIDs {
			b.Queue(`UPDATE chats SET last_message_id = last_message_id + $1 WHERE id = $2 RETURNING last_message_id`, perChat[id], id)
		}
		// The counters are already raised when this runs: the batch's IDs are
		// last_message_id - count + seq.
		b.Queue(`
		INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time, client_id, reply_to, mentions, mention_all)
		SELECT m.chat_id, c.last_message_id - k.n + m.seq, m.from_user_id, m.from_user_name, m.text, m.time, m.client_id, m.reply_to, m.mentions, m.mention_all
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::bigint[], $9::text[], $10::boolean[])
			AS m (chat_id, seq, from_user_id, from_user_name, text, time, client_id, reply_to, mentions, mention_all)
		JOIN (SELECT chat_id, count(*) AS n FROM unnest($1::text[]) AS u (chat_id) GROUP BY chat_id) k USING (chat_id)
		JOIN chats c ON c.id = m.chat_id`,
			chat, seq, from, name, text, at, client, replyTo, mentions, mentionAll)
		results := tx.SendBatch(ctx, b)
		firstID := make(map[string]int64, len(chatIDs)) // the first new ID of each chat
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
			firstID[id] = last - perChat[id] + 1
		}
		if _, err := results.Exec(); err != nil {
			results.Close()
			return fmt.Errorf("postgres: add message: %w", err)
		}
		if err := results.Close(); err != nil {
			return fmt.Errorf("postgres: add message: %w", err)
		}
		for i, req := range fresh {
			base, found := firstID[req.Item.ChatID]
			if !found {
				req.Err = chatr.Errorf(chatr.ENOTFOUND, "no chat %q", req.Item.ChatID)
				continue
			}
			req.Item.ID = base + seq[i] - 1
		}
		if err := insertMentions(ctx, tx, fresh); err != nil {
			return fmt.Errorf("postgres: add message: %w", err)
		}
		if err := linkFiles(ctx, tx, named); err != nil {
			return fmt.Errorf("postgres: add message: %w", err)
		}
	}
	for _, req := range copies {
		f := first[[2]string{req.Item.FromUserID, req.Item.ClientID}]
		req.Item, req.Err = f.Item, f.Err
		req.Item.Duplicate = true
	}
	if err := tx.Commit(ctx); err != nil {
		// The server may have committed before the answer was lost.
		return fmt.Errorf("postgres: add message: %w: %w", groupcommit.ErrUnknown, err)
	}
	for _, req := range batch {
		req.Item.Files = nil // kept until now for a retried attempt
	}
	return nil
}

// resolveMessages finds which messages of a batch whose COMMIT failed are
// stored: by ClientID, or else by the id the attempt gave them, holding
// the same sender, text and time.
func (db *DB) resolveMessages(ctx context.Context, batch []*groupcommit.Request[chatr.Message]) error {
	var keyFrom, keys []string
	for _, req := range batch {
		if req.Item.ClientID != "" {
			keyFrom, keys = append(keyFrom, req.Item.FromUserID), append(keys, req.Item.ClientID)
		}
	}
	stored, err := byClientID(ctx, db.pool, keyFrom, keys)
	if err != nil {
		return fmt.Errorf("postgres: resolve commit: %w", err)
	}
	for _, req := range batch {
		m := req.Item
		if m.ClientID != "" {
			if got, ok := stored[[2]string{m.FromUserID, m.ClientID}]; ok {
				got.Duplicate = m.Duplicate || got.ChatID != m.ChatID || got.ID != m.ID
				req.Item, req.Stored = got, true
			}
			continue
		}
		if m.ID == 0 {
			continue
		}
		got, err := scanMessage(db.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE chat_id = $1 AND id = $2`, m.ChatID, m.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("postgres: resolve commit: %w", err)
		}
		if got.FromUserID == m.FromUserID && got.Text == m.Text && got.Time.Equal(m.Time) {
			req.Item, req.Stored = got, true
		}
	}
	return nil
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// querier is what the helpers below need of a pool or a transaction.
type querier interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// encodeMentions gives the stored form of m: ” for none, JSON otherwise.
func encodeMentions(m chatr.Mentions) (string, error) {
	if m.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func decodeMentions(s string, m *chatr.Mentions) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), m)
}

// insertMentions stores the rows MentionCounts counts by, for the messages
// of a batch that were given an id.
func insertMentions(ctx context.Context, q querier, batch []*groupcommit.Request[chatr.Message]) error {
	var users, chats []string
	var ids []int64
	for _, req := range batch {
		if req.Err != nil || req.Item.ID == 0 {
			continue
		}
		for _, u := range req.Item.Mentions.Users {
			users, chats, ids = append(users, u), append(chats, req.Item.ChatID), append(ids, req.Item.ID)
		}
	}
	if len(users) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `INSERT INTO mentions (user_id, chat_id, message_id) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])`, users, chats, ids)
	return err
}

// checkReplies answers EINVALID to the requests whose ReplyTo is above
// their chat's last message id, and returns the others: ids are dense from
// 1 and messages are never removed, so every id up to it is a message of
// the chat. (A reply's target was acknowledged before the reply was sent,
// so the counter it reads is at least that high.)
func checkReplies(ctx context.Context, q querier, fresh []*groupcommit.Request[chatr.Message]) ([]*groupcommit.Request[chatr.Message], error) {
	var chats []string
	for _, req := range fresh {
		if req.Item.ReplyTo != 0 {
			chats = append(chats, req.Item.ChatID)
		}
	}
	if len(chats) == 0 {
		return fresh, nil
	}
	rows, _ := q.Query(ctx, `SELECT id, last_message_id FROM chats WHERE id = ANY($1)`, chats)
	last := map[string]int64{}
	var (
		id string
		n  int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { last[id] = n; return nil }); err != nil {
		return nil, err
	}
	kept := fresh[:0]
	for _, req := range fresh {
		if l, ok := last[req.Item.ChatID]; ok && req.Item.ReplyTo > l {
			req.Err = chatr.Errorf(chatr.EINVALID, "no message %d to reply to", req.Item.ReplyTo)
			continue
		}
		kept = append(kept, req)
	}
	return kept, nil
}

// addReactions sets the Reactions of msgs, messages of one chat in
// ascending id order.
func addReactions(ctx context.Context, q querier, chatID string, msgs []chatr.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	rows, _ := q.Query(ctx, `
		SELECT message_id, emoji, user_id FROM reactions
		WHERE chat_id = $1 AND message_id BETWEEN $2 AND $3 ORDER BY seq`,
		chatID, msgs[0].ID, msgs[len(msgs)-1].ID)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[chatr.ReactionRow])
	if err != nil {
		return err
	}
	byMessage := chatr.CollectReactions(rs)
	for i := range msgs {
		msgs[i].Reactions = byMessage[msgs[i].ID]
	}
	return nil
}

// getMessage reads one message with its reactions, or ENOTFOUND; lock
// takes its row's lock for the rest of the transaction.
func getMessage(ctx context.Context, q querier, chatID string, id int64, lock bool) (chatr.Message, error) {
	if !chatr.StorableText(chatID) {
		return chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	query := `SELECT ` + messageColumns + ` FROM messages WHERE chat_id = $1 AND id = $2`
	if lock {
		query += ` FOR UPDATE`
	}
	m, err := scanMessage(q.QueryRow(ctx, query, chatID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no message %d in chat %q", id, chatID)
	}
	if err != nil {
		return chatr.Message{}, err
	}
	ms := []chatr.Message{m}
	err = addReactions(ctx, q, chatID, ms)
	return ms[0], err
}

// GetMessage returns one message of the chat, or ENOTFOUND.
func (db *DB) GetMessage(ctx context.Context, chatID string, id int64) (chatr.Message, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	m, err := getMessage(ctx, db.pool, chatID, id, false)
	if chatr.ErrorCode(err) == chatr.EINTERNAL {
		return chatr.Message{}, fmt.Errorf("postgres: get message: %w", err)
	}
	return m, err
}

// update runs fn in a transaction; application errors pass through.
func (db *DB) update(ctx context.Context, op string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
	if chatr.ErrorCode(err) == chatr.EINTERNAL {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return err
}

// EditMessage replaces the text and mentions of the author's own message.
func (db *DB) EditMessage(ctx context.Context, e chatr.MessageEdit) (chatr.Message, error) {
	if e.Text == "" {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "an edit needs a text")
	}
	if err := chatr.CheckText(e.Text, e.EditorID); err != nil {
		return chatr.Message{}, err
	}
	if err := chatr.CheckMentions(e.Mentions); err != nil {
		return chatr.Message{}, err
	}
	e.Mentions = chatr.NormalMentions(e.Mentions)
	mentions, err := encodeMentions(e.Mentions)
	if err != nil {
		return chatr.Message{}, err
	}
	var m chatr.Message
	err = db.update(ctx, "edit message", func(ctx context.Context, tx pgx.Tx) error {
		old, err := getMessage(ctx, tx, e.ChatID, e.ID, true)
		switch {
		case err != nil:
			return err
		case old.FromUserID != e.EditorID:
			return chatr.Errorf(chatr.EFORBIDDEN, "only its author edits a message")
		case old.Deleted:
			return chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET text = $1, mentions = $2, mention_all = $3, edited = $4 WHERE chat_id = $5 AND id = $6`,
			e.Text, mentions, e.Mentions.All, normal(orNow(e.At)), e.ChatID, e.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mentions WHERE chat_id = $1 AND message_id = $2`, e.ChatID, e.ID); err != nil {
			return err
		}
		old.Mentions = e.Mentions
		if err := insertMentions(ctx, tx, []*groupcommit.Request[chatr.Message]{{Item: old}}); err != nil {
			return err
		}
		m, err = getMessage(ctx, tx, e.ChatID, e.ID, false)
		return err
	})
	return m, err
}

// DeleteMessage overwrites the message's text and forgets its mentions and
// reactions. (PostgreSQL keeps the old row version until vacuum reclaims
// it; nothing reads it.)
func (db *DB) DeleteMessage(ctx context.Context, chatID string, id int64, at time.Time) (chatr.Message, error) {
	if !chatr.StorableText(chatID) {
		return chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	var m chatr.Message
	err := db.update(ctx, "delete message", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE messages SET text = '', mentions = '', mention_all = false, deleted = $1 WHERE chat_id = $2 AND id = $3 AND deleted IS NULL`,
			normal(orNow(at)), chatID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			for _, q := range []string{`DELETE FROM mentions WHERE chat_id = $1 AND message_id = $2`, `DELETE FROM reactions WHERE chat_id = $1 AND message_id = $2`,
				`DELETE FROM files WHERE chat_id = $1 AND message_id = $2`} {
				if _, err := tx.Exec(ctx, q, chatID, id); err != nil {
					return err
				}
			}
		}
		m, err = getMessage(ctx, tx, chatID, id, false)
		return err
	})
	return m, err
}

// ToggleReaction adds or removes the user's reaction under a lock on the
// message's row, which serialises the toggles of one message across nodes.
func (db *DB) ToggleReaction(ctx context.Context, chatID string, id int64, userID, emoji string) (on bool, rs []chatr.Reaction, err error) {
	if err := chatr.CheckEmoji(emoji); err != nil {
		return false, nil, err
	}
	if err := chatr.CheckText(userID); err != nil {
		return false, nil, err
	}
	if !chatr.StorableText(chatID) {
		return false, nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	// A message at the limit refuses a new emoji from a snapshot, without
	// the row lock: refusing changes nothing, so the answer holds as of that
	// snapshot even if a reaction is taken back meanwhile.
	if full, err := reactionsFull(ctx, db.pool, chatID, id, emoji); err != nil {
		return false, nil, fmt.Errorf("postgres: toggle reaction: %w", err)
	} else if full {
		return false, nil, errTooManyKinds()
	}
	err = db.update(ctx, "toggle reaction", func(ctx context.Context, tx pgx.Tx) error {
		var deleted *time.Time
		err := tx.QueryRow(ctx, `SELECT deleted FROM messages WHERE chat_id = $1 AND id = $2 FOR UPDATE`, chatID, id).Scan(&deleted)
		if errors.Is(err, pgx.ErrNoRows) {
			return chatr.Errorf(chatr.ENOTFOUND, "no message %d in chat %q", id, chatID)
		}
		if err != nil {
			return err
		}
		if deleted != nil {
			return chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
		}
		tag, err := tx.Exec(ctx, `DELETE FROM reactions WHERE chat_id = $1 AND message_id = $2 AND emoji = $3 AND user_id = $4`, chatID, id, emoji, userID)
		if err != nil {
			return err
		}
		if on = tag.RowsAffected() == 0; on {
			if full, err := reactionsFull(ctx, tx, chatID, id, emoji); err != nil {
				return err
			} else if full {
				return errTooManyKinds()
			}
			if _, err := tx.Exec(ctx, `INSERT INTO reactions (chat_id, message_id, emoji, user_id) VALUES ($1, $2, $3, $4)`, chatID, id, emoji, userID); err != nil {
				return err
			}
		}
		ms := []chatr.Message{{ID: id}}
		err = addReactions(ctx, tx, chatID, ms)
		rs = ms[0].Reactions
		return err
	})
	if err != nil {
		return false, nil, err
	}
	return on, rs, nil
}

// reactionsFull reports whether the message has MaxReactionKinds emoji,
// emoji not among them.
func reactionsFull(ctx context.Context, q querier, chatID string, id int64, emoji string) (bool, error) {
	var (
		kinds int
		known bool
	)
	err := q.QueryRow(ctx, `SELECT COUNT(DISTINCT emoji), COALESCE(bool_or(emoji = $1), false) FROM reactions WHERE chat_id = $2 AND message_id = $3`,
		emoji, chatID, id).Scan(&kinds, &known)
	return !known && kinds >= chatr.MaxReactionKinds, err
}

func errTooManyKinds() error {
	return chatr.Errorf(chatr.ELIMIT, "a message has at most %d different reactions", chatr.MaxReactionKinds)
}

// MentionCounts counts, per chat of the user, the live messages of others
// above the user's read marker that mention the user.
func (db *DB) MentionCounts(ctx context.Context, userID string) (map[string]int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	counts := map[string]int{}
	if !chatr.StorableText(userID) {
		return counts, nil
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT mb.chat_id, COUNT(*) FROM members mb
		JOIN messages m ON m.chat_id = mb.chat_id
		LEFT JOIN read_markers r ON r.user_id = mb.user_id AND r.chat_id = mb.chat_id
		WHERE mb.user_id = $1 AND m.id > COALESCE(r.message_id, 0) AND m.from_user_id <> mb.user_id AND m.deleted IS NULL
		AND (m.mention_all OR EXISTS (SELECT 1 FROM mentions x WHERE x.user_id = mb.user_id AND x.chat_id = m.chat_id AND x.message_id = m.id))
		GROUP BY mb.chat_id`, userID)
	var (
		chatID string
		n      int
	)
	if _, err := pgx.ForEachRow(rows, []any{&chatID, &n}, func() error { counts[chatID] = n; return nil }); err != nil {
		return nil, fmt.Errorf("postgres: mention counts: %w", err)
	}
	return counts, nil
}

// ReadMarkers returns the user's read markers in the chats the user is in.
func (db *DB) ReadMarkers(ctx context.Context, userID string) (map[string]int64, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	markers := map[string]int64{}
	if !chatr.StorableText(userID) {
		return markers, nil
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT r.chat_id, r.message_id FROM read_markers r
		JOIN members mb ON mb.chat_id = r.chat_id AND mb.user_id = r.user_id
		WHERE r.user_id = $1`, userID)
	var (
		chatID string
		id     int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&chatID, &id}, func() error { markers[chatID] = id; return nil }); err != nil {
		return nil, fmt.Errorf("postgres: read markers: %w", err)
	}
	return markers, nil
}

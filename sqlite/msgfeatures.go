package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chatr/chatr"
)

// querier is what the helpers below need of a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
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

// insertMentions stores the rows MentionCounts counts by.
func insertMentions(ctx context.Context, q querier, m *chatr.Message) error {
	for _, u := range m.Mentions.Users {
		if _, err := q.ExecContext(ctx, `INSERT INTO mentions (user_id, chat_id, message_id) VALUES (?, ?, ?)`, u, m.ChatID, m.ID); err != nil {
			return err
		}
	}
	return nil
}

// checkReplyTo refuses a ReplyTo above the chat's last message id before
// the batch: ids are dense from 1 and messages are never removed, so every
// id up to it is a message of the chat. lastIDs caches the chat's last id.
func checkReplyTo(ctx context.Context, q querier, m *chatr.Message, lastIDs map[string]int64) error {
	if m.ReplyTo == 0 {
		return nil
	}
	last, ok := lastIDs[m.ChatID]
	if !ok {
		err := q.QueryRowContext(ctx, `SELECT last_message_id FROM chats WHERE id = ?`, m.ChatID).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // the missing chat is ENOTFOUND further on
		}
		if err != nil {
			return err
		}
		lastIDs[m.ChatID] = last
	}
	if m.ReplyTo > last {
		return chatr.Errorf(chatr.EINVALID, "no message %d to reply to", m.ReplyTo)
	}
	return nil
}

// addReactions sets the Reactions of msgs, messages of one chat in
// ascending id order.
func addReactions(ctx context.Context, q querier, chatID string, msgs []chatr.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	rows, err := q.QueryContext(ctx, `
		SELECT message_id, emoji, user_id FROM reactions
		WHERE chat_id = ? AND message_id BETWEEN ? AND ? ORDER BY seq`,
		chatID, msgs[0].ID, msgs[len(msgs)-1].ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var rs []chatr.ReactionRow
	for rows.Next() {
		var r chatr.ReactionRow
		if err := rows.Scan(&r.MessageID, &r.Emoji, &r.UserID); err != nil {
			return err
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	byMessage := chatr.CollectReactions(rs)
	for i := range msgs {
		msgs[i].Reactions = byMessage[msgs[i].ID]
	}
	return nil
}

// getMessage reads one message with its reactions, or ENOTFOUND.
func getMessage(ctx context.Context, q querier, chatID string, id int64) (chatr.Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE chat_id = ? AND id = ?`, chatID, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	m, err := getMessage(ctx, db.read, chatID, id)
	if err != nil && chatr.ErrorCode(err) == chatr.EINTERNAL {
		return chatr.Message{}, fmt.Errorf("sqlite: get message: %w", err)
	}
	return m, err
}

// update runs fn in a transaction on the write connection, which SQLite
// serialises with every other write (the group commit's included).
func (db *DB) update(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer tx.Rollback()
	if err := fn(ctx, tx); err != nil {
		if chatr.ErrorCode(err) != chatr.EINTERNAL {
			return err
		}
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

// EditMessage replaces the text and mentions of the author's own message.
func (db *DB) EditMessage(ctx context.Context, e chatr.MessageEdit) (chatr.Message, error) {
	if e.Text == "" {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "an edit needs a text")
	}
	if err := chatr.CheckText(e.Text); err != nil {
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
	err = db.update(ctx, "edit message", func(ctx context.Context, tx *sql.Tx) error {
		old, err := getMessage(ctx, tx, e.ChatID, e.ID)
		switch {
		case err != nil:
			return err
		case old.FromUserID != e.EditorID:
			return chatr.Errorf(chatr.EFORBIDDEN, "only its author edits a message")
		case old.Deleted:
			return chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET text = ?, mentions = ?, mention_all = ?, edited = ? WHERE chat_id = ? AND id = ?`,
			e.Text, mentions, boolInt(e.Mentions.All), stamp(orNow(e.At)), e.ChatID, e.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mentions WHERE chat_id = ? AND message_id = ?`, e.ChatID, e.ID); err != nil {
			return err
		}
		old.Mentions = e.Mentions
		if err := insertMentions(ctx, tx, &old); err != nil {
			return err
		}
		m, err = getMessage(ctx, tx, e.ChatID, e.ID)
		return err
	})
	return m, err
}

// DeleteMessage overwrites the message's text and forgets its mentions and
// reactions; the connection runs with secure_delete, so the freed bytes
// are zeroed too.
func (db *DB) DeleteMessage(ctx context.Context, chatID string, id int64, at time.Time) (chatr.Message, error) {
	var m chatr.Message
	err := db.update(ctx, "delete message", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET text = '', mentions = '', mention_all = 0, deleted = ? WHERE chat_id = ? AND id = ? AND deleted = 0`,
			stamp(orNow(at)), chatID, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			for _, q := range []string{`DELETE FROM mentions WHERE chat_id = ? AND message_id = ?`, `DELETE FROM reactions WHERE chat_id = ? AND message_id = ?`,
				`DELETE FROM files WHERE chat_id = ? AND message_id = ?`} {
				if _, err := tx.ExecContext(ctx, q, chatID, id); err != nil {
					return err
				}
			}
		}
		m, err = getMessage(ctx, tx, chatID, id)
		return err
	})
	return m, err
}

// ToggleReaction adds or removes the user's reaction; the single write
// connection serialises toggles, so the MaxReactionKinds check holds.
func (db *DB) ToggleReaction(ctx context.Context, chatID string, id int64, userID, emoji string) (on bool, rs []chatr.Reaction, err error) {
	if err := chatr.CheckEmoji(emoji); err != nil {
		return false, nil, err
	}
	if err := chatr.CheckText(userID); err != nil {
		return false, nil, err
	}
	// A message at the limit refuses a new emoji from a read snapshot,
	// without the write lock: refusing changes nothing, so the answer holds
	// as of that snapshot even if a reaction is taken back meanwhile.
	if full, err := reactionsFull(db.queryRow(ctx, reactionKindsQuery, emoji, chatID, id)); err != nil {
		return false, nil, fmt.Errorf("sqlite: toggle reaction: %w", err)
	} else if full {
		return false, nil, errTooManyKinds()
	}
	err = db.update(ctx, "toggle reaction", func(ctx context.Context, tx *sql.Tx) error {
		var deleted int64
		err := tx.QueryRowContext(ctx, `SELECT deleted FROM messages WHERE chat_id = ? AND id = ?`, chatID, id).Scan(&deleted)
		if errors.Is(err, sql.ErrNoRows) {
			return chatr.Errorf(chatr.ENOTFOUND, "no message %d in chat %q", id, chatID)
		}
		if err != nil {
			return err
		}
		if deleted != 0 {
			return chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM reactions WHERE chat_id = ? AND message_id = ? AND emoji = ? AND user_id = ?`, chatID, id, emoji, userID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if on = n == 0; on {
			if full, err := reactionsFull(tx.QueryRowContext(ctx, reactionKindsQuery, emoji, chatID, id)); err != nil {
				return err
			} else if full {
				return errTooManyKinds()
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO reactions (chat_id, message_id, emoji, user_id) VALUES (?, ?, ?, ?)`, chatID, id, emoji, userID); err != nil {
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
// emoji not among them; the prepared read statement keeps the refusals of
// a flood cheap.
// row is reactionKindsQuery's answer for (emoji, chat, message).
func reactionsFull(row *sql.Row) (bool, error) {
	var (
		kinds int
		known bool
	)
	err := row.Scan(&kinds, &known)
	return !known && kinds >= chatr.MaxReactionKinds, err
}

const reactionKindsQuery = `SELECT COUNT(DISTINCT emoji), COALESCE(MAX(emoji = ?), 0) FROM reactions WHERE chat_id = ? AND message_id = ?`

func errTooManyKinds() error {
	return chatr.Errorf(chatr.ELIMIT, "a message has at most %d different reactions", chatr.MaxReactionKinds)
}

// MentionCounts counts, per chat of the user, the live messages of others
// above the user's read marker that mention the user.
func (db *DB) MentionCounts(ctx context.Context, userID string) (map[string]int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := db.query(ctx, `
		SELECT mb.chat_id, COUNT(*) FROM members mb
		JOIN messages m ON m.chat_id = mb.chat_id
		LEFT JOIN read_markers r ON r.user_id = mb.user_id AND r.chat_id = mb.chat_id
		WHERE mb.user_id = ? AND m.id > COALESCE(r.message_id, 0) AND m.from_user_id <> mb.user_id AND m.deleted = 0
		AND (m.mention_all = 1 OR EXISTS (SELECT 1 FROM mentions x WHERE x.user_id = mb.user_id AND x.chat_id = m.chat_id AND x.message_id = m.id))
		GROUP BY mb.chat_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: mention counts: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var (
			chatID string
			n      int
		)
		if err := rows.Scan(&chatID, &n); err != nil {
			return nil, fmt.Errorf("sqlite: mention counts: %w", err)
		}
		counts[chatID] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: mention counts: %w", err)
	}
	return counts, nil
}

// ReadMarkers returns the user's read markers in the chats the user is in.
func (db *DB) ReadMarkers(ctx context.Context, userID string) (map[string]int64, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := db.query(ctx, `
		SELECT r.chat_id, r.message_id FROM read_markers r
		JOIN members mb ON mb.chat_id = r.chat_id AND mb.user_id = r.user_id
		WHERE r.user_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read markers: %w", err)
	}
	defer rows.Close()
	markers := map[string]int64{}
	for rows.Next() {
		var (
			chatID string
			id     int64
		)
		if err := rows.Scan(&chatID, &id); err != nil {
			return nil, fmt.Errorf("sqlite: read markers: %w", err)
		}
		markers[chatID] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read markers: %w", err)
	}
	return markers, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr"
)

// ChatUnread reads the user's marker of one chat and counts, in one
// query, the messages above it as UnreadCounts and MentionCounts do.
func (db *DB) ChatUnread(ctx context.Context, userID, chatID string) (chatr.ChatUnread, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	var u chatr.ChatUnread
	if !chatr.StorableText(userID, chatID) {
		return u, nil
	}
	err := db.pool.QueryRow(ctx, `
		WITH r AS (
			SELECT mb.user_id, mb.chat_id, COALESCE(rm.message_id, 0) AS id FROM members mb
			LEFT JOIN read_markers rm ON rm.user_id = mb.user_id AND rm.chat_id = mb.chat_id
			WHERE mb.user_id = $1 AND mb.chat_id = $2)
		SELECT r.id, COUNT(m.id), COUNT(m.id) FILTER (WHERE m.mention_all OR EXISTS (
			SELECT 1 FROM mentions x WHERE x.user_id = r.user_id AND x.chat_id = r.chat_id AND x.message_id = m.id))
		FROM r LEFT JOIN messages m ON m.chat_id = r.chat_id AND m.id > r.id AND m.from_user_id <> r.user_id AND m.deleted IS NULL
		GROUP BY r.id`, userID, chatID).Scan(&u.ReadUpTo, &u.Unread, &u.Mentions)
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.ChatUnread{}, nil
	}
	if err != nil {
		return chatr.ChatUnread{}, fmt.Errorf("postgres: unread of a chat: %w", err)
	}
	return u, nil
}

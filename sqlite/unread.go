package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/chatr/chatr"
)

// ChatUnread reads the user's marker of one chat and counts, in one
// query, the messages above it as UnreadCounts and MentionCounts do.
func (db *DB) ChatUnread(ctx context.Context, userID, chatID string) (chatr.ChatUnread, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	var u chatr.ChatUnread
	err := db.queryRow(ctx, `
		WITH r AS (
			SELECT mb.user_id, mb.chat_id, COALESCE(rm.message_id, 0) AS id FROM members mb
			LEFT JOIN read_markers rm ON rm.user_id = mb.user_id AND rm.chat_id = mb.chat_id
			WHERE mb.user_id = ? AND mb.chat_id = ?)
		SELECT r.id, COUNT(m.id), COALESCE(SUM(CASE WHEN m.mention_all = 1 OR EXISTS (
			SELECT 1 FROM mentions x WHERE x.user_id = r.user_id AND x.chat_id = r.chat_id AND x.message_id = m.id) THEN 1 ELSE 0 END), 0)
		FROM r LEFT JOIN messages m ON m.chat_id = r.chat_id AND m.id > r.id AND m.from_user_id <> r.user_id AND m.deleted = 0
		GROUP BY r.id`, userID, chatID).Scan(&u.ReadUpTo, &u.Unread, &u.Mentions)
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.ChatUnread{}, nil
	}
	if err != nil {
		return chatr.ChatUnread{}, fmt.Errorf("sqlite: unread of a chat: %w", err)
	}
	return u, nil
}

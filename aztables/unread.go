package aztables

import (
	"context"
	"fmt"
	"slices"

	"github.com/chatr/chatr"
)

// ChatUnread reads the user's marker of one chat, then the messages of
// others above it in the chat's partition.
func (s *Store) ChatUnread(ctx context.Context, userID, chatID string) (chatr.ChatUnread, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	var u chatr.ChatUnread
	if !textOK(userID, chatID) {
		return u, nil
	}
	member, err := s.IsMember(ctx, chatID, userID)
	if err != nil || !member {
		return u, err
	}
	r, err := s.marker.GetEntity(ctx, key(userID), key(chatID), nil)
	switch {
	case notFound(err):
	case err != nil:
		return u, fmt.Errorf("aztables: get read marker: %w", err)
	default:
		e, err := decode(r.Value)
		if err != nil {
			return u, err
		}
		u.ReadUpTo = e.int64v("messageId")
	}
	f := "PartitionKey eq " + quote(key(chatID)) + " and RowKey gt " + quote(rowID(u.ReadUpTo)) + " and RowKey lt " + quote(counterRow) +
		" and fromUserId ne " + quote(userID)
	es, err := list(ctx, s.messages, f, "", 0)
	if err != nil {
		return u, fmt.Errorf("aztables: count unread: %w", err)
	}
	for _, e := range es {
		var m chatr.Message
		extrasOf(e, &m)
		if m.Deleted {
			continue
		}
		u.Unread++
		if m.Mentions.All || slices.Contains(m.Mentions.Users, userID) {
			u.Mentions++
		}
	}
	return u, nil
}

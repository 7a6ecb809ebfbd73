package memstore

import (
	"context"
	"slices"

	"github.com/chatr/chatr"
)

func (s *Store) ChatUnread(_ context.Context, userID, chatID string) (chatr.ChatUnread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.members[chatID][userID]; !ok {
		return chatr.ChatUnread{}, nil
	}
	u := chatr.ChatUnread{ReadUpTo: s.read[[2]string{userID, chatID}]}
	for _, m := range s.messages[chatID] {
		if m.ID > u.ReadUpTo && m.FromUserID != userID && !m.Deleted {
			u.Unread++
			if m.Mentions.All || slices.Contains(m.Mentions.Users, userID) {
				u.Mentions++
			}
		}
	}
	return u, nil
}

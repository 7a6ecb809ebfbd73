package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/chatr/chatr"
)

// message returns a pointer to the stored message, or ENOTFOUND. The
// caller holds s.mu.
func (s *Store) message(chatID string, id int64) (*chatr.Message, error) {
	ms := s.messages[chatID]
	if id < 1 || id > int64(len(ms)) {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no message %d in chat %q", id, chatID)
	}
	return &ms[id-1], nil
}

// withReactions returns m with its current reactions. The caller holds s.mu.
func (s *Store) withReactions(m chatr.Message) chatr.Message {
	m.Reactions = chatr.CollectReactions(s.react[m.ChatID][m.ID])[m.ID]
	return m
}

func (s *Store) GetMessage(_ context.Context, chatID string, id int64) (chatr.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.message(chatID, id)
	if err != nil {
		return chatr.Message{}, err
	}
	return s.withReactions(*m), nil
}

func (s *Store) EditMessage(_ context.Context, e chatr.MessageEdit) (chatr.Message, error) {
	if e.Text == "" {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "an edit needs a text")
	}
	if err := badText(e.Text); err != nil {
		return chatr.Message{}, err
	}
	if err := chatr.CheckMentions(e.Mentions); err != nil {
		return chatr.Message{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.message(e.ChatID, e.ID)
	switch {
	case err != nil:
		return chatr.Message{}, err
	case m.FromUserID != e.EditorID:
		return chatr.Message{}, chatr.Errorf(chatr.EFORBIDDEN, "only its author edits a message")
	case m.Deleted:
		return chatr.Message{}, chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
	}
	m.Text, m.Mentions, m.Edited = e.Text, chatr.NormalMentions(e.Mentions), now(e.At)
	return s.withReactions(*m), nil
}

func (s *Store) DeleteMessage(_ context.Context, chatID string, id int64, at time.Time) (chatr.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.message(chatID, id)
	if err != nil {
		return chatr.Message{}, err
	}
	if !m.Deleted {
		m.Text, m.Mentions, m.Deleted, m.DeletedAt = "", chatr.Mentions{}, true, now(at)
		delete(s.react[chatID], id)
		s.deleteMessageFiles(chatID, id)
	}
	return *m, nil
}

func (s *Store) ToggleReaction(_ context.Context, chatID string, id int64, userID, emoji string) (bool, []chatr.Reaction, error) {
	if err := chatr.CheckEmoji(emoji); err != nil {
		return false, nil, err
	}
	if err := badText(userID); err != nil {
		return false, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.message(chatID, id)
	if err != nil {
		return false, nil, err
	}
	if m.Deleted {
		return false, nil, chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
	}
	rows := s.react[chatID][id]
	i := slices.IndexFunc(rows, func(r chatr.ReactionRow) bool { return r.Emoji == emoji && r.UserID == userID })
	on := i < 0
	if on {
		known := slices.ContainsFunc(rows, func(r chatr.ReactionRow) bool { return r.Emoji == emoji })
		if !known && len(chatr.CollectReactions(rows)[id]) >= chatr.MaxReactionKinds {
			return false, nil, chatr.Errorf(chatr.ELIMIT, "a message has at most %d different reactions", chatr.MaxReactionKinds)
		}
		rows = append(rows, chatr.ReactionRow{MessageID: id, Emoji: emoji, UserID: userID})
	} else {
		rows = slices.Delete(rows, i, i+1)
	}
	if s.react[chatID] == nil {
		s.react[chatID] = map[int64][]chatr.ReactionRow{}
	}
	s.react[chatID][id] = rows
	return on, chatr.CollectReactions(rows)[id], nil
}

func (s *Store) MentionCounts(_ context.Context, userID string) (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for chatID, ms := range s.members {
		if _, ok := ms[userID]; !ok {
			continue
		}
		for _, m := range s.messages[chatID] {
			if m.ID > s.read[[2]string{userID, chatID}] && m.FromUserID != userID && !m.Deleted &&
				(m.Mentions.All || slices.Contains(m.Mentions.Users, userID)) {
				out[chatID]++
			}
		}
	}
	return out, nil
}

func (s *Store) ReadMarkers(_ context.Context, userID string) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for k, id := range s.read {
		if _, member := s.members[k[1]][userID]; k[0] == userID && member {
			out[k[1]] = id
		}
	}
	return out, nil
}

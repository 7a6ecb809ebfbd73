package memstore

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/chatr/chatr"
)

// outgoingTables holds each store's outgoing webhooks beside it, by chat
// then ID, under the store's mutex (as fileTables does for files).
var outgoingTables sync.Map // *Store -> map[string]map[string]chatr.OutgoingWebhook

func (s *Store) outgoing() map[string]map[string]chatr.OutgoingWebhook {
	t, _ := outgoingTables.LoadOrStore(s, map[string]map[string]chatr.OutgoingWebhook{})
	return t.(map[string]map[string]chatr.OutgoingWebhook)
}

// deleteOutgoing forgets a deleted chat's webhooks; the caller holds s.mu.
func (s *Store) deleteOutgoing(chatID string) { delete(s.outgoing(), chatID) }

func (s *Store) CreateOutgoingWebhook(_ context.Context, w chatr.OutgoingWebhook) error {
	if err := chatr.CheckOutgoingWebhook(w); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[w.ChatID]; !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	for _, hooks := range s.outgoing() {
		if _, ok := hooks[w.ID]; ok {
			return chatr.Errorf(chatr.ECONFLICT, "webhook exists")
		}
	}
	w.Created, w.Triggers = now(w.Created), slices.Clone(w.Triggers)
	hooks := s.outgoing()[w.ChatID]
	if hooks == nil {
		hooks = map[string]chatr.OutgoingWebhook{}
		s.outgoing()[w.ChatID] = hooks
	}
	hooks[w.ID] = w
	return nil
}

func (s *Store) ListOutgoingWebhooks(_ context.Context, chatID string) ([]chatr.OutgoingWebhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[chatID]; !ok {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	l := []chatr.OutgoingWebhook{}
	for _, w := range s.outgoing()[chatID] {
		w.Triggers = slices.Clone(w.Triggers)
		l = append(l, w)
	}
	slices.SortFunc(l, func(a, b chatr.OutgoingWebhook) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return l, nil
}

func (s *Store) DeleteOutgoingWebhook(_ context.Context, chatID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	hooks := s.outgoing()[chatID]
	if _, ok := hooks[id]; !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	}
	delete(hooks, id)
	return nil
}

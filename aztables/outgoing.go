package aztables

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chatr/chatr"
)

// Outgoing webhooks on Table Storage: the chatroutgoing table, PartitionKey
// "chatr" (an ID is unique across chats), RowKey the webhook's ID; columns
// chatId, name, url, triggers (the words separated by single spaces),
// secret, createdBy, created. DeleteChat deletes a chat's rows.

func outgoingOf(e entity) chatr.OutgoingWebhook {
	return chatr.OutgoingWebhook{ID: unkey(e.str("RowKey")), ChatID: e.str("chatId"), Name: e.str("name"), URL: e.str("url"),
		Triggers: strings.Split(e.str("triggers"), " "), Secret: e.str("secret"), CreatedBy: e.str("createdBy"),
		Created: e.time("created")}
}

func (s *Store) CreateOutgoingWebhook(ctx context.Context, w chatr.OutgoingWebhook) error {
	if err := chatr.CheckOutgoingWebhook(w); err != nil {
		return err
	}
	if _, err := s.getChat(ctx, w.ChatID); err != nil {
		return err
	}
	if w.Created.IsZero() {
		w.Created = time.Now()
	}
	e := map[string]any{"PartitionKey": partition, "RowKey": key(w.ID), "chatId": w.ChatID, "name": w.Name, "url": w.URL,
		"triggers": strings.Join(w.Triggers, " "), "secret": w.Secret, "createdBy": w.CreatedBy}
	setTime(e, "created", w.Created)
	_, err := s.outgoing.AddEntity(ctx, marshal(e), nil)
	if conflict(err) {
		return chatr.Errorf(chatr.ECONFLICT, "webhook exists")
	}
	if err != nil {
		return fmt.Errorf("aztables: add outgoing webhook: %w", err)
	}
	return nil
}

func (s *Store) ListOutgoingWebhooks(ctx context.Context, chatID string) ([]chatr.OutgoingWebhook, error) {
	if _, err := s.getChat(ctx, chatID); err != nil {
		return nil, err
	}
	es, err := s.chatOutgoing(ctx, chatID)
	if err != nil {
		return nil, err
	}
	hooks := make([]chatr.OutgoingWebhook, 0, len(es))
	for _, e := range es {
		hooks = append(hooks, outgoingOf(e))
	}
	sort.Slice(hooks, func(i, j int) bool {
		a, b := hooks[i], hooks[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID < b.ID
	})
	return hooks, nil
}

func (s *Store) chatOutgoing(ctx context.Context, chatID string) ([]entity, error) {
	es, err := list(ctx, s.outgoing, "PartitionKey eq "+quote(partition)+" and chatId eq "+quote(chatID), "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list outgoing webhooks: %w", err)
	}
	return es, nil
}

func (s *Store) DeleteOutgoingWebhook(ctx context.Context, chatID, id string) error {
	errNone := chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	if id == "" || !textOK(chatID, id) {
		return errNone
	}
	r, err := s.outgoing.GetEntity(ctx, partition, key(id), nil)
	if notFound(err) {
		return errNone
	}
	if err != nil {
		return fmt.Errorf("aztables: get outgoing webhook: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return err
	}
	if e.str("chatId") != chatID {
		return errNone
	}
	_, err = s.outgoing.DeleteEntity(ctx, partition, key(id), nil)
	if notFound(err) {
		return errNone
	}
	if err != nil {
		return fmt.Errorf("aztables: delete outgoing webhook: %w", err)
	}
	return nil
}

// deleteChatOutgoing removes a deleted chat's webhooks.
func (s *Store) deleteChatOutgoing(ctx context.Context, chatID string) error {
	es, err := s.chatOutgoing(ctx, chatID)
	if err != nil {
		return err
	}
	for _, e := range es {
		if _, err := s.outgoing.DeleteEntity(ctx, partition, e.str("RowKey"), nil); err != nil && !notFound(err) {
			return fmt.Errorf("aztables: delete outgoing webhook: %w", err)
		}
	}
	return nil
}

package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/chatr/chatr"
)

// --- outgoing webhooks (migration 0009)

// CreateOutgoingWebhook stores a new outgoing webhook.
func (db *DB) CreateOutgoingWebhook(ctx context.Context, w chatr.OutgoingWebhook) error {
	if err := chatr.CheckOutgoingWebhook(w); err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO outgoing_webhooks (id, chat_id, name, url, triggers, secret, created_by, created)
		SELECT ?, id, ?, ?, ?, ?, ?, ? FROM chats WHERE id = ?
		ON CONFLICT (id) DO NOTHING`,
		w.ID, w.Name, w.URL, strings.Join(w.Triggers, " "), w.Secret, w.CreatedBy, stamp(orNow(w.Created)), w.ChatID)
	if err != nil {
		return fmt.Errorf("sqlite: create outgoing webhook: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create outgoing webhook: %w", err)
	} else if n == 1 {
		return nil
	}
	if exists, err := db.chatExists(ctx, w.ChatID); err != nil {
		return fmt.Errorf("sqlite: create outgoing webhook: %w", err)
	} else if !exists {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", w.ChatID)
	}
	return chatr.Errorf(chatr.ECONFLICT, "webhook exists")
}

// ListOutgoingWebhooks returns the chat's webhooks by creation time then ID.
func (db *DB) ListOutgoingWebhooks(ctx context.Context, chatID string) ([]chatr.OutgoingWebhook, error) {
	rows, err := db.query(ctx, `
		SELECT id, chat_id, name, url, triggers, secret, created_by, created FROM outgoing_webhooks
		WHERE chat_id = ? ORDER BY created, id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list outgoing webhooks: %w", err)
	}
	defer rows.Close()
	hooks := []chatr.OutgoingWebhook{}
	for rows.Next() {
		var (
			w        chatr.OutgoingWebhook
			triggers string
			created  int64
		)
		if err := rows.Scan(&w.ID, &w.ChatID, &w.Name, &w.URL, &triggers, &w.Secret, &w.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("sqlite: list outgoing webhooks: %w", err)
		}
		w.Triggers, w.Created = strings.Split(triggers, " "), unstamp(created)
		hooks = append(hooks, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list outgoing webhooks: %w", err)
	}
	if len(hooks) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("sqlite: list outgoing webhooks: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
	}
	return hooks, nil
}

// DeleteOutgoingWebhook removes the chat's webhook.
func (db *DB) DeleteOutgoingWebhook(ctx context.Context, chatID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM outgoing_webhooks WHERE id = ? AND chat_id = ?`, id, chatID)
	if err != nil {
		return fmt.Errorf("sqlite: delete outgoing webhook: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete outgoing webhook: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	}
	return nil
}

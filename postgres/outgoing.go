package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr"
)

// --- outgoing webhooks (migration 0019)

// CreateOutgoingWebhook stores a new outgoing webhook.
func (db *DB) CreateOutgoingWebhook(ctx context.Context, w chatr.OutgoingWebhook) error {
	if err := chatr.CheckOutgoingWebhook(w); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO outgoing_webhooks (id, chat_id, name, url, triggers, secret, created_by, created)
		SELECT $1, id, $2, $3, $4, $5, $6, $7 FROM chats WHERE id = $8
		ON CONFLICT (id) DO NOTHING`,
		w.ID, w.Name, w.URL, w.Triggers, w.Secret, w.CreatedBy, normal(orNow(w.Created)), w.ChatID)
	if err != nil {
		return fmt.Errorf("postgres: create outgoing webhook: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if exists, err := db.chatExists(ctx, w.ChatID); err != nil {
		return fmt.Errorf("postgres: create outgoing webhook: %w", err)
	} else if !exists {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", w.ChatID)
	}
	return chatr.Errorf(chatr.ECONFLICT, "webhook exists")
}

// ListOutgoingWebhooks returns the chat's webhooks by creation time then ID.
func (db *DB) ListOutgoingWebhooks(ctx context.Context, chatID string) ([]chatr.OutgoingWebhook, error) {
	if !chatr.StorableText(chatID) {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT id, chat_id, name, url, triggers, secret, created_by, created FROM outgoing_webhooks
		WHERE chat_id = $1 ORDER BY created, id`, chatID)
	hooks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.OutgoingWebhook, error) {
		var w chatr.OutgoingWebhook
		err := row.Scan(&w.ID, &w.ChatID, &w.Name, &w.URL, &w.Triggers, &w.Secret, &w.CreatedBy, &w.Created)
		utc(&w.Created)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list outgoing webhooks: %w", err)
	}
	if len(hooks) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("postgres: list outgoing webhooks: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
		hooks = []chatr.OutgoingWebhook{}
	}
	return hooks, nil
}

// DeleteOutgoingWebhook removes the chat's webhook.
func (db *DB) DeleteOutgoingWebhook(ctx context.Context, chatID, id string) error {
	if !chatr.StorableText(chatID, id) {
		return chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM outgoing_webhooks WHERE id = $1 AND chat_id = $2`, id, chatID)
	if err != nil {
		return fmt.Errorf("postgres: delete outgoing webhook: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	}
	return nil
}

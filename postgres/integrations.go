package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr"
)

var _ chatr.IntegrationStore = (*DB)(nil)

// insertOwned runs an INSERT ... WHERE EXISTS (owner) ON CONFLICT DO
// NOTHING; when it inserted nothing, a second look tells a taken ID or hash
// (ECONFLICT) from a missing owner (ENOTFOUND, with missing as message).
func (db *DB) insertOwned(ctx context.Context, what, insert string, args []any, table, id, hash, missing string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	tag, err := db.pool.Exec(ctx, insert, args...)
	if err != nil {
		return fmt.Errorf("postgres: create %s: %w", what, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var taken bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1 OR hash = $2)`, id, hash).Scan(&taken); err != nil {
		return fmt.Errorf("postgres: create %s: %w", what, err)
	}
	if taken {
		return chatr.Errorf(chatr.ECONFLICT, "%s exists", what)
	}
	return chatr.Errorf(chatr.ENOTFOUND, "%s", missing)
}

// CreateAPIToken inserts the token if its user exists.
func (db *DB) CreateAPIToken(ctx context.Context, t chatr.APIToken) error {
	t, err := chatr.CheckAPIToken(t)
	if err != nil {
		return err
	}
	chats := t.Chats
	if chats == nil {
		chats = []string{}
	}
	return db.insertOwned(ctx, "token", `
		INSERT INTO api_tokens (id, user_id, name, hash, scope, chats, created)
		SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
		ON CONFLICT DO NOTHING`,
		[]any{t.ID, t.UserID, t.Name, t.Hash, t.Scope, chats, normal(orNow(t.Created))},
		"api_tokens", t.ID, t.Hash, "no such user")
}

const tokenColumns = `id, user_id, name, hash, scope, chats, created, last_used, revoked`

func scanToken(row pgx.Row) (chatr.APIToken, error) {
	var (
		t        chatr.APIToken
		lastUsed *time.Time
	)
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Scope, &t.Chats, &t.Created, &lastUsed, &t.Revoked)
	if len(t.Chats) == 0 {
		t.Chats = nil
	}
	if lastUsed != nil {
		t.LastUsed = *lastUsed
	}
	utc(&t.Created, &t.LastUsed)
	return t, err
}

// GetAPIToken returns the token with that hash.
func (db *DB) GetAPIToken(ctx context.Context, hash string) (chatr.APIToken, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.APIToken{}, chatr.Errorf(chatr.ENOTFOUND, "no such token")
	} else if err != nil {
		return chatr.APIToken{}, fmt.Errorf("postgres: get token: %w", err)
	}
	return t, nil
}

// ListAPITokens returns the user's tokens by creation time, then ID.
func (db *DB) ListAPITokens(ctx context.Context, userID string) ([]chatr.APIToken, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY created, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chatr.APIToken, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken marks the user's token revoked.
func (db *DB) RevokeAPIToken(ctx context.Context, userID, id string) error {
	return db.revoke(ctx, "token", `UPDATE api_tokens SET revoked = true WHERE id = $1 AND user_id = $2`, id, userID)
}

// revoke runs an UPDATE of one row by ID and owner: ENOTFOUND when no row
// matched (a row revoked already still matches).
func (db *DB) revoke(ctx context.Context, what, update, id, owner string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	tag, err := db.pool.Exec(ctx, update, id, owner)
	if err != nil {
		return fmt.Errorf("postgres: revoke %s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no such %s", what)
	}
	return nil
}

// TouchAPIToken moves the token's last use forward.
func (db *DB) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, err := db.pool.Exec(ctx, `UPDATE api_tokens SET last_used = greatest(last_used, $2) WHERE id = $1`, id, normal(orNow(at)))
	if err != nil {
		return fmt.Errorf("postgres: touch token: %w", err)
	}
	return nil
}

// CreateWebhook inserts the webhook if its chat exists.
func (db *DB) CreateWebhook(ctx context.Context, w chatr.Webhook) error {
	if err := chatr.CheckWebhook(w); err != nil {
		return err
	}
	return db.insertOwned(ctx, "webhook", `
		INSERT INTO webhooks (id, chat_id, name, created_by, hash, created)
		SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM chats WHERE id = $2)
		ON CONFLICT DO NOTHING`,
		[]any{w.ID, w.ChatID, w.Name, w.CreatedBy, w.Hash, normal(orNow(w.Created))},
		"webhooks", w.ID, w.Hash, "no such chat")
}

const webhookColumns = `id, chat_id, name, created_by, hash, created, revoked`

func scanWebhook(row pgx.Row) (chatr.Webhook, error) {
	var w chatr.Webhook
	err := row.Scan(&w.ID, &w.ChatID, &w.Name, &w.CreatedBy, &w.Hash, &w.Created, &w.Revoked)
	utc(&w.Created)
	return w, err
}

// GetWebhook returns the webhook with that hash.
func (db *DB) GetWebhook(ctx context.Context, hash string) (chatr.Webhook, error) {
	w, err := scanWebhook(db.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.Webhook{}, chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	} else if err != nil {
		return chatr.Webhook{}, fmt.Errorf("postgres: get webhook: %w", err)
	}
	return w, nil
}

// ListWebhooks returns the chat's webhooks by creation time, then ID.
func (db *DB) ListWebhooks(ctx context.Context, chatID string) ([]chatr.Webhook, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE chat_id = $1 ORDER BY created, id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chatr.Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	return out, nil
}

// RevokeWebhook marks the chat's webhook revoked.
func (db *DB) RevokeWebhook(ctx context.Context, chatID, id string) error {
	return db.revoke(ctx, "webhook", `UPDATE webhooks SET revoked = true WHERE id = $1 AND chat_id = $2`, id, chatID)
}

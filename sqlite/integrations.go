package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chatr/chatr"
)

var _ chatr.IntegrationStore = (*DB)(nil)

// insertOwned runs an INSERT ... WHERE EXISTS (owner) ON CONFLICT DO
// NOTHING; when it inserted nothing, a second look tells a taken ID or hash
// (ECONFLICT) from a missing owner (ENOTFOUND, with missing as message).
func (db *DB) insertOwned(ctx context.Context, what, insert string, args []any, table, id, hash, missing string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, insert, args...)
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create %s: %w", what, err)
	} else if n == 1 {
		return nil
	}
	var taken bool
	if err := db.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = ? OR hash = ?)`, id, hash).Scan(&taken); err != nil {
		return fmt.Errorf("sqlite: create %s: %w", what, err)
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
	chats := ""
	if len(t.Chats) > 0 {
		b, _ := json.Marshal(t.Chats)
		chats = string(b)
	}
	return db.insertOwned(ctx, "token", `
		INSERT INTO api_tokens (id, user_id, name, hash, scope, chats, created)
		SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)
		ON CONFLICT DO NOTHING`,
		[]any{t.ID, t.UserID, t.Name, t.Hash, t.Scope, chats, stamp(orNow(t.Created)), t.UserID},
		"api_tokens", t.ID, t.Hash, "no such user")
}

const tokenColumns = `id, user_id, name, hash, scope, chats, created, last_used, revoked`

func scanToken(row interface{ Scan(...any) error }) (chatr.APIToken, error) {
	var (
		t                 chatr.APIToken
		chats             string
		created, lastUsed int64
	)
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Scope, &chats, &created, &lastUsed, &t.Revoked)
	if err != nil {
		return t, err
	}
	if chats != "" {
		if err := json.Unmarshal([]byte(chats), &t.Chats); err != nil {
			return t, err
		}
	}
	t.Created = unstamp(created)
	if lastUsed != 0 {
		t.LastUsed = unstamp(lastUsed)
	}
	return t, nil
}

// GetAPIToken returns the token with that hash.
func (db *DB) GetAPIToken(ctx context.Context, hash string) (chatr.APIToken, error) {
	t, err := scanToken(db.queryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.APIToken{}, chatr.Errorf(chatr.ENOTFOUND, "no such token")
	} else if err != nil {
		return chatr.APIToken{}, fmt.Errorf("sqlite: get token: %w", err)
	}
	return t, nil
}

// ListAPITokens returns the user's tokens by creation time, then ID.
func (db *DB) ListAPITokens(ctx context.Context, userID string) ([]chatr.APIToken, error) {
	rows, err := db.query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = ? ORDER BY created, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	defer rows.Close()
	var out []chatr.APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken marks the user's token revoked.
func (db *DB) RevokeAPIToken(ctx context.Context, userID, id string) error {
	return db.revoke(ctx, "token", `UPDATE api_tokens SET revoked = 1 WHERE id = ? AND user_id = ?`, id, userID)
}

// revoke runs an UPDATE of one row by ID and owner: ENOTFOUND when no row
// matched (a row revoked already still matches).
func (db *DB) revoke(ctx context.Context, what, update, id, owner string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, update, id, owner)
	if err != nil {
		return fmt.Errorf("sqlite: revoke %s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: revoke %s: %w", what, err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no such %s", what)
	}
	return nil
}

// TouchAPIToken moves the token's last use forward.
func (db *DB) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, err := db.write.ExecContext(ctx, `UPDATE api_tokens SET last_used = max(last_used, ?) WHERE id = ?`, stamp(orNow(at)), id)
	if err != nil {
		return fmt.Errorf("sqlite: touch token: %w", err)
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
		SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chats WHERE id = ?)
		ON CONFLICT DO NOTHING`,
		[]any{w.ID, w.ChatID, w.Name, w.CreatedBy, w.Hash, stamp(orNow(w.Created)), w.ChatID},
		"webhooks", w.ID, w.Hash, "no such chat")
}

const webhookColumns = `id, chat_id, name, created_by, hash, created, revoked`

func scanWebhook(row interface{ Scan(...any) error }) (chatr.Webhook, error) {
	var (
		w       chatr.Webhook
		created int64
	)
	err := row.Scan(&w.ID, &w.ChatID, &w.Name, &w.CreatedBy, &w.Hash, &created, &w.Revoked)
	w.Created = unstamp(created)
	return w, err
}

// GetWebhook returns the webhook with that hash.
func (db *DB) GetWebhook(ctx context.Context, hash string) (chatr.Webhook, error) {
	w, err := scanWebhook(db.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Webhook{}, chatr.Errorf(chatr.ENOTFOUND, "no such webhook")
	} else if err != nil {
		return chatr.Webhook{}, fmt.Errorf("sqlite: get webhook: %w", err)
	}
	return w, nil
}

// ListWebhooks returns the chat's webhooks by creation time, then ID.
func (db *DB) ListWebhooks(ctx context.Context, chatID string) ([]chatr.Webhook, error) {
	rows, err := db.query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE chat_id = ? ORDER BY created, id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	defer rows.Close()
	var out []chatr.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	return out, nil
}

// RevokeWebhook marks the chat's webhook revoked.
func (db *DB) RevokeWebhook(ctx context.Context, chatID, id string) error {
	return db.revoke(ctx, "webhook", `UPDATE webhooks SET revoked = 1 WHERE id = ? AND chat_id = ?`, id, chatID)
}

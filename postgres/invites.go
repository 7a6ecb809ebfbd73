package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr"
)

// --- invites

const inviteColumns = `token_hash, chat_id, created_by, created, expires, max_uses, uses, revoked`

func scanInvite(row pgx.Row) (chatr.Invite, error) {
	var (
		inv     chatr.Invite
		expires *time.Time
	)
	err := row.Scan(&inv.TokenHash, &inv.ChatID, &inv.CreatedBy, &inv.Created, &expires, &inv.MaxUses, &inv.Uses, &inv.Revoked)
	if expires != nil {
		inv.Expires = *expires
	}
	utc(&inv.Created, &inv.Expires)
	return inv, err
}

// CreateInvite stores a new invite.
func (db *DB) CreateInvite(ctx context.Context, inv chatr.Invite) error {
	if inv.TokenHash == "" || inv.MaxUses < 0 {
		return chatr.Errorf(chatr.EINVALID, "an invite needs a token hash and MaxUses >= 0")
	}
	if err := chatr.CheckText(inv.TokenHash, inv.ChatID, inv.CreatedBy); err != nil {
		return err
	}
	var expires *time.Time
	if !inv.Expires.IsZero() {
		t := normal(inv.Expires)
		expires = &t
	}
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO invites (token_hash, chat_id, created_by, created, expires, max_uses)
		SELECT $1, id, $2, $3, $4, $5 FROM chats WHERE id = $6
		ON CONFLICT (token_hash) DO NOTHING`,
		inv.TokenHash, inv.CreatedBy, normal(orNow(inv.Created)), expires, inv.MaxUses, inv.ChatID)
	if err != nil {
		return fmt.Errorf("postgres: create invite: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if exists, err := db.chatExists(ctx, inv.ChatID); err != nil {
		return fmt.Errorf("postgres: create invite: %w", err)
	} else if !exists {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", inv.ChatID)
	}
	return chatr.Errorf(chatr.ECONFLICT, "invite exists")
}

// ListInvites returns the chat's invites by creation time then hash.
func (db *DB) ListInvites(ctx context.Context, chatID string) ([]chatr.Invite, error) {
	if !chatr.StorableText(chatID) {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	rows, _ := db.pool.Query(ctx, `SELECT `+inviteColumns+` FROM invites WHERE chat_id = $1 ORDER BY created, token_hash`, chatID)
	invites, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.Invite, error) { return scanInvite(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list invites: %w", err)
	}
	if len(invites) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("postgres: list invites: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
		invites = []chatr.Invite{}
	}
	return invites, nil
}

// GetInvite returns the invite, or ENOTFOUND.
func (db *DB) GetInvite(ctx context.Context, tokenHash string) (chatr.Invite, error) {
	if !chatr.StorableText(tokenHash) {
		return chatr.Invite{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	inv, err := scanInvite(db.pool.QueryRow(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token_hash = $1`, tokenHash))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.Invite{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	if err != nil {
		return chatr.Invite{}, fmt.Errorf("postgres: get invite: %w", err)
	}
	return inv, nil
}

// RevokeInvite revokes the invite.
func (db *DB) RevokeInvite(ctx context.Context, tokenHash string) error {
	if !chatr.StorableText(tokenHash) {
		return chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE invites SET revoked = true WHERE token_hash = $1`, tokenHash)
	if err != nil {
		return fmt.Errorf("postgres: revoke invite: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	return nil
}

// UseInvite checks the invite, counts the use and adds the member in one
// transaction that holds the invite's row: racing users take turns.
func (db *DB) UseInvite(ctx context.Context, tokenHash string, m chatr.Member, now time.Time) (chatr.Chat, error) {
	if m.UserID == "" {
		return chatr.Chat{}, chatr.Errorf(chatr.EINVALID, "member user id is empty")
	}
	if err := chatr.CheckText(m.UserID, m.UserName); err != nil {
		return chatr.Chat{}, err
	}
	if !chatr.StorableText(tokenHash) {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	var c chatr.Chat
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		inv, err := scanInvite(tx.QueryRow(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token_hash = $1 FOR UPDATE`, tokenHash))
		if errors.Is(err, pgx.ErrNoRows) {
			return chatr.Errorf(chatr.ENOTFOUND, "no such invite")
		}
		if err != nil {
			return err
		}
		if err := chatr.InviteUsable(inv, now); err != nil {
			return err
		}
		if c, err = scanChat(tx.QueryRow(ctx, `SELECT `+chatColumns+` FROM chats c WHERE c.id = $1`, inv.ChatID)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO members (chat_id, user_id, user_name, joined, role)
			SELECT id, $2, $3, $4, `+roleOf("$2", "''")+` FROM chats WHERE id = $1
			ON CONFLICT (chat_id, user_id) DO NOTHING`,
			inv.ChatID, m.UserID, m.UserName, normal(orNow(m.Joined)))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE invites SET uses = uses + 1 WHERE token_hash = $1`, tokenHash)
		return err
	})
	if err != nil {
		return chatr.Chat{}, wrap("use invite", err)
	}
	return c, nil
}

// --- moderation log

// AddModEvent appends to the moderation log.
func (db *DB) AddModEvent(ctx context.Context, e chatr.ModEvent) (chatr.ModEvent, error) {
	if e.Actor == "" || e.Action == "" {
		return chatr.ModEvent{}, chatr.Errorf(chatr.EINVALID, "a moderation event needs an actor and an action")
	}
	if err := chatr.CheckText(e.Actor, e.Action, e.TargetUser, e.ChatID, e.Detail); err != nil {
		return chatr.ModEvent{}, err
	}
	e.At = normal(orNow(e.At))
	err := db.pool.QueryRow(ctx, `
		INSERT INTO mod_events (actor, action, target_user, chat_id, message_id, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id`, e.Actor, e.Action, e.TargetUser, e.ChatID, e.MessageID, e.Detail, e.At).Scan(&e.ID)
	if err != nil {
		return chatr.ModEvent{}, fmt.Errorf("postgres: add mod event: %w", err)
	}
	return e, nil
}

// ListModEvents returns a page of the log, newest first.
func (db *DB) ListModEvents(ctx context.Context, q chatr.ModEventQuery) ([]chatr.ModEvent, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT id, actor, action, target_user, chat_id, message_id, detail, at FROM mod_events
		WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, min(limit, 1000))
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.ModEvent, error) {
		var e chatr.ModEvent
		err := row.Scan(&e.ID, &e.Actor, &e.Action, &e.TargetUser, &e.ChatID, &e.MessageID, &e.Detail, &e.At)
		utc(&e.At)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list mod events: %w", err)
	}
	if events == nil {
		events = []chatr.ModEvent{}
	}
	return events, nil
}

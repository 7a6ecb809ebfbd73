package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chatr/chatr"
)

// --- invites

const inviteColumns = `token_hash, chat_id, created_by, created, expires, max_uses, uses, revoked`

func scanInvite(row interface{ Scan(...any) error }) (chatr.Invite, error) {
	var (
		inv              chatr.Invite
		created, expires int64
		revoked          int
	)
	err := row.Scan(&inv.TokenHash, &inv.ChatID, &inv.CreatedBy, &created, &expires, &inv.MaxUses, &inv.Uses, &revoked)
	inv.Created, inv.Revoked = unstamp(created), revoked != 0
	if expires != 0 {
		inv.Expires = unstamp(expires)
	}
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
	var expires int64
	if !inv.Expires.IsZero() {
		expires = stamp(inv.Expires)
	}
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO invites (token_hash, chat_id, created_by, created, expires, max_uses)
		SELECT ?, id, ?, ?, ?, ? FROM chats WHERE id = ?
		ON CONFLICT (token_hash) DO NOTHING`,
		inv.TokenHash, inv.CreatedBy, stamp(orNow(inv.Created)), expires, inv.MaxUses, inv.ChatID)
	if err != nil {
		return fmt.Errorf("sqlite: create invite: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create invite: %w", err)
	} else if n == 1 {
		return nil
	}
	if exists, err := db.chatExists(ctx, inv.ChatID); err != nil {
		return fmt.Errorf("sqlite: create invite: %w", err)
	} else if !exists {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", inv.ChatID)
	}
	return chatr.Errorf(chatr.ECONFLICT, "invite exists")
}

// ListInvites returns the chat's invites by creation time then hash.
func (db *DB) ListInvites(ctx context.Context, chatID string) ([]chatr.Invite, error) {
	rows, err := db.query(ctx, `SELECT `+inviteColumns+` FROM invites WHERE chat_id = ? ORDER BY created, token_hash`, chatID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list invites: %w", err)
	}
	defer rows.Close()
	invites := []chatr.Invite{}
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list invites: %w", err)
		}
		invites = append(invites, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list invites: %w", err)
	}
	if len(invites) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("sqlite: list invites: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
	}
	return invites, nil
}

// GetInvite returns the invite, or ENOTFOUND.
func (db *DB) GetInvite(ctx context.Context, tokenHash string) (chatr.Invite, error) {
	inv, err := scanInvite(db.queryRow(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Invite{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	if err != nil {
		return chatr.Invite{}, fmt.Errorf("sqlite: get invite: %w", err)
	}
	return inv, nil
}

// RevokeInvite revokes the invite.
func (db *DB) RevokeInvite(ctx context.Context, tokenHash string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE invites SET revoked = 1 WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return fmt.Errorf("sqlite: revoke invite: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: revoke invite: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	return nil
}

// UseInvite checks the invite, counts the use and adds the member in one
// transaction; the file has one writer, so racing users take turns.
func (db *DB) UseInvite(ctx context.Context, tokenHash string, m chatr.Member, now time.Time) (chatr.Chat, error) {
	if m.UserID == "" {
		return chatr.Chat{}, chatr.Errorf(chatr.EINVALID, "member user id is empty")
	}
	if err := chatr.CheckText(m.UserID, m.UserName); err != nil {
		return chatr.Chat{}, err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: use invite: %w", err)
	}
	defer tx.Rollback()
	inv, err := scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: use invite: %w", err)
	}
	if err := chatr.InviteUsable(inv, now); err != nil {
		return chatr.Chat{}, err
	}
	c, err := scanChat(tx.QueryRowContext(ctx, `SELECT `+chatColumns+` FROM chats c WHERE c.id = ?`, inv.ChatID))
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: use invite: %w", err)
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO members (chat_id, user_id, user_name, joined, role)
		SELECT id, ?, ?, ?, `+roleOf+` FROM chats WHERE id = ?
		ON CONFLICT (chat_id, user_id) DO NOTHING`,
		m.UserID, m.UserName, stamp(orNow(m.Joined)), m.UserID, "", inv.ChatID)
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: use invite: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: use invite: %w", err)
	} else if n == 1 {
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET uses = uses + 1 WHERE token_hash = ?`, tokenHash); err != nil {
			return chatr.Chat{}, fmt.Errorf("sqlite: use invite: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: use invite: %w", err)
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
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO mod_events (actor, action, target_user, chat_id, message_id, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)
		RETURNING id`, e.Actor, e.Action, e.TargetUser, e.ChatID, e.MessageID, e.Detail, stamp(e.At)).Scan(&e.ID)
	if err != nil {
		return chatr.ModEvent{}, fmt.Errorf("sqlite: add mod event: %w", err)
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
	rows, err := db.query(ctx, `
		SELECT id, actor, action, target_user, chat_id, message_id, detail, at FROM mod_events
		WHERE id < ? ORDER BY id DESC LIMIT ?`, before, min(limit, 1000))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mod events: %w", err)
	}
	defer rows.Close()
	events := []chatr.ModEvent{}
	for rows.Next() {
		var (
			e  chatr.ModEvent
			at int64
		)
		if err := rows.Scan(&e.ID, &e.Actor, &e.Action, &e.TargetUser, &e.ChatID, &e.MessageID, &e.Detail, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list mod events: %w", err)
		}
		e.At = unstamp(at)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list mod events: %w", err)
	}
	return events, nil
}

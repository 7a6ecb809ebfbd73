package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chatr/chatr"
)

var _ chatr.Dumper = (*DB)(nil)

// dumpQueries read each kind in key order, with the columns scanDump reads.
var dumpQueries = map[string]string{
	chatr.KindUsers:       `SELECT ` + userColumns + `, name_chosen FROM users ORDER BY id`,
	chatr.KindSessions:    `SELECT token_hash, user_id, created, expires FROM sessions ORDER BY token_hash`,
	chatr.KindChats:       `SELECT ` + chatColumns + `, c.last_message_id FROM chats c ORDER BY c.id`,
	chatr.KindMembers:     `SELECT chat_id, user_id, user_name, joined, role FROM members ORDER BY chat_id, user_id`,
	chatr.KindMessages:    `SELECT ` + messageColumns + ` FROM messages ORDER BY chat_id, id`,
	chatr.KindReactions:   `SELECT chat_id, message_id, emoji, user_id FROM reactions ORDER BY seq`,
	chatr.KindReadMarkers: `SELECT user_id, chat_id, message_id FROM read_markers ORDER BY user_id, chat_id`,
	chatr.KindInvites:     `SELECT ` + inviteColumns + ` FROM invites ORDER BY token_hash`,
	chatr.KindModEvents:   `SELECT id, actor, action, target_user, chat_id, message_id, detail, at FROM mod_events ORDER BY id`,
	chatr.KindFiles:       `SELECT ` + fileColumns + `, position FROM files ORDER BY id`,
}

// Dump reads every row of kind in one query (one snapshot per kind).
func (db *DB) Dump(ctx context.Context, kind string, fn func(chatr.Row) error) error {
	query, ok := dumpQueries[kind]
	if !ok {
		return chatr.Errorf(chatr.EINVALID, "unknown dump kind %q", kind)
	}
	rows, err := db.pool.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("postgres: dump %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scanDump(kind, rows)
		if err != nil {
			return fmt.Errorf("postgres: dump %s: %w", kind, err)
		}
		if err := fn(chatr.Row{Kind: kind, Value: v}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: dump %s: %w", kind, err)
	}
	return nil
}

func scanDump(kind string, rows pgx.Rows) (any, error) {
	switch kind {
	case chatr.KindUsers:
		var (
			r                 chatr.UserRow
			revoked, bannedAt *time.Time
		)
		u := &r.User
		err := rows.Scan(&u.ID, &u.Name, &u.Provider, &u.Idle, &u.LastSeen, &u.Created, &revoked, &u.Handle, &u.Banned, &u.BannedBy, &bannedAt, &r.NameChosen)
		u.TokensRevoked, u.BannedAt = deref(revoked), deref(bannedAt)
		utc(&u.LastSeen, &u.Created, &u.TokensRevoked, &u.BannedAt)
		return r, err
	case chatr.KindSessions:
		var s chatr.Session
		err := rows.Scan(&s.TokenHash, &s.UserID, &s.Created, &s.Expires)
		utc(&s.Created, &s.Expires)
		return s, err
	case chatr.KindChats:
		var r chatr.ChatRow
		c := &r.Chat
		err := rows.Scan(&c.ID, &c.Name, &c.Owner, &c.Private, &c.Created, &c.Topic, &c.Visibility, &c.InvitePolicy, &r.LastMessageID)
		utc(&c.Created)
		return r, err
	case chatr.KindMembers:
		var m chatr.MemberRow
		err := rows.Scan(&m.ChatID, &m.UserID, &m.UserName, &m.Joined, &m.Role)
		utc(&m.Joined)
		return m, err
	case chatr.KindMessages:
		return scanMessage(rows)
	case chatr.KindReactions:
		var r chatr.ReactionDump
		err := rows.Scan(&r.ChatID, &r.MessageID, &r.Emoji, &r.UserID)
		return r, err
	case chatr.KindReadMarkers:
		var r chatr.ReadMarker
		err := rows.Scan(&r.UserID, &r.ChatID, &r.MessageID)
		return r, err
	case chatr.KindInvites:
		return scanInvite(rows)
	case chatr.KindModEvents:
		var e chatr.ModEvent
		err := rows.Scan(&e.ID, &e.Actor, &e.Action, &e.TargetUser, &e.ChatID, &e.MessageID, &e.Detail, &e.At)
		utc(&e.At)
		return e, err
	case chatr.KindFiles:
		var f chatr.FileRow
		err := rows.Scan(&f.ID, &f.ChatID, &f.UserID, &f.Name, &f.Size, &f.Type, &f.Key, &f.ThumbKey, &f.Width, &f.Height, &f.Created, &f.MessageID, &f.Position)
		utc(&f.Created)
		return f, err
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// orNull is a nullable column's value: NULL for a zero time.
func orNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Load writes rows in one transaction.
func (db *DB) Load(ctx context.Context, rows []chatr.Row) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: load: %w", err)
	}
	defer tx.Rollback(ctx)
	modEvents := false
	for _, r := range rows {
		if err := loadRow(ctx, tx, r); err != nil {
			return err
		}
		_, ok := r.Value.(chatr.ModEvent)
		modEvents = modEvents || ok
	}
	if modEvents {
		// Ids were given, not drawn: the sequence must go on after them.
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('mod_events', 'id'), GREATEST((SELECT max(id) FROM mod_events), 1))`); err != nil {
			return fmt.Errorf("postgres: load mod events: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: load: %w", err)
	}
	return nil
}

func loadRow(ctx context.Context, tx pgx.Tx, r chatr.Row) error {
	var (
		query string
		args  []any
	)
	switch v := r.Value.(type) {
	case chatr.UserRow:
		u := v.User
		var handle *string
		if u.Handle != "" {
			handle = &u.Handle
		}
		query = `INSERT INTO users (id, name, provider, idle, last_seen, created, tokens_revoked, handle, name_fold, name_chosen, banned, banned_by, banned_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, provider = excluded.provider, idle = excluded.idle,
				last_seen = excluded.last_seen, created = excluded.created, tokens_revoked = excluded.tokens_revoked,
				handle = excluded.handle, name_fold = excluded.name_fold, name_chosen = excluded.name_chosen,
				banned = excluded.banned, banned_by = excluded.banned_by, banned_at = excluded.banned_at`
		args = []any{u.ID, u.Name, u.Provider, u.Idle, u.LastSeen, u.Created, orNull(u.TokensRevoked),
			handle, chatr.SearchKey(u.Name), v.NameChosen, u.Banned, u.BannedBy, orNull(u.BannedAt)}
	case chatr.Session:
		query = `INSERT INTO sessions (token_hash, user_id, created, expires) VALUES ($1, $2, $3, $4)
			ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, created = excluded.created, expires = excluded.expires`
		args = []any{v.TokenHash, v.UserID, v.Created, v.Expires}
	case chatr.ChatRow:
		c := v.Chat
		// A database from before names were unique may hold two public
		// chats with one name: the first loaded keeps the name's key.
		query = `INSERT INTO chats (id, name, owner, private, created, topic, visibility, invite_policy, name_key, last_message_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN EXISTS (SELECT 1 FROM chats WHERE name_key = $9::text AND id <> $1) THEN NULL ELSE $9::text END, $10)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner, private = excluded.private,
				created = excluded.created, topic = excluded.topic, visibility = excluded.visibility,
				invite_policy = excluded.invite_policy, name_key = excluded.name_key,
				last_message_id = GREATEST(chats.last_message_id, excluded.last_message_id)`
		args = []any{c.ID, c.Name, c.Owner, c.Private, c.Created, c.Topic, c.Visibility, c.InvitePolicy, nameKey(c), v.LastMessageID}
	case chatr.MemberRow:
		query = `INSERT INTO members (chat_id, user_id, user_name, joined, role) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (chat_id, user_id) DO UPDATE SET user_name = excluded.user_name, joined = excluded.joined, role = excluded.role`
		args = []any{v.ChatID, v.UserID, v.UserName, v.Joined, v.Role}
	case chatr.Message:
		if _, err := tx.Exec(ctx, `UPDATE chats SET last_message_id = GREATEST(last_message_id, $1) WHERE id = $2`, v.ID, v.ChatID); err != nil {
			return fmt.Errorf("postgres: load message: %w", err)
		}
		mentions, err := encodeMentions(v.Mentions)
		if err != nil {
			return err
		}
		var deleted *time.Time
		if v.Deleted {
			deleted = &v.DeletedAt
		}
		query = `INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time, client_id, reply_to, mentions, mention_all, edited, deleted)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (chat_id, id) DO UPDATE SET from_user_id = excluded.from_user_id, from_user_name = excluded.from_user_name,
				text = excluded.text, time = excluded.time, client_id = excluded.client_id, reply_to = excluded.reply_to,
				mentions = excluded.mentions, mention_all = excluded.mention_all, edited = excluded.edited, deleted = excluded.deleted`
		args = []any{v.ChatID, v.ID, v.FromUserID, v.FromUserName, v.Text, v.Time, v.ClientID, v.ReplyTo, mentions, v.Mentions.All, orNull(v.Edited), deleted}
	case chatr.ReactionDump:
		query = `INSERT INTO reactions (chat_id, message_id, emoji, user_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
		args = []any{v.ChatID, v.MessageID, v.Emoji, v.UserID}
	case chatr.ReadMarker:
		query = `INSERT INTO read_markers (user_id, chat_id, message_id) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, chat_id) DO UPDATE SET message_id = excluded.message_id`
		args = []any{v.UserID, v.ChatID, v.MessageID}
	case chatr.Invite:
		query = `INSERT INTO invites (token_hash, chat_id, created_by, created, expires, max_uses, uses, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (token_hash) DO UPDATE SET chat_id = excluded.chat_id, created_by = excluded.created_by, created = excluded.created,
				expires = excluded.expires, max_uses = excluded.max_uses, uses = excluded.uses, revoked = excluded.revoked`
		args = []any{v.TokenHash, v.ChatID, v.CreatedBy, v.Created, orNull(v.Expires), v.MaxUses, v.Uses, v.Revoked}
	case chatr.ModEvent:
		query = `INSERT INTO mod_events (id, actor, action, target_user, chat_id, message_id, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET actor = excluded.actor, action = excluded.action, target_user = excluded.target_user,
				chat_id = excluded.chat_id, message_id = excluded.message_id, detail = excluded.detail, at = excluded.at`
		args = []any{v.ID, v.Actor, v.Action, v.TargetUser, v.ChatID, v.MessageID, v.Detail, v.At}
	case chatr.FileRow:
		query = `INSERT INTO files (id, chat_id, user_id, name, size, type, blob_key, thumb_key, width, height, created, message_id, position)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET chat_id = excluded.chat_id, user_id = excluded.user_id, name = excluded.name, size = excluded.size,
				type = excluded.type, blob_key = excluded.blob_key, thumb_key = excluded.thumb_key, width = excluded.width,
				height = excluded.height, created = excluded.created, message_id = excluded.message_id, position = excluded.position`
		args = []any{v.ID, v.ChatID, v.UserID, v.Name, v.Size, v.Type, v.Key, v.ThumbKey, v.Width, v.Height, v.Created, v.MessageID, v.Position}
	default:
		return chatr.Errorf(chatr.EINVALID, "cannot load a %s row (%T)", r.Kind, r.Value)
	}
	if _, err := tx.Exec(ctx, query, args...); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" {
			return chatr.Errorf(chatr.EINVALID, "load %s: its chat is missing", r.Kind)
		}
		return fmt.Errorf("postgres: load %s: %w", r.Kind, err)
	}
	if m, ok := r.Value.(chatr.Message); ok {
		return loadMentions(ctx, tx, m)
	}
	return nil
}

// loadMentions replaces the mention rows (for the counts) of a loaded
// message.
func loadMentions(ctx context.Context, tx pgx.Tx, m chatr.Message) error {
	if _, err := tx.Exec(ctx, `DELETE FROM mentions WHERE chat_id = $1 AND message_id = $2`, m.ChatID, m.ID); err != nil {
		return fmt.Errorf("postgres: load mentions: %w", err)
	}
	if len(m.Mentions.Users) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mentions (user_id, chat_id, message_id) SELECT u, $2, $3 FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING`,
		m.Mentions.Users, m.ChatID, m.ID); err != nil {
		return fmt.Errorf("postgres: load mentions: %w", err)
	}
	return nil
}

var _ chatr.UserDeleter = (*DB)(nil)

// DeleteUser removes the account in one transaction.
func (db *DB) DeleteUser(ctx context.Context, userID string, keepMessages bool) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: delete user: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, userID)
	if err != nil {
		return fmt.Errorf("postgres: delete user: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	batch := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM sessions WHERE user_id = $1`, []any{userID}},
		{`DELETE FROM members WHERE user_id = $1`, []any{userID}},
		{`DELETE FROM read_markers WHERE user_id = $1`, []any{userID}},
		{`DELETE FROM messages WHERE from_user_id = $1`, []any{userID}},
	}
	if keepMessages {
		batch[3].q = `UPDATE messages SET from_user_id = $2, from_user_name = $3, client_id = '' WHERE from_user_id = $1`
		batch[3].args = []any{userID, chatr.DeletedUserID, chatr.DeletedUserName}
	}
	for _, b := range batch {
		if _, err := tx.Exec(ctx, b.q, b.args...); err != nil {
			return fmt.Errorf("postgres: delete user: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: delete user: %w", err)
	}
	return nil
}

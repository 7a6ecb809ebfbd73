package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

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

// Dump reads every row of kind from the read connections, so it runs beside
// a serving store on one consistent snapshot per kind (WAL).
func (db *DB) Dump(ctx context.Context, kind string, fn func(chatr.Row) error) error {
	query, ok := dumpQueries[kind]
	if !ok {
		return chatr.Errorf(chatr.EINVALID, "unknown dump kind %q", kind)
	}
	rows, err := db.read.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("sqlite: dump %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scanDump(kind, rows)
		if err != nil {
			return fmt.Errorf("sqlite: dump %s: %w", kind, err)
		}
		if err := fn(chatr.Row{Kind: kind, Value: v}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: dump %s: %w", kind, err)
	}
	return nil
}

func scanDump(kind string, rows *sql.Rows) (any, error) {
	switch kind {
	case chatr.KindUsers:
		var (
			u      chatr.User
			idle   int
			banned int
			chosen int
			ls, cr int64
			rv, ba int64
		)
		err := rows.Scan(&u.ID, &u.Name, &u.Provider, &idle, &ls, &cr, &rv, &u.Handle, &banned, &u.BannedBy, &ba, &chosen)
		u.Idle, u.LastSeen, u.Created, u.Banned = idle != 0, unstamp(ls), unstamp(cr), banned != 0
		if rv != 0 {
			u.TokensRevoked = unstamp(rv)
		}
		if ba != 0 {
			u.BannedAt = unstamp(ba)
		}
		return chatr.UserRow{User: u, NameChosen: chosen != 0}, err
	case chatr.KindSessions:
		var (
			s      chatr.Session
			cr, ex int64
		)
		err := rows.Scan(&s.TokenHash, &s.UserID, &cr, &ex)
		s.Created, s.Expires = unstamp(cr), unstamp(ex)
		return s, err
	case chatr.KindChats:
		var (
			c       chatr.Chat
			private int
			created int64
			last    int64
		)
		err := rows.Scan(&c.ID, &c.Name, &c.Owner, &private, &created, &c.Topic, &c.Visibility, &c.InvitePolicy, &last)
		c.Private, c.Created = private != 0, unstamp(created)
		return chatr.ChatRow{Chat: c, LastMessageID: last}, err
	case chatr.KindMembers:
		var (
			m      chatr.MemberRow
			joined int64
		)
		err := rows.Scan(&m.ChatID, &m.UserID, &m.UserName, &joined, &m.Role)
		m.Joined = unstamp(joined)
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
		var (
			e  chatr.ModEvent
			at int64
		)
		err := rows.Scan(&e.ID, &e.Actor, &e.Action, &e.TargetUser, &e.ChatID, &e.MessageID, &e.Detail, &at)
		e.At = unstamp(at)
		return e, err
	case chatr.KindFiles:
		var (
			f       chatr.FileRow
			created int64
		)
		err := rows.Scan(&f.ID, &f.ChatID, &f.UserID, &f.Name, &f.Size, &f.Type, &f.Key, &f.ThumbKey, &f.Width, &f.Height, &created, &f.MessageID, &f.Position)
		f.Created = unstamp(created)
		return f, err
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// Load writes rows in one transaction of the writer.
func (db *DB) Load(ctx context.Context, rows []chatr.Row) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: load: %w", err)
	}
	defer tx.Rollback()
	for _, r := range rows {
		if err := loadRow(ctx, tx, r); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: load: %w", err)
	}
	db.indexer.stored() // loaded messages are indexed like sent ones
	return nil
}

func loadRow(ctx context.Context, tx *sql.Tx, r chatr.Row) error {
	var (
		query string
		args  []any
	)
	switch v := r.Value.(type) {
	case chatr.UserRow:
		u := v.User
		var handle any
		if u.Handle != "" {
			handle = u.Handle
		}
		query = `INSERT INTO users (id, name, provider, idle, last_seen, created, tokens_revoked, handle, name_fold, name_chosen, banned, banned_by, banned_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, provider = excluded.provider, idle = excluded.idle,
				last_seen = excluded.last_seen, created = excluded.created, tokens_revoked = excluded.tokens_revoked,
				handle = excluded.handle, name_fold = excluded.name_fold, name_chosen = excluded.name_chosen,
				banned = excluded.banned, banned_by = excluded.banned_by, banned_at = excluded.banned_at`
		args = []any{u.ID, u.Name, u.Provider, boolInt(u.Idle), stamp(u.LastSeen), stamp(u.Created), stampOrZero(u.TokensRevoked),
			handle, chatr.SearchKey(u.Name), boolInt(v.NameChosen), boolInt(u.Banned), u.BannedBy, stampOrZero(u.BannedAt)}
	case chatr.Session:
		query = `INSERT INTO sessions (token_hash, user_id, created, expires) VALUES (?, ?, ?, ?)
			ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, created = excluded.created, expires = excluded.expires`
		args = []any{v.TokenHash, v.UserID, stamp(v.Created), stamp(v.Expires)}
	case chatr.ChatRow:
		c := v.Chat
		// A database from before names were unique may hold two public
		// chats with one name: the first loaded keeps the name's key.
		key := nameKey(c)
		query = `INSERT INTO chats (id, name, owner, private, created, topic, visibility, invite_policy, name_key, last_message_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN EXISTS (SELECT 1 FROM chats WHERE name_key = ? AND id <> ?) THEN NULL ELSE ? END, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner, private = excluded.private,
				created = excluded.created, topic = excluded.topic, visibility = excluded.visibility,
				invite_policy = excluded.invite_policy, name_key = excluded.name_key,
				last_message_id = max(last_message_id, excluded.last_message_id)`
		args = []any{c.ID, c.Name, c.Owner, boolInt(c.Private), stamp(c.Created), c.Topic, c.Visibility, c.InvitePolicy, key, c.ID, key, v.LastMessageID}
	case chatr.MemberRow:
		query = `INSERT INTO members (chat_id, user_id, user_name, joined, role) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (chat_id, user_id) DO UPDATE SET user_name = excluded.user_name, joined = excluded.joined, role = excluded.role`
		args = []any{v.ChatID, v.UserID, v.UserName, stamp(v.Joined), v.Role}
	case chatr.Message:
		if _, err := tx.ExecContext(ctx, `UPDATE chats SET last_message_id = max(last_message_id, ?) WHERE id = ?`, v.ID, v.ChatID); err != nil {
			return fmt.Errorf("sqlite: load message: %w", err)
		}
		return loadMessage(ctx, tx, v)
	case chatr.ReactionDump:
		query = `INSERT INTO reactions (chat_id, message_id, emoji, user_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
		args = []any{v.ChatID, v.MessageID, v.Emoji, v.UserID}
	case chatr.ReadMarker:
		query = `INSERT INTO read_markers (user_id, chat_id, message_id) VALUES (?, ?, ?)
			ON CONFLICT (user_id, chat_id) DO UPDATE SET message_id = excluded.message_id`
		args = []any{v.UserID, v.ChatID, v.MessageID}
	case chatr.Invite:
		query = `INSERT INTO invites (token_hash, chat_id, created_by, created, expires, max_uses, uses, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (token_hash) DO UPDATE SET chat_id = excluded.chat_id, created_by = excluded.created_by, created = excluded.created,
				expires = excluded.expires, max_uses = excluded.max_uses, uses = excluded.uses, revoked = excluded.revoked`
		args = []any{v.TokenHash, v.ChatID, v.CreatedBy, stamp(v.Created), stampOrZero(v.Expires), v.MaxUses, v.Uses, boolInt(v.Revoked)}
	case chatr.ModEvent:
		query = `INSERT INTO mod_events (id, actor, action, target_user, chat_id, message_id, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET actor = excluded.actor, action = excluded.action, target_user = excluded.target_user,
				chat_id = excluded.chat_id, message_id = excluded.message_id, detail = excluded.detail, at = excluded.at`
		args = []any{v.ID, v.Actor, v.Action, v.TargetUser, v.ChatID, v.MessageID, v.Detail, stamp(v.At)}
	case chatr.FileRow:
		query = `INSERT INTO files (id, chat_id, user_id, name, size, type, blob_key, thumb_key, width, height, created, message_id, position)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET chat_id = excluded.chat_id, user_id = excluded.user_id, name = excluded.name, size = excluded.size,
				type = excluded.type, blob_key = excluded.blob_key, thumb_key = excluded.thumb_key, width = excluded.width,
				height = excluded.height, created = excluded.created, message_id = excluded.message_id, position = excluded.position`
		args = []any{v.ID, v.ChatID, v.UserID, v.Name, v.Size, v.Type, v.Key, v.ThumbKey, v.Width, v.Height, stamp(v.Created), v.MessageID, v.Position}
	default:
		return chatr.Errorf(chatr.EINVALID, "cannot load a %s row (%T)", r.Kind, r.Value)
	}
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		if isForeignKey(err) {
			return chatr.Errorf(chatr.EINVALID, "load %s: its chat is missing", r.Kind)
		}
		return fmt.Errorf("sqlite: load %s: %w", r.Kind, err)
	}
	return nil
}

// loadMessage writes a message with its reply, mentions (and their rows,
// for the counts), edit and deletion times.
func loadMessage(ctx context.Context, tx *sql.Tx, m chatr.Message) error {
	mentions, err := encodeMentions(m.Mentions)
	if err != nil {
		return err
	}
	var deleted int64
	if m.Deleted {
		deleted = stamp(m.DeletedAt)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time, client_id, reply_to, mentions, mention_all, edited, deleted)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (chat_id, id) DO UPDATE SET from_user_id = excluded.from_user_id, from_user_name = excluded.from_user_name,
			text = excluded.text, time = excluded.time, client_id = excluded.client_id, reply_to = excluded.reply_to,
			mentions = excluded.mentions, mention_all = excluded.mention_all, edited = excluded.edited, deleted = excluded.deleted`,
		m.ChatID, m.ID, m.FromUserID, m.FromUserName, m.Text, stamp(m.Time), m.ClientID, m.ReplyTo, mentions, boolInt(m.Mentions.All), stampOrZero(m.Edited), deleted)
	if err != nil && isForeignKey(err) {
		return chatr.Errorf(chatr.EINVALID, "load messages: its chat is missing")
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM mentions WHERE chat_id = ? AND message_id = ?`, m.ChatID, m.ID)
	}
	if err == nil {
		err = insertMentions(ctx, tx, &m)
	}
	if err != nil {
		return fmt.Errorf("sqlite: load message: %w", err)
	}
	return nil
}

func stampOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return stamp(t)
}

func isForeignKey(err error) bool {
	return strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

var _ chatr.UserDeleter = (*DB)(nil)

// DeleteUser removes the account in one transaction of the writer.
func (db *DB) DeleteUser(ctx context.Context, userID string, keepMessages bool) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete user: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, userID)
	if err != nil {
		return fmt.Errorf("sqlite: delete user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	messages := `DELETE FROM messages WHERE from_user_id = ?1`
	if keepMessages {
		messages = `UPDATE messages SET from_user_id = ?2, from_user_name = ?3, client_id = '' WHERE from_user_id = ?1`
	}
	for _, q := range []string{`DELETE FROM sessions WHERE user_id = ?1`, `DELETE FROM members WHERE user_id = ?1`,
		`DELETE FROM read_markers WHERE user_id = ?1`, messages} {
		if _, err := tx.ExecContext(ctx, q, userID, chatr.DeletedUserID, chatr.DeletedUserName); err != nil {
			return fmt.Errorf("sqlite: delete user: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: delete user: %w", err)
	}
	return nil
}

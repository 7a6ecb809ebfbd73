package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// --- users

// UpsertUser creates the user or updates its name and provider.
func (db *DB) UpsertUser(ctx context.Context, u chatr.User) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if u.ID == "" {
		return chatr.Errorf(chatr.EINVALID, "user id is empty")
	}
	if err := chatr.CheckText(u.ID, u.Name, u.Provider); err != nil {
		return err
	}
	if err := db.upsertUser(ctx, u); err != nil {
		return fmt.Errorf("sqlite: upsert user: %w", err)
	}
	return nil
}

const userColumns = `id, name, provider, idle, last_seen, created, tokens_revoked, COALESCE(handle, ''), banned, banned_by, banned_at`

func scanUser(row interface{ Scan(...any) error }) (chatr.User, error) {
	var (
		u                                    chatr.User
		idle, banned                         int
		lastSeen, created, revoked, bannedAt int64
	)
	err := row.Scan(&u.ID, &u.Name, &u.Provider, &idle, &lastSeen, &created, &revoked, &u.Handle, &banned, &u.BannedBy, &bannedAt)
	u.Idle, u.LastSeen, u.Created = idle != 0, unstamp(lastSeen), unstamp(created)
	if revoked != 0 {
		u.TokensRevoked = unstamp(revoked)
	}
	if u.Banned = banned != 0; u.Banned {
		u.BannedAt = unstamp(bannedAt)
	}
	return u, err
}

// GetUser returns the user, or ENOTFOUND.
func (db *DB) GetUser(ctx context.Context, id string) (chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no user %q", id)
	}
	if err != nil {
		return chatr.User{}, fmt.Errorf("sqlite: get user: %w", err)
	}
	return u, nil
}

// ListUsers returns every user ordered by ID.
func (db *DB) ListUsers(ctx context.Context) ([]chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := db.query(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	users := []chatr.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return users, nil
}

// SetIdle records the user's idle flag and last-seen time.
func (db *DB) SetIdle(ctx context.Context, userID string, idle bool, at time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, `UPDATE users SET idle = ?, last_seen = ? WHERE id = ?`, boolInt(idle), stamp(at), userID)
	if err != nil {
		return fmt.Errorf("sqlite: set idle: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: set idle: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	return nil
}

// RevokeTokens moves the user's revocation moment forward to before.
func (db *DB) RevokeTokens(ctx context.Context, userID string, before time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, `UPDATE users SET tokens_revoked = MAX(tokens_revoked, ?) WHERE id = ?`, max(stamp(before), 0), userID)
	if err != nil {
		return fmt.Errorf("sqlite: revoke tokens: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: revoke tokens: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	return nil
}

// --- sessions

// CreateSession stores a new session, ECONFLICT if the hash exists.
func (db *DB) CreateSession(ctx context.Context, s chatr.Session) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if s.TokenHash == "" {
		return chatr.Errorf(chatr.EINVALID, "session token hash is empty")
	}
	if err := chatr.CheckText(s.TokenHash, s.UserID); err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO sessions (token_hash, user_id, created, expires) VALUES (?, ?, ?, ?)
		ON CONFLICT (token_hash) DO NOTHING`,
		s.TokenHash, s.UserID, stamp(orNow(s.Created)), stamp(s.Expires))
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ECONFLICT, "session exists")
	}
	return nil
}

// GetSession returns the session if it is live at now (now < Expires).
func (db *DB) GetSession(ctx context.Context, tokenHash string, now time.Time) (chatr.Session, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	var (
		s                chatr.Session
		created, expires int64
	)
	err := db.queryRow(ctx, `
		SELECT token_hash, user_id, created, expires FROM sessions WHERE token_hash = ? AND expires > ?`,
		tokenHash, stamp(now)).Scan(&s.TokenHash, &s.UserID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Session{}, chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	if err != nil {
		return chatr.Session{}, fmt.Errorf("sqlite: get session: %w", err)
	}
	s.Created, s.Expires = unstamp(created), unstamp(expires)
	return s, nil
}

// ExtendSession moves the session's expiry.
func (db *DB) ExtendSession(ctx context.Context, tokenHash string, expires time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, `UPDATE sessions SET expires = ? WHERE token_hash = ?`, stamp(expires), tokenHash)
	if err != nil {
		return fmt.Errorf("sqlite: extend session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: extend session: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	return nil
}

// DeleteSession removes the session if it exists.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if _, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of the user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if _, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: delete user sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions expired at now (Expires <= now).
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, stamp(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sessions: %w", err)
	}
	return int(n), nil
}

// --- chats

// CreateChat stores a new chat; it never overwrites one.
func (db *DB) CreateChat(ctx context.Context, c chatr.Chat) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if c.ID == "" || c.Name == "" {
		return chatr.Errorf(chatr.EINVALID, "chat id and name must not be empty")
	}
	if err := chatr.CheckText(c.ID, c.Name, c.Owner, c.Topic); err != nil {
		return err
	}
	if err := chatr.CheckChatSettings(&c); err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO chats (id, name, owner, private, created, topic, visibility, invite_policy, name_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		c.ID, c.Name, c.Owner, boolInt(c.Private), stamp(orNow(c.Created)), c.Topic, c.Visibility, c.InvitePolicy, nameKey(c))
	if isUnique(err, "chats.name_key") {
		return chatr.ErrChatNameTaken
	}
	if err != nil {
		return fmt.Errorf("sqlite: create chat: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create chat: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ECONFLICT, "chat %q exists", c.ID)
	}
	return nil
}

const chatColumns = `c.id, c.name, c.owner, c.private, c.created, c.topic, c.visibility, c.invite_policy`

// scanChat reads chatColumns and, when lastMessageAt is set, one column
// more: the time of the chat's newest message (0 for none).
func scanChat(row interface{ Scan(...any) error }, lastMessageAt ...bool) (chatr.Chat, error) {
	var (
		c             chatr.Chat
		private       int
		created, last int64
	)
	dest := []any{&c.ID, &c.Name, &c.Owner, &private, &created, &c.Topic, &c.Visibility, &c.InvitePolicy}
	if len(lastMessageAt) > 0 {
		dest = append(dest, &last)
	}
	err := row.Scan(dest...)
	c.Private, c.Created = private != 0, unstamp(created)
	if last != 0 {
		c.LastMessageAt = unstamp(last)
	}
	return c, err
}

// GetChat returns the chat, or ENOTFOUND.
func (db *DB) GetChat(ctx context.Context, id string) (chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	c, err := scanChat(db.queryRow(ctx, `SELECT `+chatColumns+` FROM chats c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: get chat: %w", err)
	}
	return c, nil
}

func (db *DB) listChats(ctx context.Context, lastMessageAt bool, query string, args ...any) ([]chatr.Chat, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	chats := []chatr.Chat{}
	for rows.Next() {
		var c chatr.Chat
		if lastMessageAt {
			c, err = scanChat(rows, true)
		} else {
			c, err = scanChat(rows)
		}
		if err != nil {
			return nil, err
		}
		chats = append(chats, c)
	}
	return chats, rows.Err()
}

// ListGroupChats returns the non-private chats by creation time then ID.
func (db *DB) ListGroupChats(ctx context.Context) ([]chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	chats, err := db.listChats(ctx, false, `SELECT `+chatColumns+` FROM chats c WHERE c.private = 0 AND c.visibility = 'public' ORDER BY c.created, c.id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list group chats: %w", err)
	}
	return chats, nil
}

// ListUserChats returns the user's chats by creation time then ID.
func (db *DB) ListUserChats(ctx context.Context, userID string) ([]chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	chats, err := db.listChats(ctx, true, `
		SELECT `+chatColumns+`, COALESCE((SELECT time FROM messages WHERE chat_id = c.id AND id = c.last_message_id), 0)
		FROM chats c JOIN members m ON m.chat_id = c.id
		WHERE m.user_id = ? ORDER BY c.created, c.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list user chats: %w", err)
	}
	return chats, nil
}

// DeleteChat removes the chat; foreign keys cascade to its members,
// messages and read markers.
func (db *DB) DeleteChat(ctx context.Context, id string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, `DELETE FROM chats WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete chat: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete chat: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	return nil
}

// chatExists tells a missing chat from a no-op write.
func (db *DB) chatExists(ctx context.Context, id string) (bool, error) {
	var one int
	err := db.queryRow(ctx, `SELECT 1 FROM chats WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// --- members

// AddMember adds the membership unless it exists.
func (db *DB) AddMember(ctx context.Context, chatID string, m chatr.Member) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if m.UserID == "" {
		return chatr.Errorf(chatr.EINVALID, "member user id is empty")
	}
	if err := chatr.CheckText(chatID, m.UserID, m.UserName); err != nil {
		return err
	}
	if m.Role != "" && !chatr.ValidRole(m.Role) {
		return chatr.Errorf(chatr.EINVALID, "unknown role %q", m.Role)
	}
	_, err := db.members.Submit(ctx, memberAdd{chatID: chatID, m: m})
	if errors.Is(err, groupcommit.ErrFull) {
		return chatr.Errorf(chatr.ELIMIT, "too many joins waiting to be stored, try again")
	}
	return err
}

// notFoundIfNoChat returns ENOTFOUND when a write that changed no row did
// so because the chat does not exist.
func (db *DB) notFoundIfNoChat(ctx context.Context, res sql.Result, chatID, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n > 0 {
		return nil
	}
	exists, err := db.chatExists(ctx, chatID)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if !exists {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	return nil
}

// RemoveMember removes the membership if it exists.
func (db *DB) RemoveMember(ctx context.Context, chatID, userID string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if _, err := db.write.ExecContext(ctx, `DELETE FROM members WHERE chat_id = ? AND user_id = ?`, chatID, userID); err != nil {
		return fmt.Errorf("sqlite: remove member: %w", err)
	}
	return nil
}

// ListMembers returns the members by join time then user ID.
func (db *DB) ListMembers(ctx context.Context, chatID string) ([]chatr.Member, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := db.query(ctx, `
		SELECT user_id, user_name, joined, role FROM members WHERE chat_id = ? ORDER BY joined, user_id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list members: %w", err)
	}
	defer rows.Close()
	members := []chatr.Member{}
	for rows.Next() {
		var (
			m      chatr.Member
			joined int64
		)
		if err := rows.Scan(&m.UserID, &m.UserName, &joined, &m.Role); err != nil {
			return nil, fmt.Errorf("sqlite: list members: %w", err)
		}
		m.Joined = unstamp(joined)
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list members: %w", err)
	}
	if len(members) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("sqlite: list members: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
	}
	return members, nil
}

// IsMember reports whether the user is a member of the chat.
func (db *DB) IsMember(ctx context.Context, chatID, userID string) (bool, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	var one int
	err := db.queryRow(ctx, `SELECT 1 FROM members WHERE chat_id = ? AND user_id = ?`, chatID, userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: is member: %w", err)
	}
	return true, nil
}

// --- history and read markers

// ListMessages returns a page of the chat's history in ascending ID order.
// A missing chat is ENOTFOUND.
func (db *DB) ListMessages(ctx context.Context, chatID string, q chatr.MessageQuery) ([]chatr.Message, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if q.Around > 0 {
		return chatr.ListAround(q, func(q chatr.MessageQuery) ([]chatr.Message, error) { return db.ListMessages(ctx, chatID, q) })
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	// With only After set the page starts at After; otherwise it ends at Before.
	newest := q.Before > 0 || q.After <= 0
	order := "ASC"
	if newest {
		order = "DESC"
	}
	rows, err := db.query(ctx, `
		SELECT `+messageColumns+` FROM messages
		WHERE chat_id = ? AND id > ? AND id < ? ORDER BY id `+order+` LIMIT ?`,
		chatID, max(q.After, 0), before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list messages: %w", err)
	}
	defer rows.Close()
	msgs := []chatr.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list messages: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list messages: %w", err)
	}
	if newest {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	if len(msgs) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("sqlite: list messages: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
	}
	if err := addReactions(ctx, db.read, chatID, msgs); err != nil {
		return nil, fmt.Errorf("sqlite: list messages: %w", err)
	}
	return msgs, nil
}

// MarkRead moves the user's read marker of the chat forward to messageID.
// A missing chat is ENOTFOUND.
func (db *DB) MarkRead(ctx context.Context, userID, chatID string, messageID int64) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := db.write.ExecContext(ctx, `
		INSERT INTO read_markers (user_id, chat_id, message_id)
		SELECT ?, id, ? FROM chats WHERE id = ?
		ON CONFLICT (user_id, chat_id) DO UPDATE SET message_id = excluded.message_id
		WHERE excluded.message_id > read_markers.message_id`,
		userID, messageID, chatID)
	if err != nil {
		return fmt.Errorf("sqlite: mark read: %w", err)
	}
	return db.notFoundIfNoChat(ctx, res, chatID, "mark read")
}

// UnreadCounts counts, per chat of the user, the messages of others above
// the user's read marker. Chats with none are left out.
func (db *DB) UnreadCounts(ctx context.Context, userID string) (map[string]int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, err := db.query(ctx, `
		SELECT mb.chat_id, COUNT(*) FROM members mb
		JOIN messages m ON m.chat_id = mb.chat_id
		LEFT JOIN read_markers r ON r.user_id = mb.user_id AND r.chat_id = mb.chat_id
		WHERE mb.user_id = ? AND m.id > COALESCE(r.message_id, 0) AND m.from_user_id <> mb.user_id AND m.deleted = 0
		GROUP BY mb.chat_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unread counts: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var (
			chatID string
			n      int
		)
		if err := rows.Scan(&chatID, &n); err != nil {
			return nil, fmt.Errorf("sqlite: unread counts: %w", err)
		}
		counts[chatID] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: unread counts: %w", err)
	}
	return counts, nil
}

// lookupIDs returns ids as a JSON array for json_each (one statement text
// whatever their number, so the prepared-statement cache stays bounded),
// without ids no row could have; EINVALID past MaxLookupIDs.
func lookupIDs(op string, ids []string) (string, error) {
	if len(ids) > chatr.MaxLookupIDs {
		return "", chatr.Errorf(chatr.EINVALID, "%s takes at most %d ids", op, chatr.MaxLookupIDs)
	}
	keep := make([]string, 0, len(ids))
	for _, id := range ids {
		if chatr.StorableText(id) {
			keep = append(keep, id)
		}
	}
	b, err := json.Marshal(keep)
	return string(b), err
}

// GetUsers returns the users of ids that exist.
func (db *DB) GetUsers(ctx context.Context, ids []string) ([]chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	list, err := lookupIDs("GetUsers", ids)
	if err != nil {
		return nil, err
	}
	users := []chatr.User{}
	if len(ids) == 0 {
		return users, nil
	}
	rows, err := db.query(ctx, `SELECT `+userColumns+` FROM users WHERE id IN (SELECT value FROM json_each(?))`, list)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: get users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get users: %w", err)
	}
	return users, nil
}

// ListMembersOf returns the members of each of chatIDs.
func (db *DB) ListMembersOf(ctx context.Context, chatIDs []string) (map[string][]chatr.Member, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	list, err := lookupIDs("ListMembersOf", chatIDs)
	if err != nil {
		return nil, err
	}
	out := map[string][]chatr.Member{}
	if len(chatIDs) == 0 {
		return out, nil
	}
	rows, err := db.query(ctx, `
		SELECT chat_id, user_id, user_name, joined, role FROM members
		WHERE chat_id IN (SELECT value FROM json_each(?)) ORDER BY chat_id, joined, user_id`, list)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list members of chats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			chatID string
			m      chatr.Member
			joined int64
		)
		if err := rows.Scan(&chatID, &m.UserID, &m.UserName, &joined, &m.Role); err != nil {
			return nil, fmt.Errorf("sqlite: list members of chats: %w", err)
		}
		m.Joined = unstamp(joined)
		out[chatID] = append(out[chatID], m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list members of chats: %w", err)
	}
	return out, nil
}

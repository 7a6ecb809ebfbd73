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

// Lookups by a key that PostgreSQL could not store (NUL, invalid UTF-8)
// answer as for any other missing key instead of failing on the server.

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
		return fmt.Errorf("postgres: upsert user: %w", err)
	}
	return nil
}

const userColumns = `id, name, provider, idle, last_seen, created, tokens_revoked, COALESCE(handle, ''), banned, banned_by, banned_at`

func scanUser(row pgx.Row) (chatr.User, error) {
	var (
		u                 chatr.User
		revoked, bannedAt *time.Time
	)
	err := row.Scan(&u.ID, &u.Name, &u.Provider, &u.Idle, &u.LastSeen, &u.Created, &revoked, &u.Handle, &u.Banned, &u.BannedBy, &bannedAt)
	if revoked != nil {
		u.TokensRevoked = *revoked
	}
	if bannedAt != nil {
		u.BannedAt = *bannedAt
	}
	utc(&u.LastSeen, &u.Created, &u.TokensRevoked, &u.BannedAt)
	return u, err
}

// GetUser returns the user, or ENOTFOUND.
func (db *DB) GetUser(ctx context.Context, id string) (chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(id) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no user %q", id)
	}
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no user %q", id)
	}
	if err != nil {
		return chatr.User{}, fmt.Errorf("postgres: get user: %w", err)
	}
	return u, nil
}

// ListUsers returns every user ordered by ID.
func (db *DB) ListUsers(ctx context.Context) ([]chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	rows, _ := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	if users == nil {
		users = []chatr.User{}
	}
	return users, nil
}

// SetIdle records the user's idle flag and last-seen time.
func (db *DB) SetIdle(ctx context.Context, userID string, idle bool, at time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE users SET idle = $1, last_seen = $2 WHERE id = $3`, idle, normal(at), userID)
	if err != nil {
		return fmt.Errorf("postgres: set idle: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	return nil
}

// RevokeTokens moves the user's revocation moment forward to before.
func (db *DB) RevokeTokens(ctx context.Context, userID string, before time.Time) error {
	if !chatr.StorableText(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	tag, err := db.pool.Exec(ctx, `UPDATE users SET tokens_revoked = GREATEST(tokens_revoked, $1) WHERE id = $2`, normal(before), userID)
	if err != nil {
		return fmt.Errorf("postgres: revoke tokens: %w", err)
	}
	if tag.RowsAffected() == 0 {
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
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO sessions (token_hash, user_id, created, expires) VALUES ($1, $2, $3, $4)
		ON CONFLICT (token_hash) DO NOTHING`,
		s.TokenHash, s.UserID, normal(orNow(s.Created)), normal(s.Expires))
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ECONFLICT, "session exists")
	}
	return nil
}

// GetSession returns the session if it is live at now (now < Expires).
func (db *DB) GetSession(ctx context.Context, tokenHash string, now time.Time) (chatr.Session, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(tokenHash) {
		return chatr.Session{}, chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	var s chatr.Session
	err := db.pool.QueryRow(ctx, `
		SELECT token_hash, user_id, created, expires FROM sessions WHERE token_hash = $1 AND expires > $2`,
		tokenHash, normal(now)).Scan(&s.TokenHash, &s.UserID, &s.Created, &s.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.Session{}, chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	if err != nil {
		return chatr.Session{}, fmt.Errorf("postgres: get session: %w", err)
	}
	utc(&s.Created, &s.Expires)
	return s, nil
}

// ExtendSession moves the session's expiry.
func (db *DB) ExtendSession(ctx context.Context, tokenHash string, expires time.Time) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(tokenHash) {
		return chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET expires = $1 WHERE token_hash = $2`, normal(expires), tokenHash)
	if err != nil {
		return fmt.Errorf("postgres: extend session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no session")
	}
	return nil
}

// DeleteSession removes the session if it exists.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(tokenHash) {
		return nil
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of the user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(userID) {
		return nil
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("postgres: delete user sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions expired at now (Expires <= now).
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE expires <= $1`, normal(now))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
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
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO chats (id, name, owner, private, created, topic, visibility, invite_policy, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO NOTHING`,
		c.ID, c.Name, c.Owner, c.Private, normal(orNow(c.Created)), c.Topic, c.Visibility, c.InvitePolicy, nameKey(c))
	if isUnique(err, "chats_name_key") {
		return chatr.ErrChatNameTaken
	}
	if err != nil {
		return fmt.Errorf("postgres: create chat: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ECONFLICT, "chat %q exists", c.ID)
	}
	return nil
}

const chatColumns = `c.id, c.name, c.owner, c.private, c.created, c.topic, c.visibility, c.invite_policy`

// scanChat reads chatColumns and, when lastMessageAt is set, one column
// more: the time of the chat's newest message (NULL for none).
func scanChat(row pgx.Row, lastMessageAt ...bool) (chatr.Chat, error) {
	var (
		c    chatr.Chat
		last *time.Time
	)
	dest := []any{&c.ID, &c.Name, &c.Owner, &c.Private, &c.Created, &c.Topic, &c.Visibility, &c.InvitePolicy}
	if len(lastMessageAt) > 0 {
		dest = append(dest, &last)
	}
	err := row.Scan(dest...)
	if last != nil {
		c.LastMessageAt = *last
	}
	utc(&c.Created, &c.LastMessageAt)
	return c, err
}

// GetChat returns the chat, or ENOTFOUND.
func (db *DB) GetChat(ctx context.Context, id string) (chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(id) {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	c, err := scanChat(db.pool.QueryRow(ctx, `SELECT `+chatColumns+` FROM chats c WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("postgres: get chat: %w", err)
	}
	return c, nil
}

func (db *DB) listChats(ctx context.Context, lastMessageAt bool, query string, args ...any) ([]chatr.Chat, error) {
	rows, _ := db.pool.Query(ctx, query, args...)
	chats, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.Chat, error) {
		if lastMessageAt {
			return scanChat(row, true)
		}
		return scanChat(row)
	})
	if chats == nil {
		chats = []chatr.Chat{}
	}
	return chats, err
}

// ListGroupChats returns the non-private chats by creation time then ID.
func (db *DB) ListGroupChats(ctx context.Context) ([]chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	chats, err := db.listChats(ctx, false, `SELECT `+chatColumns+` FROM chats c WHERE NOT c.private AND c.visibility = 'public' ORDER BY c.created, c.id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list group chats: %w", err)
	}
	return chats, nil
}

// ListUserChats returns the user's chats by creation time then ID.
func (db *DB) ListUserChats(ctx context.Context, userID string) ([]chatr.Chat, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(userID) {
		return []chatr.Chat{}, nil
	}
	chats, err := db.listChats(ctx, true, `
		SELECT `+chatColumns+`, (SELECT time FROM messages WHERE chat_id = c.id AND id = c.last_message_id)
		FROM chats c JOIN members m ON m.chat_id = c.id
		WHERE m.user_id = $1 ORDER BY c.created, c.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list user chats: %w", err)
	}
	return chats, nil
}

// DeleteChat removes the chat; foreign keys cascade to its members,
// messages and read markers.
func (db *DB) DeleteChat(ctx context.Context, id string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(id) {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM chats WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete chat: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	return nil
}

func (db *DB) chatExists(ctx context.Context, id string) (bool, error) {
	var exists bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chats WHERE id = $1)`, id).Scan(&exists)
	return exists, err
}

// notFoundIfNoChat returns ENOTFOUND when a write that changed no row did
// so because the chat does not exist.
func (db *DB) notFoundIfNoChat(ctx context.Context, tag pgconn.CommandTag, chatID, op string) error {
	if tag.RowsAffected() > 0 {
		return nil
	}
	exists, err := db.chatExists(ctx, chatID)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if !exists {
		return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	return nil
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
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO members (chat_id, user_id, user_name, joined, role)
		SELECT id, $2, $3, $4, `+roleOf("$2", "$5")+` FROM chats WHERE id = $1
		ON CONFLICT (chat_id, user_id) DO NOTHING`,
		chatID, m.UserID, m.UserName, normal(orNow(m.Joined)), m.Role)
	if err != nil {
		return fmt.Errorf("postgres: add member: %w", err)
	}
	return db.notFoundIfNoChat(ctx, tag, chatID, "add member")
}

// RemoveMember removes the membership if it exists.
func (db *DB) RemoveMember(ctx context.Context, chatID, userID string) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(chatID, userID) {
		return nil
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM members WHERE chat_id = $1 AND user_id = $2`, chatID, userID); err != nil {
		return fmt.Errorf("postgres: remove member: %w", err)
	}
	return nil
}

// ListMembers returns the members by join time then user ID.
func (db *DB) ListMembers(ctx context.Context, chatID string) ([]chatr.Member, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(chatID) {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT user_id, user_name, joined, role FROM members WHERE chat_id = $1 ORDER BY joined, user_id`, chatID)
	members, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.Member, error) {
		var m chatr.Member
		err := row.Scan(&m.UserID, &m.UserName, &m.Joined, &m.Role)
		utc(&m.Joined)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list members: %w", err)
	}
	if len(members) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("postgres: list members: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
		members = []chatr.Member{}
	}
	return members, nil
}

// IsMember reports whether the user is a member of the chat.
func (db *DB) IsMember(ctx context.Context, chatID, userID string) (bool, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(chatID, userID) {
		return false, nil
	}
	var isMember bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE chat_id = $1 AND user_id = $2)`, chatID, userID).Scan(&isMember)
	if err != nil {
		return false, fmt.Errorf("postgres: is member: %w", err)
	}
	return isMember, nil
}

// --- history and read markers

// ListMessages returns a page of the chat's history in ascending ID order.
// A missing chat is ENOTFOUND.
func (db *DB) ListMessages(ctx context.Context, chatID string, q chatr.MessageQuery) ([]chatr.Message, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(chatID) {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
	}
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
	rows, _ := db.pool.Query(ctx, `
		SELECT `+messageColumns+` FROM messages
		WHERE chat_id = $1 AND id > $2 AND id < $3 ORDER BY id `+order+` LIMIT $4`,
		chatID, max(q.After, 0), before, limit)
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.Message, error) { return scanMessage(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list messages: %w", err)
	}
	if newest {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	if len(msgs) == 0 {
		if exists, err := db.chatExists(ctx, chatID); err != nil {
			return nil, fmt.Errorf("postgres: list messages: %w", err)
		} else if !exists {
			return nil, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
		msgs = []chatr.Message{}
	}
	if err := addReactions(ctx, db.pool, chatID, msgs); err != nil {
		return nil, fmt.Errorf("postgres: list messages: %w", err)
	}
	return msgs, nil
}

// MarkRead moves the user's read marker of the chat forward to messageID.
// A missing chat is ENOTFOUND.
func (db *DB) MarkRead(ctx context.Context, userID, chatID string, messageID int64) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if err := chatr.CheckText(userID, chatID); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO read_markers (user_id, chat_id, message_id)
		SELECT $1, id, $2 FROM chats WHERE id = $3
		ON CONFLICT (user_id, chat_id) DO UPDATE SET message_id = EXCLUDED.message_id
		WHERE read_markers.message_id < EXCLUDED.message_id`,
		userID, messageID, chatID)
	if err != nil {
		return fmt.Errorf("postgres: mark read: %w", err)
	}
	return db.notFoundIfNoChat(ctx, tag, chatID, "mark read")
}

// UnreadCounts counts, per chat of the user, the messages of others above
// the user's read marker. Chats with none are left out.
func (db *DB) UnreadCounts(ctx context.Context, userID string) (map[string]int, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if !chatr.StorableText(userID) {
		return map[string]int{}, nil
	}
	rows, err := db.pool.Query(ctx, `
		SELECT mb.chat_id, COUNT(*) FROM members mb
		JOIN messages m ON m.chat_id = mb.chat_id
		LEFT JOIN read_markers r ON r.user_id = mb.user_id AND r.chat_id = mb.chat_id
		WHERE mb.user_id = $1 AND m.id > COALESCE(r.message_id, 0) AND m.from_user_id <> mb.user_id AND m.deleted IS NULL
		GROUP BY mb.chat_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: unread counts: %w", err)
	}
	counts := map[string]int{}
	var (
		chatID string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&chatID, &n}, func() error {
		counts[chatID] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: unread counts: %w", err)
	}
	return counts, nil
}

// lookupIDs returns ids without those no row could have; EINVALID past
// MaxLookupIDs.
func lookupIDs(op string, ids []string) ([]string, error) {
	if len(ids) > chatr.MaxLookupIDs {
		return nil, chatr.Errorf(chatr.EINVALID, "%s takes at most %d ids", op, chatr.MaxLookupIDs)
	}
	keep := make([]string, 0, len(ids))
	for _, id := range ids {
		if chatr.StorableText(id) {
			keep = append(keep, id)
		}
	}
	return keep, nil
}

// GetUsers returns the users of ids that exist.
func (db *DB) GetUsers(ctx context.Context, ids []string) ([]chatr.User, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	list, err := lookupIDs("GetUsers", ids)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return []chatr.User{}, nil
	}
	rows, _ := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id = ANY($1)`, list)
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: get users: %w", err)
	}
	if users == nil {
		users = []chatr.User{}
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
	if len(list) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `
		SELECT chat_id, user_id, user_name, joined, role FROM members
		WHERE chat_id = ANY($1) ORDER BY chat_id, joined, user_id`, list)
	if err != nil {
		return nil, fmt.Errorf("postgres: list members of chats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			chatID string
			m      chatr.Member
		)
		if err := rows.Scan(&chatID, &m.UserID, &m.UserName, &m.Joined, &m.Role); err != nil {
			return nil, fmt.Errorf("postgres: list members of chats: %w", err)
		}
		utc(&m.Joined)
		out[chatID] = append(out[chatID], m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list members of chats: %w", err)
	}
	return out, nil
}

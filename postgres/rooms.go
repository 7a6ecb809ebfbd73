package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
)

// roleOf is the SQL of the role AddMember stores, from the parameters that
// hold the user id and the requested role, and the chat's owner: only the
// Owner is an owner.
func roleOf(userParam, roleParam string) string {
	return `CASE WHEN owner = ` + userParam + ` THEN 'owner' WHEN ` + roleParam + `::text = 'moderator' THEN 'moderator' ELSE 'member' END`
}

// isUnique reports whether err is a unique violation of the named index.
func isUnique(err error, index string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == index
}

// nameKey is the chat's name_key column: its NameKey when it is a public
// group chat, NULL otherwise.
func nameKey(c chatr.Chat) *string {
	if !c.IsPublic() {
		return nil
	}
	k := chatr.NameKey(c.Name)
	return &k
}

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// freeHandle returns the first handle for base that no user has.
func freeHandle(ctx context.Context, q queryer, base string) (string, error) {
	// Candidates are base and base followed by digits: ':' sorts after '9'
	// (the column's collation is "C").
	rows, _ := q.Query(ctx, `SELECT handle FROM users WHERE handle >= $1 AND handle < $2`, base, base+":")
	hs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(hs))
	for _, h := range hs {
		taken[h] = true
	}
	return chatr.FreeHandle(base, taken), nil
}

// upsertUser updates an existing user, or inserts a new one under a free
// handle; when another node takes that handle first it tries again.
func (db *DB) upsertUser(ctx context.Context, u chatr.User) error {
	base := chatr.HandleBase(u.Name)
	if u.Handle != "" {
		base = chatr.HandleBase(u.Handle)
	}
	for range 100 {
		tag, err := db.pool.Exec(ctx, `
			UPDATE users SET name = CASE WHEN name_chosen THEN name ELSE $1 END,
				name_fold = CASE WHEN name_chosen THEN name_fold ELSE $2 END, provider = $3
			WHERE id = $4`, u.Name, chatr.SearchKey(u.Name), u.Provider, u.ID)
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		h, err := freeHandle(ctx, db.pool, base)
		if err != nil {
			return err
		}
		_, err = db.pool.Exec(ctx, `
			INSERT INTO users (id, name, provider, idle, last_seen, created, handle, name_fold) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO NOTHING`,
			u.ID, u.Name, u.Provider, u.Idle, normal(u.LastSeen), normal(orNow(u.Created)), h, chatr.SearchKey(u.Name))
		if !isUnique(err, "users_handle") {
			return err
		}
	}
	return errors.New("too much contention for a handle")
}

// backfill gives the rows of earlier releases what this one computes in
// Go: users their handle and search key (oldest first, so that the first
// "Bob" stays "bob"), and public group chats their hold on their name (the
// oldest of a set of duplicates holds it, the others keep NULL). It runs
// under the migration lock, so nodes starting together do it once.
func backfill(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('chatr.migrate.' || current_schema()))`); err != nil {
			return err
		}
		type row struct{ ID, Name string }
		rows, _ := tx.Query(ctx, `SELECT id, name FROM users WHERE handle IS NULL ORDER BY created, id`)
		users, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return fmt.Errorf("backfill handles: %w", err)
		}
		for _, u := range users {
			h, err := freeHandle(ctx, tx, chatr.HandleBase(u.Name))
			if err == nil {
				_, err = tx.Exec(ctx, `UPDATE users SET handle = $1, name_fold = $2 WHERE id = $3`, h, chatr.SearchKey(u.Name), u.ID)
			}
			if err != nil {
				return fmt.Errorf("backfill handles: %w", err)
			}
		}
		rows, _ = tx.Query(ctx, `SELECT id, name FROM chats WHERE name_key IS NULL AND NOT private AND visibility = 'public' ORDER BY created, id`)
		chats, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return fmt.Errorf("backfill chat names: %w", err)
		}
		for _, c := range chats {
			k := chatr.NameKey(c.Name)
			if _, err := tx.Exec(ctx, `UPDATE chats SET name_key = $1 WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM chats WHERE name_key = $1)`, k, c.ID); err != nil {
				return fmt.Errorf("backfill chat names: %w", err)
			}
		}
		return nil
	})
}

// --- chats and roles

// UpdateChat applies u under a lock of the chat's row; a chat keeps its
// name_key unless its name or visibility changes. Of two chats renamed to
// one name, the second to write waits for the first and finds the name taken.
func (db *DB) UpdateChat(ctx context.Context, id string, u chatr.ChatUpdate) (chatr.Chat, error) {
	if !chatr.StorableText(id) {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	var c chatr.Chat
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		c, err = scanChat(tx.QueryRow(ctx, `SELECT `+chatColumns+` FROM chats c WHERE c.id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
		}
		if err != nil {
			return err
		}
		changed, err := chatr.ApplyChatUpdate(&c, u)
		if err != nil {
			return err
		}
		if changed {
			_, err = tx.Exec(ctx, `UPDATE chats SET name = $1, topic = $2, visibility = $3, invite_policy = $4, name_key = $5 WHERE id = $6`,
				c.Name, c.Topic, c.Visibility, c.InvitePolicy, nameKey(c), id)
		} else {
			_, err = tx.Exec(ctx, `UPDATE chats SET name = $1, topic = $2, visibility = $3, invite_policy = $4 WHERE id = $5`,
				c.Name, c.Topic, c.Visibility, c.InvitePolicy, id)
		}
		if isUnique(err, "chats_name_key") {
			return chatr.ErrChatNameTaken
		}
		return err
	})
	if err != nil {
		return chatr.Chat{}, wrap("update chat", err)
	}
	return c, nil
}

// wrap prefixes an unexpected error and passes nil and application errors
// through.
func wrap(op string, err error) error {
	var ae *chatr.Error
	if err == nil || errors.As(err, &ae) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// GetMember returns the membership with its role.
func (db *DB) GetMember(ctx context.Context, chatID, userID string) (chatr.Member, error) {
	if !chatr.StorableText(chatID, userID) {
		return chatr.Member{}, chatr.Errorf(chatr.ENOTFOUND, "%q is not a member of %q", userID, chatID)
	}
	var m chatr.Member
	err := db.pool.QueryRow(ctx, `SELECT user_id, user_name, joined, role FROM members WHERE chat_id = $1 AND user_id = $2`,
		chatID, userID).Scan(&m.UserID, &m.UserName, &m.Joined, &m.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.Member{}, chatr.Errorf(chatr.ENOTFOUND, "%q is not a member of %q", userID, chatID)
	}
	if err != nil {
		return chatr.Member{}, fmt.Errorf("postgres: get member: %w", err)
	}
	utc(&m.Joined)
	return m, nil
}

// SetMemberRole changes a role under a lock of the chat's row; a new owner
// takes the chat's Owner.
func (db *DB) SetMemberRole(ctx context.Context, chatID, userID, role string) error {
	if !chatr.ValidRole(role) {
		return chatr.Errorf(chatr.EINVALID, "unknown role %q", role)
	}
	if !chatr.StorableText(chatID, userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "%q is not a member of %q", userID, chatID)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var owner string
		err := tx.QueryRow(ctx, `SELECT owner FROM chats WHERE id = $1 FOR UPDATE`, chatID).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return chatr.Errorf(chatr.ENOTFOUND, "no chat %q", chatID)
		}
		if err != nil {
			return err
		}
		switch {
		case owner == userID && role != chatr.RoleOwner:
			return chatr.Errorf(chatr.EINVALID, "the owner's role changes only with a new owner")
		case owner != userID && role == chatr.RoleOwner:
			var member bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE chat_id = $1 AND user_id = $2)`, chatID, userID).Scan(&member); err != nil {
				return err
			}
			if !member {
				break // reported below
			}
			if _, err := tx.Exec(ctx, `UPDATE members SET role = 'moderator' WHERE chat_id = $1 AND user_id = $2`, chatID, owner); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE chats SET owner = $1 WHERE id = $2`, userID, chatID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE members SET role = $1 WHERE chat_id = $2 AND user_id = $3`, role, chatID, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return chatr.Errorf(chatr.ENOTFOUND, "%q is not a member of %q", userID, chatID)
		}
		return nil
	})
	return wrap("set member role", err)
}

// --- people

// GetUserByHandle returns the user with that handle, or ENOTFOUND.
func (db *DB) GetUserByHandle(ctx context.Context, handle string) (chatr.User, error) {
	h := chatr.NormalHandle(handle)
	if !chatr.StorableText(h) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no user @%s", h)
	}
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE handle = $1`, h))
	if errors.Is(err, pgx.ErrNoRows) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no user @%s", h)
	}
	if err != nil {
		return chatr.User{}, fmt.Errorf("postgres: get user by handle: %w", err)
	}
	return u, nil
}

// SetUserName sets the chosen display name, on the user and their memberships.
func (db *DB) SetUserName(ctx context.Context, userID, name string) error {
	if name == "" {
		return chatr.Errorf(chatr.EINVALID, "name must not be empty")
	}
	if err := chatr.CheckText(name); err != nil {
		return err
	}
	if !chatr.StorableText(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET name = $1, name_fold = $2, name_chosen = true WHERE id = $3`, name, chatr.SearchKey(name), userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
		}
		_, err = tx.Exec(ctx, `UPDATE members SET user_name = $1 WHERE user_id = $2`, name, userID)
		return err
	})
	return wrap("set user name", err)
}

// SearchUsers returns a page of users by handle. The search scans the
// users after the cursor; the limit bounds the work of a page that matches.
func (db *DB) SearchUsers(ctx context.Context, q chatr.UserQuery) ([]chatr.User, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	needle := chatr.NormalHandle(q.Search)
	if !chatr.StorableText(needle, q.After) {
		return []chatr.User{}, "", nil
	}
	rows, _ := db.pool.Query(ctx, `
		SELECT `+userColumns+` FROM users
		WHERE handle > $1 AND (strpos(name_fold, $2) > 0 OR strpos(handle, $2) > 0)
		ORDER BY handle LIMIT $3`, q.After, needle, limit+1)
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.User, error) { return scanUser(row) })
	if err != nil {
		return nil, "", fmt.Errorf("postgres: search users: %w", err)
	}
	if len(users) > limit {
		return users[:limit], users[limit-1].Handle, nil
	}
	if users == nil {
		users = []chatr.User{}
	}
	return users, "", nil
}

// SetBanned sets or clears the user's ban.
func (db *DB) SetBanned(ctx context.Context, userID string, banned bool, by string, at time.Time) error {
	if err := chatr.CheckText(by); err != nil {
		return err
	}
	if !chatr.StorableText(userID) {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	var bannedAt *time.Time
	if banned {
		t := normal(orNow(at))
		bannedAt = &t
	} else {
		by = ""
	}
	tag, err := db.pool.Exec(ctx, `UPDATE users SET banned = $1, banned_by = $2, banned_at = $3 WHERE id = $4`, banned, by, bannedAt, userID)
	if err != nil {
		return fmt.Errorf("postgres: set banned: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	return nil
}

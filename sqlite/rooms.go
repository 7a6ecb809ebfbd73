package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatr/chatr"
)

// roleOf is the SQL of the role AddMember stores, from its arguments
// (user id, requested role) and the chat's owner: only the Owner is an owner.
const roleOf = `CASE WHEN owner = ? THEN 'owner' WHEN ? = 'moderator' THEN 'moderator' ELSE 'member' END`

// queryer is what the handle lookup needs of a connection or transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// isUnique reports whether err is SQLite's refusal of a duplicate in the
// named unique index's column ("table.column").
func isUnique(err error, column string) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed: "+column)
}

// nameKey is the chat's name_key column: its NameKey when it is a public
// group chat, NULL otherwise.
func nameKey(c chatr.Chat) any {
	if !c.IsPublic() {
		return nil
	}
	return chatr.NameKey(c.Name)
}

// freeHandle returns the first handle for base that no user has.
func freeHandle(ctx context.Context, q queryer, base string) (string, error) {
	// Candidates are base and base followed by digits: ':' sorts after '9'.
	rows, err := q.QueryContext(ctx, `SELECT handle FROM users WHERE handle >= ? AND handle < ?`, base, base+":")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	taken := map[string]bool{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return "", err
		}
		taken[h] = true
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return chatr.FreeHandle(base, taken), nil
}

func handleBase(u chatr.User) string {
	if u.Handle != "" {
		return chatr.HandleBase(u.Handle)
	}
	return chatr.HandleBase(u.Name)
}

// upsertUser updates an existing user, or inserts a new one under a free
// handle. The write connection is the only one, so the transaction sees
// every handle given before it.
func (db *DB) upsertUser(ctx context.Context, u chatr.User) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		UPDATE users SET name = CASE WHEN name_chosen = 1 THEN name ELSE ? END,
			name_fold = CASE WHEN name_chosen = 1 THEN name_fold ELSE ? END, provider = ?
		WHERE id = ?`, u.Name, chatr.SearchKey(u.Name), u.Provider, u.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		h, err := freeHandle(ctx, tx, handleBase(u))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO users (id, name, provider, idle, last_seen, created, handle, name_fold) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Name, u.Provider, boolInt(u.Idle), stamp(u.LastSeen), stamp(orNow(u.Created)), h, chatr.SearchKey(u.Name))
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// backfill gives the rows of earlier releases what this one computes in
// Go: users their handle and search key (oldest first, so that the first
// "Bob" stays "bob"), and public group chats their hold on their name (the
// oldest of a set of duplicates holds it, the others keep NULL).
func backfill(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	type row struct{ id, name string }
	collect := func(query string) ([]row, error) {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.name); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	users, err := collect(`SELECT id, name FROM users WHERE handle IS NULL ORDER BY created, id`)
	if err != nil {
		return fmt.Errorf("backfill handles: %w", err)
	}
	for _, u := range users {
		h, err := freeHandle(ctx, tx, chatr.HandleBase(u.name))
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE users SET handle = ?, name_fold = ? WHERE id = ?`, h, chatr.SearchKey(u.name), u.id)
		}
		if err != nil {
			return fmt.Errorf("backfill handles: %w", err)
		}
	}
	chats, err := collect(`SELECT id, name FROM chats WHERE name_key IS NULL AND private = 0 AND visibility = 'public' ORDER BY created, id`)
	if err != nil {
		return fmt.Errorf("backfill chat names: %w", err)
	}
	for _, c := range chats {
		_, err := tx.ExecContext(ctx, `UPDATE chats SET name_key = ? WHERE id = ? AND NOT EXISTS (SELECT 1 FROM chats WHERE name_key = ?)`,
			chatr.NameKey(c.name), c.id, chatr.NameKey(c.name))
		if err != nil {
			return fmt.Errorf("backfill chat names: %w", err)
		}
	}
	return tx.Commit()
}

// --- chats and roles

// UpdateChat applies u; a chat keeps its name_key unless its name or
// visibility changes.
func (db *DB) UpdateChat(ctx context.Context, id string, u chatr.ChatUpdate) (chatr.Chat, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: update chat: %w", err)
	}
	defer tx.Rollback()
	c, err := scanChat(tx.QueryRowContext(ctx, `SELECT `+chatColumns+` FROM chats c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %q", id)
	}
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: update chat: %w", err)
	}
	changed, err := chatr.ApplyChatUpdate(&c, u)
	if err != nil {
		return chatr.Chat{}, err
	}
	query := `UPDATE chats SET name = ?, topic = ?, visibility = ?, invite_policy = ? WHERE id = ?`
	args := []any{c.Name, c.Topic, c.Visibility, c.InvitePolicy, id}
	if changed {
		query = `UPDATE chats SET name = ?, topic = ?, visibility = ?, invite_policy = ?, name_key = ? WHERE id = ?`
		args = []any{c.Name, c.Topic, c.Visibility, c.InvitePolicy, nameKey(c), id}
	}
	_, err = tx.ExecContext(ctx, query, args...)
	if isUnique(err, "chats.name_key") {
		return chatr.Chat{}, chatr.ErrChatNameTaken
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return chatr.Chat{}, fmt.Errorf("sqlite: update chat: %w", err)
	}
	return c, nil
}

// GetMember returns the membership with its role.
func (db *DB) GetMember(ctx context.Context, chatID, userID string) (chatr.Member, error) {
	var (
		m      chatr.Member
		joined int64
	)
	err := db.queryRow(ctx, `SELECT user_id, user_name, joined, role FROM members WHERE chat_id = ? AND user_id = ?`,
		chatID, userID).Scan(&m.UserID, &m.UserName, &joined, &m.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Member{}, chatr.Errorf(chatr.ENOTFOUND, "%q is not a member of %q", userID, chatID)
	}
	if err != nil {
		return chatr.Member{}, fmt.Errorf("sqlite: get member: %w", err)
	}
	m.Joined = unstamp(joined)
	return m, nil
}

// SetMemberRole changes a role; a new owner takes the chat's Owner.
func (db *DB) SetMemberRole(ctx context.Context, chatID, userID, role string) error {
	if !chatr.ValidRole(role) {
		return chatr.Errorf(chatr.EINVALID, "unknown role %q", role)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: set member role: %w", err)
	}
	defer tx.Rollback()
	var owner string
	err = tx.QueryRowContext(ctx, `SELECT c.owner FROM chats c JOIN members m ON m.chat_id = c.id WHERE c.id = ? AND m.user_id = ?`,
		chatID, userID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Errorf(chatr.ENOTFOUND, "%q is not a member of %q", userID, chatID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set member role: %w", err)
	}
	switch {
	case owner == userID && role != chatr.RoleOwner:
		return chatr.Errorf(chatr.EINVALID, "the owner's role changes only with a new owner")
	case owner != userID && role == chatr.RoleOwner:
		if _, err := tx.ExecContext(ctx, `UPDATE members SET role = 'moderator' WHERE chat_id = ? AND user_id = ?`, chatID, owner); err != nil {
			return fmt.Errorf("sqlite: set member role: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chats SET owner = ? WHERE id = ?`, userID, chatID); err != nil {
			return fmt.Errorf("sqlite: set member role: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE members SET role = ? WHERE chat_id = ? AND user_id = ?`, role, chatID, userID); err != nil {
		return fmt.Errorf("sqlite: set member role: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: set member role: %w", err)
	}
	return nil
}

// --- people

// GetUserByHandle returns the user with that handle, or ENOTFOUND.
func (db *DB) GetUserByHandle(ctx context.Context, handle string) (chatr.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE handle = ?`, chatr.NormalHandle(handle)))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no user @%s", chatr.NormalHandle(handle))
	}
	if err != nil {
		return chatr.User{}, fmt.Errorf("sqlite: get user by handle: %w", err)
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
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: set user name: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, name_fold = ?, name_chosen = 1 WHERE id = ?`, name, chatr.SearchKey(name), userID)
	if err != nil {
		return fmt.Errorf("sqlite: set user name: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: set user name: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE members SET user_name = ? WHERE user_id = ?`, name, userID); err != nil {
		return fmt.Errorf("sqlite: set user name: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: set user name: %w", err)
	}
	return nil
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
	rows, err := db.query(ctx, `
		SELECT `+userColumns+` FROM users
		WHERE handle > ? AND (instr(name_fold, ?) > 0 OR instr(handle, ?) > 0)
		ORDER BY handle LIMIT ?`, q.After, needle, needle, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: search users: %w", err)
	}
	defer rows.Close()
	users := []chatr.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: search users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: search users: %w", err)
	}
	if len(users) > limit {
		return users[:limit], users[limit-1].Handle, nil
	}
	return users, "", nil
}

// SetBanned sets or clears the user's ban.
func (db *DB) SetBanned(ctx context.Context, userID string, banned bool, by string, at time.Time) error {
	if err := chatr.CheckText(by); err != nil {
		return err
	}
	if !banned {
		by, at = "", time.UnixMicro(0)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE users SET banned = ?, banned_by = ?, banned_at = ? WHERE id = ?`,
		boolInt(banned), by, stamp(orNow(at)), userID)
	if err != nil {
		return fmt.Errorf("sqlite: set banned: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: set banned: %w", err)
	} else if n == 0 {
		return chatr.Errorf(chatr.ENOTFOUND, "no user %q", userID)
	}
	return nil
}

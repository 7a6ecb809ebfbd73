package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// memberAdd is one AddMember on its way through the member writer.
type memberAdd struct {
	chatID string
	m      chatr.Member
}

// insertMembers stores a batch of memberships in one transaction, so that
// a crowd joining at once (a join storm, a big invite) costs one sync of
// the WAL instead of one each. A member added twice keeps the first
// membership; a request for a missing chat gets ENOTFOUND.
func (db *DB) insertMembers(ctx context.Context, batch []*groupcommit.Request[memberAdd]) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add member: %w", err)
	}
	defer tx.Rollback()
	insert := tx.StmtContext(ctx, db.insertMember)
	for _, req := range batch {
		a := req.Item
		res, err := insert.ExecContext(ctx, a.m.UserID, a.m.UserName, stamp(orNow(a.m.Joined)), a.m.UserID, a.m.Role, a.chatID)
		if err != nil {
			return fmt.Errorf("sqlite: add member: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: add member: %w", err)
		} else if n > 0 {
			continue
		}
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM chats WHERE id = ?`, a.chatID).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			req.Err = chatr.Errorf(chatr.ENOTFOUND, "no chat %q", a.chatID)
		case err != nil:
			return fmt.Errorf("sqlite: add member: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: add member: %w: %w", groupcommit.ErrUnknown, err)
	}
	return nil
}

// resolveMembers learns which memberships of a batch whose COMMIT failed
// are stored.
func (db *DB) resolveMembers(ctx context.Context, batch []*groupcommit.Request[memberAdd]) error {
	for _, req := range batch {
		ok, err := db.IsMember(ctx, req.Item.chatID, req.Item.m.UserID)
		if err != nil {
			return err
		}
		req.Stored = ok
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/chatr/chatr"
)

// claimFiles checks, inside the batch's transaction, that the files m
// names may go with it (see chatr.FileClaims) and returns their IDs. A
// refusal is a *chatr.Error for m alone; any other error fails the batch.
func claimFiles(ctx context.Context, q querier, m *chatr.Message, claims chatr.FileClaims) ([]string, error) {
	ids, err := chatr.MessageFileIDs(*m)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	found := make(map[string]chatr.File, len(ids))
	for _, id := range ids {
		f, err := scanFile(q.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return nil, err
		}
		found[id] = f
	}
	return ids, claims.Claim(*m, ids, found)
}

// linkFiles makes the files the attachments of the stored message m.
func linkFiles(ctx context.Context, q querier, m chatr.Message, ids []string) error {
	for i, id := range ids {
		if _, err := q.ExecContext(ctx, `UPDATE files SET message_id = ?, position = ? WHERE id = ?`, m.ID, i, id); err != nil {
			return err
		}
	}
	return nil
}

package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// claimFiles locks the rows of the files the fresh messages name (in ID
// order, as every writer does) and keeps the messages whose files may go
// with them (see chatr.FileClaims); the others get their error. It returns
// the kept messages and the files each takes.
func claimFiles(ctx context.Context, q querier, fresh []*groupcommit.Request[chatr.Message]) ([]*groupcommit.Request[chatr.Message], map[*groupcommit.Request[chatr.Message]][]string, error) {
	named := map[*groupcommit.Request[chatr.Message]][]string{}
	var all []string
	kept := fresh[:0]
	for _, req := range fresh {
		ids, err := chatr.MessageFileIDs(req.Item)
		if err != nil {
			req.Err = err
			continue
		}
		if len(ids) > 0 {
			named[req] = ids
			all = append(all, ids...)
		}
		kept = append(kept, req)
	}
	fresh = kept
	if len(all) == 0 {
		return fresh, named, nil
	}
	rows, _ := q.Query(ctx, `SELECT `+fileColumns+` FROM files WHERE id = ANY($1) ORDER BY id FOR UPDATE`, all)
	fs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chatr.File, error) { return scanFile(row) })
	if err != nil {
		return nil, nil, err
	}
	found := make(map[string]chatr.File, len(fs))
	for _, f := range fs {
		found[f.ID] = f
	}
	claims := chatr.FileClaims{}
	kept = fresh[:0]
	for _, req := range fresh {
		if err := claims.Claim(req.Item, named[req], found); err != nil {
			req.Err = err
			delete(named, req)
			continue
		}
		kept = append(kept, req)
	}
	return kept, named, nil
}

// linkFiles makes the files the attachments of the stored messages.
func linkFiles(ctx context.Context, q querier, named map[*groupcommit.Request[chatr.Message]][]string) error {
	var (
		ids      []string
		messages []int64
		position []int32
	)
	for req, fs := range named {
		if req.Err != nil {
			continue
		}
		for i, id := range fs {
			ids, messages, position = append(ids, id), append(messages, req.Item.ID), append(position, int32(i))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `UPDATE files f SET message_id = u.message_id, position = u.position
		FROM unnest($1::text[], $2::bigint[], $3::integer[]) AS u (id, message_id, position) WHERE f.id = u.id`, ids, messages, position)
	return err
}

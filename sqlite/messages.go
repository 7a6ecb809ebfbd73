package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// AddMessage hands m to the writer goroutine and waits until the transaction
// that stored it has committed. If ctx ends first, AddMessage returns its
// error; the message may then be stored, and a retry with the same ClientID
// finds it.
func (db *DB) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	if err := chatr.CheckText(m.ChatID, m.Text, m.FromUserID, m.FromUserName, m.ClientID); err != nil {
		return chatr.Message{}, err
	}
	if len(m.ClientID) > chatr.MaxClientID {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "client message id is longer than %d bytes", chatr.MaxClientID)
	}
	if err := chatr.CheckMessageExtras(m); err != nil {
		return chatr.Message{}, err
	}
	if _, err := chatr.MessageFileIDs(m); err != nil {
		return chatr.Message{}, err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	m.ID, m.Duplicate = 0, false
	m.Time = normal(orNow(m.Time))
	m.Mentions = chatr.NormalMentions(m.Mentions)
	m.Edited, m.Deleted, m.DeletedAt, m.Reactions = time.Time{}, false, time.Time{}, nil
	return db.messages.Submit(ctx, m)
}

const messageColumns = `chat_id, id, from_user_id, from_user_name, text, time, client_id, reply_to, mentions, edited, deleted`

func scanMessage(row interface{ Scan(...any) error }) (chatr.Message, error) {
	var (
		m                   chatr.Message
		at, edited, deleted int64
		mentions            string
	)
	err := row.Scan(&m.ChatID, &m.ID, &m.FromUserID, &m.FromUserName, &m.Text, &at, &m.ClientID, &m.ReplyTo, &mentions, &edited, &deleted)
	m.Time = unstamp(at)
	if err == nil {
		err = decodeMentions(mentions, &m.Mentions)
	}
	if edited != 0 {
		m.Edited = unstamp(edited)
	}
	if m.Deleted = deleted != 0; m.Deleted {
		m.DeletedAt = unstamp(deleted)
	}
	return m, err
}

// byClientID returns the sender's message with that key, if any. The
// query repeats the partial index's condition (a non-empty client_id) so that the planner
// may use the partial index: it cannot tell that a parameter is not empty.
func byClientID(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, from, clientID string) (chatr.Message, bool, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE from_user_id = ? AND client_id = ? AND client_id <> ''`, from, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return chatr.Message{}, false, nil
	}
	return m, err == nil, err
}

// insertMessages raises each chat's counter once by the number of its new
// messages in the batch, numbers them in submission order and inserts them.
// A message whose (sender, ClientID) is stored already, or appears earlier
// in the batch, is not inserted: it gets the first one, marked Duplicate.
// Requests for a missing chat get ENOTFOUND and are skipped; a message's
// files are linked to it in the same transaction.
func (db *DB) insertMessages(ctx context.Context, batch []*groupcommit.Request[chatr.Message]) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	defer tx.Rollback()

	perChat := map[string]int64{}
	first := map[[2]string]*groupcommit.Request[chatr.Message]{} // (sender, key) -> its first request
	var fresh, copies []*groupcommit.Request[chatr.Message]
	lastIDs := map[string]int64{} // chat -> its last message id before the batch
	claims := chatr.FileClaims{}
	fileIDs := map[*groupcommit.Request[chatr.Message]][]string{} // the files each fresh message takes
	for _, req := range batch {
		m := &req.Item
		m.ID, m.Duplicate = 0, false // a retry starts afresh
		if m.ClientID != "" {
			k := [2]string{m.FromUserID, m.ClientID}
			if first[k] != nil {
				copies = append(copies, req)
				continue
			}
			first[k] = req
			old, found, err := byClientID(ctx, tx, m.FromUserID, m.ClientID)
			if err != nil {
				return fmt.Errorf("sqlite: add message: %w", err)
			}
			if found {
				if err := addReactions(ctx, tx, old.ChatID, []chatr.Message{old}); err != nil {
					return fmt.Errorf("sqlite: add message: %w", err)
				}
				old.Duplicate = true
				*m = old
				continue
			}
		}
		if err := checkReplyTo(ctx, tx, m, lastIDs); err != nil {
			req.Err = err
			continue
		}
		ids, err := claimFiles(ctx, tx, m, claims)
		if chatr.ErrorCode(err) == chatr.EINTERNAL {
			return fmt.Errorf("sqlite: add message: %w", err)
		} else if err != nil {
			req.Err = err
			continue
		}
		fileIDs[req] = ids
		fresh = append(fresh, req)
		perChat[m.ChatID]++
	}
	next := make(map[string]int64, len(perChat))
	for chatID, n := range perChat {
		var last int64
		err := tx.StmtContext(ctx, db.raiseCounter).QueryRowContext(ctx, n, chatID).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
		next[chatID] = last - n + 1
	}

	insert := tx.StmtContext(ctx, db.insertMessage)
	for _, req := range fresh {
		m := &req.Item
		id, found := next[m.ChatID]
		if !found {
			req.Err = chatr.Errorf(chatr.ENOTFOUND, "no chat %q", m.ChatID)
			continue
		}
		next[m.ChatID] = id + 1
		m.ID = id
		mentions, err := encodeMentions(m.Mentions)
		if err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
		if _, err := insert.ExecContext(ctx, m.ChatID, m.ID, m.FromUserID, m.FromUserName, m.Text, stamp(m.Time), m.ClientID, m.ReplyTo, mentions, boolInt(m.Mentions.All)); err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
		if err := insertMentions(ctx, tx, m); err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
		if err := linkFiles(ctx, tx, *m, fileIDs[req]); err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
	}
	for _, req := range copies {
		f := first[[2]string{req.Item.FromUserID, req.Item.ClientID}]
		req.Item, req.Err = f.Item, f.Err
		req.Item.Duplicate = true
	}
	if err := tx.Commit(); err != nil {
		// COMMIT may have reached the disk before it failed.
		return fmt.Errorf("sqlite: add message: %w: %w", groupcommit.ErrUnknown, err)
	}
	for _, req := range batch {
		req.Item.Files = nil // kept until now for a retried attempt
	}
	db.indexer.stored()
	return nil
}

// resolveMessages finds which messages of a batch whose COMMIT failed are
// stored: by ClientID, or else by the id the attempt gave them (the single
// writer gives an id to nobody else until the batch is settled).
func (db *DB) resolveMessages(ctx context.Context, batch []*groupcommit.Request[chatr.Message]) error {
	for _, req := range batch {
		m := req.Item
		var (
			got   chatr.Message
			found bool
			err   error
		)
		switch {
		case m.ClientID != "":
			got, found, err = byClientID(ctx, db.write, m.FromUserID, m.ClientID)
			got.Duplicate = m.Duplicate || got.ChatID != m.ChatID || got.ID != m.ID
		case m.ID != 0:
			got, err = scanMessage(db.write.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE chat_id = ? AND id = ?`, m.ChatID, m.ID))
			if errors.Is(err, sql.ErrNoRows) {
				err = nil
			} else if err == nil {
				found = got.FromUserID == m.FromUserID && got.Text == m.Text && got.Time.Equal(m.Time)
			}
		}
		if err != nil {
			return fmt.Errorf("sqlite: resolve commit: %w", err)
		}
		if found {
			req.Item, req.Stored = got, true
		}
	}
	return nil
}

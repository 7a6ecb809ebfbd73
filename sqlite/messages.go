package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/chatr/chatr"
)

// addRequest is one AddMessage call waiting for the writer.
type addRequest struct {
	msg  chatr.Message
	err  error
	done chan struct{} // closed when msg (with its ID) or err is final
}

// AddMessage hands m to the writer goroutine and waits until the transaction
// that stored it has committed. If ctx ends first, AddMessage returns its
// error; the message may still be stored.
func (db *DB) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	if err := validText(m.ChatID, m.Text, m.FromUserID, m.FromUserName); err != nil {
		return chatr.Message{}, err
	}
	if err := ctx.Err(); err != nil {
		return chatr.Message{}, err
	}
	m.ID = 0
	m.Time = normal(orNow(m.Time))
	req := &addRequest{msg: m, done: make(chan struct{})}

	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return chatr.Message{}, ErrClosed
	}
	db.pending = append(db.pending, req)
	if len(db.pending) == 1 {
		db.wake.Signal()
	}
	db.mu.Unlock()

	select {
	case <-req.done:
		return req.msg, req.err
	case <-ctx.Done():
		return chatr.Message{}, ctx.Err()
	}
}

// validText rejects text that a store cannot keep byte for byte in every
// backend (PostgreSQL refuses NUL and invalid UTF-8), so that SQLite and
// PostgreSQL agree on what is bad input.
func validText(ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return chatr.Errorf(chatr.EINVALID, "text must be UTF-8 without NUL")
		}
	}
	return nil
}

// writeMessages is the writer goroutine: it commits everything pending in
// one transaction, answers the callers, and repeats until the store closes
// with nothing pending.
func (db *DB) writeMessages() {
	defer close(db.done)
	for {
		db.mu.Lock()
		for len(db.pending) == 0 && !db.closed {
			db.wake.Wait()
		}
		if len(db.pending) == 0 { // closed and drained
			db.mu.Unlock()
			return
		}
		n := min(len(db.pending), maxBatch)
		batch := make([]*addRequest, n)
		copy(batch, db.pending)
		rest := copy(db.pending, db.pending[n:])
		clear(db.pending[rest:])
		db.pending = db.pending[:rest]
		db.mu.Unlock()

		db.commitBatch(batch)
	}
}

// commitBatch stores the batch in one transaction. Should that fail for a
// reason other than a missing chat, each message is retried in its own
// transaction so that one bad message cannot fail the others.
func (db *DB) commitBatch(batch []*addRequest) {
	err := db.insertMessages(batch)
	if err != nil && len(batch) > 1 {
		for _, req := range batch {
			db.commitBatch([]*addRequest{req})
		}
		return
	}
	for _, req := range batch {
		if err != nil {
			req.err = err
		}
		close(req.done)
	}
}

// insertMessages raises each chat's counter once by the number of its
// messages in the batch, numbers the messages in submission order and
// inserts them. Requests for a missing chat get ENOTFOUND and are skipped.
func (db *DB) insertMessages(batch []*addRequest) error {
	ctx := context.Background() // a batch is never abandoned half-way
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	defer tx.Rollback()

	perChat := map[string]int64{}
	for _, req := range batch {
		req.msg.ID, req.err = 0, nil // a retry starts afresh
		perChat[req.msg.ChatID]++
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
	for _, req := range batch {
		m := &req.msg
		id, found := next[m.ChatID]
		if !found {
			req.err = chatr.Errorf(chatr.ENOTFOUND, "no chat %q", m.ChatID)
			continue
		}
		next[m.ChatID] = id + 1
		m.ID = id
		if _, err := insert.ExecContext(ctx, m.ChatID, m.ID, m.FromUserID, m.FromUserName, m.Text, stamp(m.Time)); err != nil {
			return fmt.Errorf("sqlite: add message: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	return nil
}

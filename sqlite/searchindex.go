package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// The indexer puts stored messages into search_fts behind the group commit:
// a batch per transaction makes one FTS5 segment of many messages, where
// indexing in the writer's transactions made one per commit and halved the
// message throughput.
//
// It runs when the group commit tells it that messages were stored (and once
// at Open, for what an earlier process or release left unindexed), never on
// a clock: an idle store costs it nothing. A wake-up waits indexDelay before
// indexing, so that the commits of that time make one batch.
const (
	indexBatch    = 5000                   // docs per indexing transaction
	indexDelay    = 200 * time.Millisecond // from the first wake-up to the batch
	indexLogEvery = 5 * time.Second        // progress in the log while catching up
)

type searchIndexer struct {
	mu     sync.Mutex    // one indexing transaction at a time
	wake   chan struct{} // one pending wake-up, coalescing the rest
	cancel context.CancelFunc
	done   chan struct{}
}

// stored tells the indexer that messages were committed.
func (ix *searchIndexer) stored() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// startIndexer starts the background indexer of db.
func (db *DB) startIndexer() {
	ctx, cancel := context.WithCancel(context.Background())
	db.indexer = &searchIndexer{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	db.indexer.stored() // what Open found unindexed
	go func() {
		defer close(db.indexer.done)
		db.runIndexer(ctx)
	}()
}

// stopIndexer stops the indexer and waits for it; what it has not indexed
// yet it indexes at the next Open.
func (db *DB) stopIndexer() {
	db.indexer.cancel()
	<-db.indexer.done
}

func (db *DB) runIndexer(ctx context.Context) {
	log := slog.Default().With("store", "sqlite")
	var lastLog time.Time
	catchingUp := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.indexer.wake:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(indexDelay):
		}
		for { // batch after batch while a backlog lasts
			waiting, done, err := db.indexSome(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Error("search index: indexing failed; retrying", "err", err)
				db.indexer.stored()
			case waiting > indexBatch && time.Since(lastLog) > indexLogEvery:
				log.Info("search index: indexing stored messages", "waiting", waiting)
				lastLog, catchingUp = time.Now(), true
			case waiting > done:
			case catchingUp:
				log.Info("search index: every stored message is indexed")
				catchingUp = false
			}
			if err != nil || waiting <= done {
				break
			}
		}
	}
}

// indexSome indexes the next batch of messages, if any, and reports how
// many messages were waiting before it and how many it indexed.
func (db *DB) indexSome(ctx context.Context) (waiting, done int64, err error) {
	db.indexer.mu.Lock()
	defer db.indexer.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT c.id, coalesce(p.indexed_id, 0), c.last_message_id
		FROM chats c LEFT JOIN search_progress p ON p.chat_id = c.id
		WHERE c.last_message_id > coalesce(p.indexed_id, 0)`)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	type lag struct {
		chatID     string
		from, upTo int64
	}
	var lags []lag
	for rows.Next() {
		var l lag
		if err := rows.Scan(&l.chatID, &l.from, &l.upTo); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
		}
		waiting += l.upTo - l.from
		if done < indexBatch {
			l.upTo = min(l.upTo, l.from+indexBatch-done)
			done += l.upTo - l.from
			lags = append(lags, l)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	if len(lags) == 0 {
		return 0, 0, nil
	}
	var firstDoc int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(doc), 0) + 1 FROM search_docs`).Scan(&firstDoc); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	// Docs in the order the messages were sent, across the batch's chats.
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS search_lag (chat_id TEXT PRIMARY KEY, from_id INTEGER, up_to INTEGER)`); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM temp.search_lag`); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	for _, l := range lags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO temp.search_lag VALUES (?, ?, ?)`, l.chatID, l.from, l.upTo); err != nil {
			return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO search_progress (chat_id, indexed_id) VALUES (?, ?)
			ON CONFLICT (chat_id) DO UPDATE SET indexed_id = excluded.indexed_id`, l.chatID, l.upTo); err != nil {
			return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
		}
	}
	// CROSS JOIN keeps the lagging chats the outer loop, each reading its
	// new messages by primary key: with the planner's choice, every batch
	// scanned the whole messages table.
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO search_docs (chat_id, message_id)
		SELECT m.chat_id, m.id FROM temp.search_lag l CROSS JOIN messages m ON m.chat_id = l.chat_id AND m.id > l.from_id AND m.id <= l.up_to
		ORDER BY m.time, m.chat_id, m.id`); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO search_fts (rowid, body)
		SELECT d.doc, chatr_search_doc(m.text)
		FROM search_docs d JOIN messages m ON m.chat_id = d.chat_id AND m.id = d.message_id
		WHERE d.doc >= ? AND m.text <> ''`, firstDoc); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	return waiting, done, nil
}

// SyncSearch indexes every message stored before the call; see
// chatr.Searcher.
func (db *DB) SyncSearch(ctx context.Context) error {
	for {
		bctx, cancel := withDeadline(ctx) // per batch: a large backlog takes long
		waiting, done, err := db.indexSome(bctx)
		cancel()
		if err != nil || done >= waiting {
			return err
		}
	}
}

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
const (
	indexBatch    = 5000                   // docs per indexing transaction
	indexInterval = 200 * time.Millisecond // how often it looks for new docs
	indexLogEvery = 5 * time.Second        // progress in the log while catching up
)

type searchIndexer struct {
	mu     sync.Mutex // one indexing transaction at a time
	cancel context.CancelFunc
	done   chan struct{}
}

// startIndexer starts the background indexer of db.
func (db *DB) startIndexer() {
	ctx, cancel := context.WithCancel(context.Background())
	db.indexer = &searchIndexer{cancel: cancel, done: make(chan struct{})}
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
	tick := time.NewTicker(indexInterval)
	defer tick.Stop()
	var lastLog time.Time
	catchingUp := false
	for {
		indexed, total, err := db.indexSome(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Error("search index: indexing failed; retrying", "err", err)
		case total-indexed > indexBatch && time.Since(lastLog) > indexLogEvery:
			log.Info("search index: indexing stored messages", "indexed", indexed, "stored", total)
			lastLog, catchingUp = time.Now(), true
		case total-indexed > 0:
			continue // a last partial batch
		case catchingUp:
			log.Info("search index: every stored message is indexed", "messages", total)
			catchingUp = false
		}
		if err == nil && total-indexed > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// indexSome indexes the next batch of docs, if any, and reports the
// highest doc indexed and the highest stored.
func (db *DB) indexSome(ctx context.Context) (indexed, total int64, err error) {
	db.indexer.mu.Lock()
	defer db.indexer.mu.Unlock()
	if err := db.queryRow(ctx, `SELECT (SELECT indexed FROM search_state), (SELECT coalesce(max(doc), 0) FROM search_docs)`).Scan(&indexed, &total); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	if indexed >= total {
		return indexed, total, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT indexed FROM search_state`).Scan(&indexed); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	upTo := indexed + indexBatch
	if _, err := tx.ExecContext(ctx, `INSERT INTO search_fts (rowid, body)
		SELECT d.doc, chatr_search_doc(m.text)
		FROM search_docs d JOIN messages m ON m.chat_id = d.chat_id AND m.id = d.message_id
		WHERE d.doc > ? AND d.doc <= ? AND m.text <> ''
		ORDER BY d.doc`, indexed, upTo); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE search_state SET indexed = min(?, (SELECT coalesce(max(doc), 0) FROM search_docs))`, upTo); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("sqlite: search index: %w", err)
	}
	return min(upTo, total), total, nil
}

// SyncSearch indexes every message stored before the call; see
// chatr.Searcher.
func (db *DB) SyncSearch(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	for {
		indexed, total, err := db.indexSome(ctx)
		if err != nil || indexed >= total {
			return err
		}
	}
}

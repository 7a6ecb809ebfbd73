package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// searchIndexLock is the advisory lock (per database) that lets one node
// build the search index while the others serve.
const searchIndexLock = 0x63687472_17

// indexProgressEvery is how often the build's progress goes to the log.
const indexProgressEvery = 5 * time.Second

// buildSearchIndex builds the chat-and-words index of migration 0017 on a
// database too large to build it in the migration, without locking the
// messages (CREATE INDEX CONCURRENTLY), logging its progress, and then
// drops the words-only index it replaces. It does nothing when the index
// is there, when btree_gin is not, or when another node holds the lock;
// an interrupted build leaves an invalid index that the next one replaces.
func buildSearchIndex(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	var hasExt, valid, exists bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'),
		coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('messages_search_chat')), false),
		to_regclass('messages_search_chat') IS NOT NULL`).Scan(&hasExt, &valid, &exists)
	if err != nil || !hasExt || valid && !oldSearchIndex(ctx, pool) {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, searchIndexLock).Scan(&locked); err != nil || !locked {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, searchIndexLock)

	if !valid {
		if exists {
			if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS messages_search_chat`); err != nil {
				return err
			}
		}
		log.Info("search index: building the chat-and-words index while serving")
		start := time.Now()
		done := make(chan struct{})
		go logIndexProgress(ctx, pool, log, done)
		_, err := conn.Exec(ctx, `CREATE INDEX CONCURRENTLY messages_search_chat ON messages USING gin (chat_id, search)`)
		close(done)
		if err != nil {
			return err
		}
		log.Info("search index: built", "took", time.Since(start).Round(time.Second))
	}
	_, err = conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS messages_search`)
	return err
}

// oldSearchIndex reports whether the words-only index is still there.
func oldSearchIndex(ctx context.Context, pool *pgxpool.Pool) bool {
	var old bool
	_ = pool.QueryRow(ctx, `SELECT to_regclass('messages_search') IS NOT NULL`).Scan(&old)
	return old
}

func logIndexProgress(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, done <-chan struct{}) {
	tick := time.NewTicker(indexProgressEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-tick.C:
		}
		var phase string
		var blocksDone, blocksTotal int64
		err := pool.QueryRow(ctx, `SELECT phase, blocks_done, blocks_total FROM pg_stat_progress_create_index
			WHERE relid = to_regclass('messages') AND index_relid = to_regclass('messages_search_chat')`).Scan(&phase, &blocksDone, &blocksTotal)
		if err == nil {
			log.Info("search index: building", "phase", phase, "blocks", fmt.Sprintf("%d/%d", blocksDone, blocksTotal))
		}
	}
}

// startSearchIndex runs buildSearchIndex in the background until Close.
func (db *DB) startSearchIndex() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	db.stopSearchIndex = func() { cancel(); <-done }
	log := slog.Default().With("store", "postgres")
	go func() {
		defer close(done)
		if err := buildSearchIndex(ctx, db.pool, log); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("search index: build failed; searching with the words-only index until the next start", "err", err)
		}
	}()
}

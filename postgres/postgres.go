// Package postgres implements chatr.Store on PostgreSQL (pgx, pgxpool), for
// Chatr nodes that scale out and share one database. The schema lives in
// embedded migrations applied in order at Open, under an advisory lock so
// that nodes starting together migrate once.
//
// AddMessage uses group commit: one writer goroutine per node takes every
// message submitted while its previous transaction was committing and
// stores them in one transaction (a pipelined batch), answering each caller
// after COMMIT. Message IDs come from a per-chat counter row raised in that
// transaction; writers lock counter rows in chat-ID order, so the writers of
// several nodes never deadlock each other.
//
// Durability: every connection sets synchronous_commit=on, so COMMIT
// returns only once the WAL is flushed to disk (or to the synchronous
// standbys, if the server has any): an acknowledged write survives a crash
// of the server. TestDurabilitySettings reads it back from the connections.
//
// The package knows the domain types and the Store contract of package chatr
// and nothing else: no HTTP, no hub, no chat policy, no other node.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
	schema "github.com/chatr/chatr/internal/migrations"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds one group-commit transaction.
const maxBatch = 2048

// maxPending bounds the messages waiting for the writer; beyond it
// AddMessage answers ELIMIT at once instead of queueing without end.
const maxPending = 16 * maxBatch

// DB is a chatr.Store on a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool

	messages *groupcommit.Committer[chatr.Message] // AddMessage's group commit
	closing  atomic.Bool

	stopSearchIndex func() // searchindex.go
	search          searchStats
}

var _ chatr.Store = (*DB)(nil)

// ErrClosed is returned by AddMessage on a closed store.
var ErrClosed = groupcommit.ErrClosed

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; search_path and pgxpool's pool_max_conns may be set
// there, the pool defaults to 16 connections), applies the migrations it
// has not seen yet and starts the message writer.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (the number of CPUs, at least 4) starves the
		// readers of a node on a small machine while the writer holds one.
		cfg.MaxConns = int32(max(16, 4*runtime.NumCPU()))
	}
	// Every connection asks for synchronous commit itself, so that a server
	// or role configured with synchronous_commit=off cannot turn "durable
	// when AddMessage returns" into a lie (see TestDurabilitySettings).
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	err = migrate(ctx, pool)
	if err == nil {
		err = backfill(ctx, pool)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	db := &DB{pool: pool}
	db.messages = groupcommit.Start(groupcommit.Config[chatr.Message]{
		MaxBatch: maxBatch, MaxPending: maxPending, Timeout: callTimeout,
		Commit: db.insertMessages, Resolve: db.resolveMessages,
	})
	db.startSearchIndex()
	return db, nil
}

// migrate applies, in one transaction and in order, every embedded
// migration whose number is not recorded yet (one numbered below an applied
// one, merged later from another line of work, still runs). The advisory
// lock (per schema) makes nodes that start together take turns.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	steps, err := schema.Load(migrations, "migrations")
	if err != nil {
		return err
	}

	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('chatr.migrate.' || current_schema()))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT version FROM schema_version`)
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		applied := map[int]bool{}
		for _, v := range versions {
			applied[int(v)] = true
		}
		for _, s := range steps {
			if applied[s.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, s.SQL); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, s.Version); err != nil {
				return err
			}
		}
		return nil
	})
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close commits the messages already submitted, answers their callers, then
// closes the pool. Calling Close again does nothing.
func (db *DB) Close() error {
	if !db.closing.CompareAndSwap(false, true) {
		db.messages.Close() // waits for the first Close's drain
		return nil
	}
	db.messages.Close()
	db.stopSearchIndex()
	db.pool.Close()
	return nil
}

// normal returns t as the database will return it: UTC, microseconds.
func normal(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func utc(ts ...*time.Time) {
	for _, t := range ts {
		*t = t.UTC()
	}
}

// callTimeout bounds a store call whose caller set no deadline, so that a
// stuck database answers with an error instead of holding the caller (and
// whatever it holds) forever.
const callTimeout = 30 * time.Second

// withDeadline returns ctx with callTimeout as its deadline unless it has
// one already.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, callTimeout)
}

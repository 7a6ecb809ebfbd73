package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// Pool exposes the store's connections to the tests.
func Pool(db *DB) *pgxpool.Pool { return db.pool }

// CommitFault is what a faulty database does to one commit of messages:
// commit runs the real transaction.
type CommitFault func(ctx context.Context, batch []*groupcommit.Request[chatr.Message], commit groupcommit.CommitFunc[chatr.Message]) error

// InjectCommitFaults replaces the store's message writer with one whose
// commits go through fault.
func InjectCommitFaults(db *DB, fault CommitFault) {
	db.messages.Close()
	db.messages = groupcommit.Start(groupcommit.Config[chatr.Message]{
		MaxBatch: maxBatch, MaxPending: maxPending, Timeout: callTimeout,
		Commit: func(ctx context.Context, batch []*groupcommit.Request[chatr.Message]) error {
			return fault(ctx, batch, db.insertMessages)
		},
		Resolve: db.resolveMessages,
	})
}

// SearchRecent makes the store's searches without a chat or sender filter
// read newest first, as it does for frequent words.
func SearchRecent(db *DB) { db.search.recent = true }

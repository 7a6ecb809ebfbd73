package sqlite

import (
	"context"
	"database/sql"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
)

// Pools exposes the store's write and read connections to the tests.
func Pools(db *DB) (write, read *sql.DB) { return db.write, db.read }

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

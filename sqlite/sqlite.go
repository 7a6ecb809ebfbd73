// Package sqlite implements chatr.Store on one SQLite file, Chatr's embedded
// default: no server to run, no cgo (the driver is modernc.org/sqlite, pure
// Go). The schema lives in embedded migrations applied in order at Open.
//
// The file is in WAL mode with one write connection and a small pool of read
// connections, so reads never wait for writes. AddMessage uses group commit:
// one writer goroutine takes every message submitted while the previous
// transaction was committing, stores them in a single transaction and
// answers each caller after COMMIT. That keeps one fsync per batch instead of
// one per message.
//
// Durability: the file runs with synchronous=FULL, so WAL is synced at every
// commit and an acknowledged write survives a crash of the process and a
// power loss. (synchronous=NORMAL would survive a process crash only; with
// group commit FULL costs little, see BenchmarkAddMessageParallel.)
//
// The package knows the domain types and the Store contract of package chatr
// and nothing else: no HTTP, no hub, no chat policy (who may do what is the
// caller's business). Only one process should open a file at a time.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/groupcommit"
	schema "github.com/chatr/chatr/internal/migrations"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds one group-commit transaction, which bounds the latency
// that a huge backlog adds to the first callers in it.
const maxBatch = 2048

// maxPending bounds the messages waiting for the writer; beyond it
// AddMessage answers ELIMIT at once instead of queueing without end.
const maxPending = 16 * maxBatch

// DB is a chatr.Store on a SQLite file.
type DB struct {
	write *sql.DB // exactly one connection: SQLite has one writer anyway
	read  *sql.DB

	// The writer's statements, prepared once on the write connection.
	raiseCounter, insertMessage, insertMember *sql.Stmt

	// readStmts caches the read statements, prepared on first use: SQLite
	// parses and plans a statement at every prepare, which cost more than
	// running the point queries (membership, user, session) themselves.
	readStmts sync.Map // query -> *sql.Stmt

	messages *groupcommit.Committer[chatr.Message] // AddMessage's group commit
	members  *groupcommit.Committer[memberAdd]     // AddMember's group commit
	indexer  *searchIndexer                        // search.go
	closing  atomic.Bool
}

var _ chatr.Store = (*DB)(nil)

// ErrClosed is returned by AddMessage on a closed store.
var ErrClosed = groupcommit.ErrClosed

// Open opens (creating if needed) the SQLite file at path, applies the
// migrations it has not seen yet and starts the message writer.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: %q is not a plain file path", path)
	}
	params := url.Values{}
	params.Set("_busy_timeout", "10000")
	params.Set("_foreign_keys", "1")
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", "FULL")
	params.Set("_txlock", "immediate")
	params.Add("_pragma", "secure_delete(1)") // a deleted message's text is zeroed, not left in free pages
	write, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	err = migrate(ctx, write)
	if err == nil {
		err = backfill(ctx, write)
	}
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}

	params = url.Values{}
	params.Set("_busy_timeout", "10000")
	params.Set("_query_only", "1")
	read, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	db := &DB{write: write, read: read}
	db.raiseCounter, err = write.PrepareContext(ctx, `UPDATE chats SET last_message_id = last_message_id + ? WHERE id = ? RETURNING last_message_id`)
	if err == nil {
		db.insertMessage, err = write.PrepareContext(ctx, `INSERT INTO messages (chat_id, id, from_user_id, from_user_name, text, time, client_id, reply_to, mentions, mention_all) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	}
	if err == nil {
		db.insertMember, err = write.PrepareContext(ctx, `
			INSERT INTO members (chat_id, user_id, user_name, joined, role)
			SELECT id, ?, ?, ?, `+roleOf+` FROM chats WHERE id = ?
			ON CONFLICT (chat_id, user_id) DO NOTHING`)
	}
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	db.messages = groupcommit.Start(groupcommit.Config[chatr.Message]{
		MaxBatch: maxBatch, MaxPending: maxPending, Timeout: callTimeout,
		Commit: db.insertMessages, Resolve: db.resolveMessages,
	})
	db.members = groupcommit.Start(groupcommit.Config[memberAdd]{
		MaxBatch: maxBatch, MaxPending: maxPending, Timeout: callTimeout,
		Commit: db.insertMembers, Resolve: db.resolveMembers,
	})
	db.startIndexer()
	return db, nil
}

// migrate applies, in one immediate transaction and in order, every
// embedded migration whose number is not recorded yet: a migration numbered
// below one already applied (merged later from another line of work) still
// runs. Running it again (a restart, a second process) finds nothing to do.
func migrate(ctx context.Context, db *sql.DB) error {
	steps, err := schema.Load(migrations, "migrations")
	if err != nil {
		return err
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if applied[s.Version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied) VALUES (?, ?)`, s.Version, stamp(time.Now())); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// Ping checks that both the write and the read side answer.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	var one int
	if err := db.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close commits the messages already submitted, answers their callers, then
// closes the file. Calling Close again does nothing.
func (db *DB) Close() error {
	if !db.closing.CompareAndSwap(false, true) {
		db.messages.Close() // waits for the first Close's drain
		db.members.Close()
		return nil
	}
	db.messages.Close()
	db.members.Close()
	db.stopIndexer()
	errs := []error{db.raiseCounter.Close(), db.insertMessage.Close(), db.insertMember.Close()}
	db.readStmts.Range(func(_, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(append(errs, db.read.Close(), db.write.Close())...)
}

// readStmt returns the read statement for query, prepared once.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.readStmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.readStmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow runs a one-row read query through its cached statement.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return db.read.QueryRowContext(ctx, query, args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a read query through its cached statement.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// stamp and unstamp convert times to and from their stored form: integer
// microseconds since the Unix epoch, which compare and sort as times do.
func stamp(t time.Time) int64 { return t.UnixMicro() }

func unstamp(us int64) time.Time { return time.UnixMicro(us).UTC() }

// normal returns t as the store will return it once stored.
func normal(t time.Time) time.Time { return unstamp(stamp(t)) }

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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

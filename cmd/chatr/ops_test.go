package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/sqlite"
)

// need skips the test without a service, or fails it under CI=true.
func need(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := what + ": " + err.Error()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// postgresDB returns the URL of a fresh schema on the test server.
func postgresDB(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CHATR_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, base)
	if err == nil {
		err = pool.Ping(ctx)
	}
	need(t, "PostgreSQL at "+base+" (CHATR_TEST_POSTGRES)", err)
	schema := fmt.Sprintf("ops_%d_%d", time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		pool.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

var schemaSeq atomic.Int64

func sqliteDB(t *testing.T) string {
	return filepath.Join(t.TempDir(), "chatr.db")
}

func open(t *testing.T, db string) chatr.Store {
	t.Helper()
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// chatr runs a subcommand as main would and returns its output.
func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	c, ok := commands[args[0]]
	if !ok {
		t.Fatalf("no command %q", args[0])
	}
	err := c.run(context.Background(), args[1:], &out)
	return out.String(), err
}

func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		out, err := runCommand(t, name, "--help")
		if err == nil || !strings.Contains(err.Error(), "help requested") {
			t.Errorf("%s --help: %v", name, err)
		}
		if !strings.Contains(out, "Usage: chatr "+name) || !strings.Contains(out, "--") {
			t.Errorf("%s --help says:\n%s", name, out)
		}
		if _, ok := subcommand([]string{name, "--help"}); !ok {
			t.Errorf("main does not dispatch %s", name)
		}
	}
	if _, ok := subcommand([]string{"--addr", ":0"}); ok {
		t.Error("a server flag was taken for a command")
	}
}

func openSQLite(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatr/chatr/postgres"
	"github.com/chatr/chatr/storetest"
)

// TestDurabilitySettings reads back from every connection of the store's
// pool that COMMIT waits for the WAL flush (synchronous_commit=on, fsync=on),
// which is what "durable when AddMessage returns" rests on. The database's
// own default is turned off first, so the store must set it itself.
func TestDurabilitySettings(t *testing.T) {
	connStr := freshSchema(t)
	_, admin := server(t)
	ctx := t.Context()
	var dbName string
	if err := admin.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	// A role default applies to new sessions of that role; a role made for
	// this test keeps other tests' sessions untouched.
	var b [6]byte
	rand.Read(b[:])
	role := "chatr_durability_" + hex.EncodeToString(b[:])
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN SUPERUSER`,
		`ALTER ROLE ` + role + ` SET synchronous_commit = off`,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		for _, q := range []string{`DROP OWNED BY ` + role + ` CASCADE`, `DROP ROLE ` + role} {
			if _, err := admin.Exec(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	u, err := url.Parse(connStr)
	if err != nil {
		t.Fatalf("the test needs a postgres:// URL in CHATR_TEST_POSTGRES: %v", err)
	}
	u.User = url.User(role)

	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pool := postgres.Pool(db)

	// Hold every connection of the pool at once, so that each is asked.
	n := int(pool.Config().MaxConns)
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var user, syncCommit, fsync string
		if err := c.QueryRow(ctx, `SELECT current_user, current_setting('synchronous_commit'), current_setting('fsync')`).Scan(&user, &syncCommit, &fsync); err != nil {
			t.Fatal(err)
		}
		if user != role {
			t.Fatalf("connected as %q, want the test role %q", user, role)
		}
		if syncCommit != "on" {
			t.Errorf("synchronous_commit = %q, want on", syncCommit)
		}
		if fsync != "on" {
			t.Errorf("fsync = %q, want on", fsync)
		}
	}
}

// TestExactlyOnceUnderFaults: commits that fail, hang, or lose their
// COMMIT before or after it took effect store every acknowledged message
// once, under the id it was acknowledged with.
func TestExactlyOnceUnderFaults(t *testing.T) {
	db := openFresh(t)
	postgres.InjectCommitFaults(db, storetest.RandomFaults(1))
	storetest.ExactlyOnceUnderFaults(t, db)
}

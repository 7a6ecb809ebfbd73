package sqlite_test

import (
	"testing"

	"github.com/chatr/chatr/sqlite"
	"github.com/chatr/chatr/storetest"
)

// TestDurabilitySettings reads back from the live connections what makes an
// acknowledged write durable: every connection that can write runs with
// synchronous=FULL in WAL mode (the WAL is synced at every COMMIT, before
// AddMessage returns), and the read connections cannot write at all.
func TestDurabilitySettings(t *testing.T) {
	db := openTemp(t)
	write, read := sqlite.Pools(db)
	ctx := t.Context()

	if n := write.Stats().MaxOpenConnections; n != 1 {
		t.Fatalf("write pool allows %d connections, want exactly 1 (the one checked here)", n)
	}
	var sync int
	if err := write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 2 {
		t.Errorf("write connection: synchronous = %d, want 2 (FULL)", sync)
	}
	var mode string
	if err := write.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}

	// Hold every read connection at once, so that each is asked.
	conns := make([]interface{ Close() error }, 0, read.Stats().MaxOpenConnections)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range read.Stats().MaxOpenConnections {
		c, err := read.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var queryOnly int
		if err := c.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly); err != nil {
			t.Fatal(err)
		}
		if queryOnly != 1 {
			t.Errorf("a read connection can write (query_only = %d), so its synchronous setting would matter", queryOnly)
		}
		if _, err := c.ExecContext(ctx, `CREATE TABLE should_fail (x)`); err == nil {
			t.Errorf("a read connection wrote")
		}
	}
}

// TestExactlyOnceUnderFaults: commits that fail, hang, or lose their
// COMMIT before or after it took effect store every acknowledged message
// once, under the id it was acknowledged with.
func TestExactlyOnceUnderFaults(t *testing.T) {
	db := openTemp(t)
	sqlite.InjectCommitFaults(db, storetest.RandomFaults(1))
	storetest.ExactlyOnceUnderFaults(t, db)
}

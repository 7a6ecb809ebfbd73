package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/storetest"
)

// TestBackupUnderLoad: a backup taken while messages are being written
// holds every message acknowledged before it began, and passes its check.
func TestBackupUnderLoad(t *testing.T) {
	ctx := context.Background()
	path := sqliteDB(t)
	db := openSQLite(t, path)
	storetest.Fill(t, db)

	var (
		mu    sync.Mutex
		acked []chatr.Message
		stop  = make(chan struct{})
		done  = make(chan error, 1)
	)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			m, err := db.AddMessage(ctx, chatr.Message{ChatID: "lobby", FromUserID: "github:1", FromUserName: "One", Text: "load"})
			if err != nil {
				done <- err
				return
			}
			mu.Lock()
			acked = append(acked, m)
			mu.Unlock()
		}
	}()
	waitFor := func(n int) {
		for {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			if err := ctx.Err(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				t.Fatalf("writer stopped: %v", err)
			default:
			}
		}
	}
	waitFor(50)
	mu.Lock()
	before := append([]chatr.Message(nil), acked...)
	mu.Unlock()

	files := t.TempDir()
	os.MkdirAll(filepath.Join(files, "ab"), 0o700)
	os.WriteFile(filepath.Join(files, "ab", "blob1"), []byte("file body"), 0o600)
	// An upload in flight on the serving node is not a file yet.
	os.MkdirAll(filepath.Join(files, ".tmp"), 0o700)
	os.WriteFile(filepath.Join(files, ".tmp", "put-1"), []byte("half a fi"), 0o600)
	backup := filepath.Join(t.TempDir(), "backup.db")
	out, err := runCommand(t, "backup", "--db", path, "--files-dir", files, backup)
	close(stop)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "1 files") {
		t.Errorf("backup output: %s", out)
	}
	if err := integrityCheck(ctx, backup); err != nil {
		t.Fatal(err)
	}

	copy := openSQLite(t, backup)
	have := map[int64]bool{}
	if err := copy.Dump(ctx, chatr.KindMessages, func(r chatr.Row) error {
		if m := r.Value.(chatr.Message); m.ChatID == "lobby" {
			have[m.ID] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, m := range before {
		if !have[m.ID] {
			t.Fatalf("message %d, acknowledged before the backup, is not in it", m.ID)
		}
	}
	if _, err := runCommand(t, "backup", "--db", path, backup); err == nil {
		t.Error("backup over an existing file succeeded")
	}

	// Restore refuses while the database is open, then puts it back.
	if _, err := runCommand(t, "restore", backup, "--db", path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore over an open database: %v, want in use", err)
	}
	db.Close()
	restoredFiles := t.TempDir()
	if out, err := runCommand(t, "restore", backup, "--db", path, "--files-dir", restoredFiles); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(restoredFiles, "ab", "blob1")); err != nil || string(b) != "file body" {
		t.Errorf("restored file: %q, %v", b, err)
	}
	want := storetest.Snapshot(t, copy)
	if got := storetest.Snapshot(t, openSQLite(t, path)); len(got[chatr.KindMessages]) != len(want[chatr.KindMessages]) {
		t.Errorf("restored database has %d messages, the backup %d", len(got[chatr.KindMessages]), len(want[chatr.KindMessages]))
	}
}

func TestRestoreRefusesBadBackup(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, []byte("not a database at all, just text that is long enough"), 0o600)
	path := sqliteDB(t)
	if _, err := runCommand(t, "restore", bad, "--db", path); err == nil {
		t.Fatal("restore of a file that is not a database succeeded")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a failed restore wrote the database")
	}
}

// TestRestoreRefusesRunningServer: a database held by another process (a
// running chatr) is not replaced.
func TestRestoreRefusesRunningServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "chatr")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "live.db")
	backup := filepath.Join(dir, "b.db")
	openSQLite(t, path).Close()
	if _, err := runCommand(t, "backup", "--db", path, backup); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(bin, "--addr", "127.0.0.1:0", "--db", path, "--secret", "0123456789abcdef0123")
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "listening") {
	}
	if lines.Err() != nil {
		t.Fatal(lines.Err())
	}
	go io.Copy(io.Discard, stderr)
	if _, err := runCommand(t, "restore", backup, "--db", path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore under a running server: %v, want in use", err)
	}
}

// TestBackupPostgres runs pg_dump through chatr backup.
func TestBackupPostgres(t *testing.T) {
	_, err := exec.LookPath("pg_dump")
	need(t, "pg_dump (postgresql-client)", err)
	db := postgresDB(t)
	storetest.Fill(t, open(t, db))
	file := filepath.Join(t.TempDir(), "pg.dump")
	if out, err := runCommand(t, "backup", "--db", db, file); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(b), "PGDMP") {
		t.Fatalf("pg_dump file: %.10q, %v", b, err)
	}
}

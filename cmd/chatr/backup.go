package main

import (
	"archive/tar"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/chatr/chatr/aztables"
)

const backupUsage = `backup [--db DB] [--files-dir DIR] FILE

Writes a consistent snapshot of the SQLite database to FILE while Chatr
keeps serving (SQLite's VACUUM INTO: one read transaction, so every message
acknowledged before the backup began is in it), then checks the copy with
PRAGMA integrity_check. With --files-dir naming a folder that exists, its
files go into FILE.files.tar beside the snapshot. FILE must not exist.

For PostgreSQL (--db postgres://...) it runs pg_dump --format=custom, which
must be on the PATH; restore such a file with pg_restore. Table Storage has
no snapshot: copy it to SQLite with chatr migrate instead.
`

func runBackup(ctx context.Context, args []string, out io.Writer) error {
	fs := commandFlags("backup", backupUsage, out)
	db := fs.String("db", "chatr.db", "the database to back up")
	filesDir := fs.String("files-dir", "", "the local files folder to back up with it, if any")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("backup needs one FILE")
	}
	file := fs.Arg(0)
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("%s exists: choose a new file", file)
	}
	switch {
	case aztables.IsConnectionString(*db):
		return errors.New("a Table Storage database has no snapshot: use chatr migrate --to a SQLite file")
	case strings.HasPrefix(*db, "postgres://") || strings.HasPrefix(*db, "postgresql://"):
		return pgDump(ctx, *db, file, out)
	}
	if err := backupSQLite(ctx, *db, file); err != nil {
		return err
	}
	fmt.Fprintf(out, "database: %s\n", file)
	if *filesDir != "" {
		if fi, err := os.Stat(*filesDir); err == nil && fi.IsDir() {
			n, err := tarFolder(*filesDir, file+".files.tar")
			if err != nil {
				return fmt.Errorf("files: %w", err)
			}
			fmt.Fprintf(out, "files: %s (%d files)\n", file+".files.tar", n)
		}
	}
	return nil
}

// openSQLiteFile opens a SQLite file with the driver alone (no migrations,
// no writer), waiting up to ten seconds for a lock.
func openSQLiteFile(path string, readOnly bool) (*sql.DB, error) {
	dsn := path + "?_pragma=busy_timeout(10000)"
	if readOnly {
		dsn = "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)"
	}
	return sql.Open("sqlite", dsn)
}

// backupSQLite snapshots db into file and checks the copy.
func backupSQLite(ctx context.Context, db, file string) error {
	if _, err := os.Stat(db); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	conn, err := openSQLiteFile(db, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, file); err != nil {
		os.Remove(file)
		return fmt.Errorf("snapshot %s: %w", db, err)
	}
	if err := integrityCheck(ctx, file); err != nil {
		return fmt.Errorf("the snapshot fails its check: %w", err)
	}
	return nil
}

// integrityCheck runs PRAGMA integrity_check on the SQLite file at path.
func integrityCheck(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	conn, err := openSQLiteFile(path, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", path, strings.Join(problems, "; "))
	}
	var tables int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name IN ('users', 'chats', 'messages')`).Scan(&tables); err != nil || tables != 3 {
		return fmt.Errorf("%s is not a Chatr database", path)
	}
	return nil
}

func pgDump(ctx context.Context, db, file string, out io.Writer) error {
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		return errors.New("pg_dump is not installed (Debian: apt-get install postgresql-client)")
	}
	args := []string{"--format=custom", "--no-owner", "--file=" + file}
	// search_path and pool_max_conns are the Go driver's, not libpq's: a
	// search_path becomes the schema to dump.
	if u, err := url.Parse(db); err == nil {
		q := u.Query()
		for _, schema := range strings.Split(q.Get("search_path"), ",") {
			if schema = strings.TrimSpace(schema); schema != "" {
				args = append(args, "--schema="+schema)
			}
		}
		q.Del("search_path")
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
		db = u.String()
	}
	cmd := exec.CommandContext(ctx, bin, append(args, "--dbname="+db)...)
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	if err := cmd.Run(); err != nil {
		os.Remove(file)
		return fmt.Errorf("pg_dump: %w", err)
	}
	fmt.Fprintf(out, "database: %s (pg_restore format)\n", file)
	return nil
}

// tarFolder writes the regular files under dir to a new tar file, with
// paths relative to dir. The folder may be a serving node's: files that
// vanish meanwhile (a sweep, a deleted message) are left out, and so is
// every entry named with a leading dot (no blob key has one; uploads in
// flight write under .tmp).
func tarFolder(dir, file string) (int, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(f)
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		src, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		defer src.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		// A file that grows meanwhile is cut at the size the header gave.
		if _, err := io.CopyN(tw, src, hdr.Size); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
	}
	return n, err
}

// sqlOpenExclusive opens the file with exclusive locking and no waiting,
// to find out whether anyone else holds it.
func sqlOpenExclusive(path string) (*sql.DB, error) {
	conn, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	return conn, nil
}

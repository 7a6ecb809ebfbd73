package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const restoreUsage = `restore FILE --db PATH [--files-dir DIR]

Puts the SQLite backup FILE (from chatr backup) in place of the database
PATH after checking it (PRAGMA integrity_check). It refuses while any
process holds PATH open (a running Chatr): stop the server first. The
database's -wal and -shm files are removed with it, since they belong to
the database being replaced. With --files-dir, FILE.files.tar (if the
backup has one) is unpacked into DIR, over what is there.

PostgreSQL backups are pg_dump files: restore them with pg_restore.
`

func runRestore(ctx context.Context, args []string, out io.Writer) error {
	fs := commandFlags("restore", restoreUsage, out)
	db := fs.String("db", "chatr.db", "the SQLite file to replace")
	filesDir := fs.String("files-dir", "", "the local files folder to restore into, if any")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("restore needs one FILE")
	}
	file := pos[0]
	if strings.Contains(*db, "://") {
		return errors.New("restore writes SQLite files; restore a PostgreSQL dump with pg_restore")
	}
	if err := integrityCheck(ctx, file); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	busy, err := inUse(ctx, *db)
	if err != nil {
		return err
	}
	if busy {
		return fmt.Errorf("%s is in use (is Chatr running on it?): stop it before restoring", *db)
	}
	if err := replaceFile(file, *db); err != nil {
		return err
	}
	fmt.Fprintf(out, "database: %s restored from %s\n", *db, file)
	if *filesDir != "" {
		if _, err := os.Stat(file + ".files.tar"); err == nil {
			n, err := untar(file+".files.tar", *filesDir)
			if err != nil {
				return fmt.Errorf("files: %w", err)
			}
			fmt.Fprintf(out, "files: %d restored into %s\n", n, *filesDir)
		}
	}
	return nil
}

// inUse reports whether another connection holds the SQLite file open. A
// connection in WAL mode keeps a shared lock on the file for as long as it
// is open; asking for an exclusive lock without waiting fails while any
// does.
func inUse(ctx context.Context, path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	conn, err := sqlOpenExclusive(path)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN EXCLUSIVE; COMMIT`)
	if err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked")) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return false, nil
}

// replaceFile copies src beside dst, syncs it and renames it over dst, so
// that a crash leaves either the old database or the new one.
func replaceFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".restoring"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, dst)
}

// untar unpacks the tar file into dir, refusing paths that leave it.
func untar(file, dir string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.FromSlash(hdr.Name)
		if !filepath.IsLocal(name) {
			return n, fmt.Errorf("%q leaves the folder", hdr.Name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return n, err
		}
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return n, err
		}
		_, err = io.Copy(w, tr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

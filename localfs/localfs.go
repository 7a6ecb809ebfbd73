// Package localfs implements chatr.Blobs on a local folder, Chatr's default
// file storage: nothing to run, kept beside the SQLite file.
//
// A blob with key "ab/cd" is the file <dir>/ab/cd. Put writes into
// <dir>/.tmp first, syncs the file, renames it into place and syncs the
// directory, so a blob is either absent or whole and durable; what a crash
// leaves in .tmp is removed by RemovePartial. Keys never start a segment
// with '.', so .tmp is never a blob.
//
// The package knows the Blobs contract of package chatr and nothing else.
// Several processes may share a folder only if they share nothing else
// that depends on Put's ordering; Chatr's clusters use package s3 instead.
package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chatr/chatr"
)

const tmpDir = ".tmp"

// copyBufSize is the one buffer a transfer holds: memory per Put is this
// much whatever the blob's size.
const copyBufSize = 64 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// Dir is a chatr.Blobs on a folder.
type Dir struct {
	root string
}

var _ chatr.Blobs = (*Dir)(nil)

// Open returns the blobs kept in dir, creating the folder if needed.
func Open(dir string) (*Dir, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	return &Dir{root: root}, nil
}

func (d *Dir) path(key string) (string, error) {
	if !chatr.ValidBlobKey(key) {
		return "", chatr.Errorf(chatr.EINVALID, "bad blob key")
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes r to a temporary file, syncs it, and renames it to key.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, limit int64) (int64, error) {
	final, err := d.path(key)
	if err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Join(d.root, tmpDir), "put-*")
	if err != nil {
		return 0, fmt.Errorf("localfs: put: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// writerOnly hides tmp's ReadFrom, which would allocate its own buffer.
	n, err := io.CopyBuffer(writerOnly{tmp}, ctxReader{ctx, io.LimitReader(r, limit+1)}, *bp)
	if err != nil {
		return 0, fmt.Errorf("localfs: put: %w", err)
	}
	if n > limit {
		return 0, chatr.Errorf(chatr.ELIMIT, "file is larger than %d bytes", limit)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("localfs: put: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("localfs: put: %w", err)
	}
	dir := filepath.Dir(final)
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, fmt.Errorf("localfs: put: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return 0, fmt.Errorf("localfs: put: %w", err)
	}
	committed = true
	// The rename is durable once the directory holding the new name is
	// synced; a directory just created needs its own name synced too.
	syncUpTo := dir
	if statErr != nil {
		syncUpTo = d.root
	}
	for p := dir; ; p = filepath.Dir(p) {
		if err := syncDir(p); err != nil {
			return 0, fmt.Errorf("localfs: put: %w", err)
		}
		if p == syncUpTo || len(p) <= len(d.root) {
			break
		}
	}
	return n, nil
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Get opens the blob's file.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadSeekCloser, chatr.BlobInfo, error) {
	path, err := d.path(key)
	if err != nil {
		return nil, chatr.BlobInfo{}, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, chatr.BlobInfo{}, chatr.Errorf(chatr.ENOTFOUND, "no such file")
	} else if err != nil {
		return nil, chatr.BlobInfo{}, fmt.Errorf("localfs: get: %w", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, chatr.BlobInfo{}, chatr.Errorf(chatr.ENOTFOUND, "no such file")
	}
	return f, chatr.BlobInfo{Key: key, Size: st.Size(), Modified: st.ModTime().UTC()}, nil
}

// Delete removes the blob's file.
func (d *Dir) Delete(ctx context.Context, key string) error {
	path, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localfs: delete: %w", err)
	}
	return nil
}

// List walks the folder, leaving out .tmp and anything that is not a
// regular file under a valid key.
func (d *Dir) List(ctx context.Context, fn func(chatr.BlobInfo) error) error {
	return filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if path == d.root {
			return nil
		}
		if e.IsDir() {
			if strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.root, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !chatr.ValidBlobKey(key) {
			return nil
		}
		st, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		return fn(chatr.BlobInfo{Key: key, Size: st.Size(), Modified: st.ModTime().UTC()})
	})
}

// RemovePartial removes temporary files last written before olderThan.
func (d *Dir) RemovePartial(ctx context.Context, olderThan time.Time) (int, error) {
	entries, err := os.ReadDir(filepath.Join(d.root, tmpDir))
	if err != nil {
		return 0, fmt.Errorf("localfs: %w", err)
	}
	removed := 0
	for _, e := range entries {
		st, err := e.Info()
		if err != nil || !st.ModTime().Before(olderThan) {
			continue
		}
		if err := os.Remove(filepath.Join(d.root, tmpDir, e.Name())); err == nil {
			removed++
		}
	}
	return removed, nil
}

type writerOnly struct{ io.Writer }

// ctxReader stops a copy once ctx is done, so a cancelled upload stops
// writing at its next read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

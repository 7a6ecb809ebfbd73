package chatr

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// Blobs keeps the bytes of uploaded files under opaque keys. The
// implementations (localfs on a folder, s3 on an S3-compatible object store)
// pass the conformance suite in package blobstest.
//
// Keys are chosen by the server, never by a client: ValidBlobKey says which
// are allowed, and every method answers EINVALID for any other. Methods are
// safe for concurrent use.
type Blobs interface {
	// Put stores the bytes of r under key and returns how many it stored.
	// It reads at most limit bytes: when r has more, Put stores nothing and
	// returns an ELIMIT error. It returns only once the bytes are durable,
	// and never makes a partial blob visible: a Put that fails, is
	// cancelled or is cut off by a crash leaves the key as it was. Putting
	// an existing key replaces its bytes whole.
	Put(ctx context.Context, key string, r io.Reader, limit int64) (int64, error)
	// Get opens the blob for reading; the reader seeks (so byte ranges cost
	// no more than they read) and must be closed. ENOTFOUND if there is no
	// such blob.
	Get(ctx context.Context, key string) (io.ReadSeekCloser, BlobInfo, error)
	// Delete removes the blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every stored blob, in no particular order, and
	// stops at fn's first error, which it returns. Partial writes are never
	// listed. Blobs put or deleted while List runs may or may not be seen.
	List(ctx context.Context, fn func(BlobInfo) error) error
	// RemovePartial removes what interrupted Puts begun before olderThan
	// left behind (temporary files, unfinished multipart uploads) and
	// returns how many it removed.
	RemovePartial(ctx context.Context, olderThan time.Time) (int, error)
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Key      string
	Size     int64
	Modified time.Time // when it was put, in UTC
}

// ValidBlobKey reports whether key may name a blob: 1 to 200 bytes of
// lowercase letters, digits, '-', '_' and '.', in segments separated by
// single '/', no segment starting with '.'. That keeps every key a plain
// relative path on any file system and in any object store.
func ValidBlobKey(key string) bool {
	if key == "" || len(key) > 200 {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg[0] == '.' {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return false
			}
		}
	}
	return true
}

// SweepBlobs deletes every blob put before olderThan that isReferenced
// says nothing points at any more (a file whose row was never written, or
// was deleted with its message or chat), and the leftovers of interrupted
// Puts from before olderThan. It returns how many it removed. olderThan
// must leave time for an upload in flight to write its row after its Put,
// or the sweep would delete a blob about to be referenced.
func SweepBlobs(ctx context.Context, b Blobs, olderThan time.Time, isReferenced func(ctx context.Context, key string) (bool, error)) (int, error) {
	removed, err := b.RemovePartial(ctx, olderThan)
	if err != nil {
		return removed, err
	}
	// Collect first, delete after: deleting while listing would change what
	// a paged listing returns.
	var stale []string
	err = b.List(ctx, func(info BlobInfo) error {
		if !info.Modified.Before(olderThan) {
			return nil
		}
		ref, err := isReferenced(ctx, info.Key)
		if err != nil {
			return err
		}
		if !ref {
			stale = append(stale, info.Key)
		}
		return nil
	})
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, key := range stale {
		if err := b.Delete(ctx, key); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

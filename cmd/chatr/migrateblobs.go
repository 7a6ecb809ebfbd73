package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/localfs"
	"github.com/chatr/chatr/s3"
)

// openBlobs opens where a server keeps the bytes of files: an S3 URL
// (as --files-s3) or a folder (as --files-dir).
func openBlobs(ctx context.Context, where string) (chatr.Blobs, error) {
	if isURL(where) {
		c, err := s3.ParseURL(where, os.Getenv)
		if err != nil {
			return nil, err
		}
		return s3.Open(ctx, c)
	}
	return localfs.Open(where)
}

func isURL(where string) bool {
	return strings.HasPrefix(where, "https://") || strings.HasPrefix(where, "http://")
}

// countRows counts the rows of kind in st (0 when it has none or cannot
// dump them).
func countRows(ctx context.Context, st chatr.Store, kind string) int {
	d, err := asDumper(st)
	if err != nil {
		return 0
	}
	n := 0
	d.Dump(ctx, kind, func(chatr.Row) error { n++; return nil })
	return n
}

// copyBlobs copies the blobs of every file src knows (its bytes and its
// thumbnail) from one blob store to another, skipping those the
// destination holds already at the same size: run again, it copies only
// what an interrupted run left out.
func copyBlobs(ctx context.Context, src chatr.Store, from, to chatr.Blobs, p progress) error {
	d, err := asDumper(src)
	if err != nil {
		return err
	}
	var keys []string
	err = d.Dump(ctx, chatr.KindFiles, func(r chatr.Row) error {
		f := r.Value.(chatr.FileRow)
		keys = append(keys, f.Key)
		if f.ThumbKey != "" {
			keys = append(keys, f.ThumbKey)
		}
		return nil
	})
	if chatr.ErrorCode(err) == chatr.EINVALID {
		return nil // a store from before files
	} else if err != nil {
		return fmt.Errorf("migrate blobs: %w", err)
	}
	const kind = "blobs"
	for i, key := range keys {
		if err := copyBlob(ctx, from, to, key); err != nil {
			return fmt.Errorf("migrate blob %s: %w", key, err)
		}
		if (i+1)%100 == 0 {
			p.update(kind, i+1, len(keys))
		}
	}
	p.finish(kind, len(keys))
	return nil
}

func copyBlob(ctx context.Context, from, to chatr.Blobs, key string) error {
	r, info, err := from.Get(ctx, key)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return nil // removed meanwhile, with its file
	} else if err != nil {
		return err
	}
	defer r.Close()
	have, got, err := to.Get(ctx, key)
	if err == nil {
		have.Close()
		if got.Size == info.Size {
			return nil
		}
	} else if chatr.ErrorCode(err) != chatr.ENOTFOUND {
		return err
	}
	n, err := to.Put(ctx, key, r, info.Size)
	if err == nil && n != info.Size {
		err = errors.New("copied a different size")
	}
	return err
}

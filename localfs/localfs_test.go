package localfs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/blobstest"
	"github.com/chatr/chatr/localfs"
)

func open(t *testing.T) chatr.Blobs {
	d, err := localfs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBlobs(t *testing.T) { blobstest.Run(t, open) }

// An upload cut off by a crash leaves a file in .tmp: never listed, and
// removed by RemovePartial once older than the cut-off.
func TestRemovePartial(t *testing.T) {
	dir := t.TempDir()
	d, err := localfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	left := filepath.Join(dir, ".tmp", "put-crashed")
	if err := os.WriteFile(left, []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.List(ctx, func(info chatr.BlobInfo) error {
		t.Errorf("List shows %q, want nothing", info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RemovePartial(ctx, time.Now().Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("RemovePartial(a minute ago) = %d, %v; want 0: the write may be in flight", n, err)
	}
	if n, err := d.RemovePartial(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("RemovePartial(now) = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("partial file still there: %v", err)
	}
}

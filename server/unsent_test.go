package server_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/chatr/chatr/server"
)

// TestUnsentFilesAreRemoved: a file uploaded but never sent goes, bytes
// and row, once older than UnsentAfter, and gives its quota back; a sent
// one stays.
func TestUnsentFilesAreRemoved(t *testing.T) {
	e := newFileEnv(t, server.Files{QuotaBytes: 150 << 10, SweepEvery: 50 * time.Millisecond, UnsentAfter: 2 * time.Second})
	st, sent := upload(t, e.alice, e.group, "sent.txt", []byte("kept"))
	if st != 201 {
		t.Fatalf("upload: %d %v", st, sent)
	}
	if f, err := e.ca.Call(map[string]any{"type": "sendToGroup", "group": e.group, "dataType": "json",
		"data": map[string]any{"message": "here", "files": []any{sent["id"]}}}); err != nil || !f.Success {
		t.Fatalf("send with a file: %+v %v", f, err)
	}
	st, unsent := upload(t, e.alice, e.group, "unsent.bin", bytes.Repeat([]byte("u"), 100<<10))
	if st != 201 {
		t.Fatalf("upload: %d %v", st, unsent)
	}
	blobs := blobFiles(t, e.dir)
	if len(blobs) != 2 {
		t.Fatalf("blobs %v, want two", blobs)
	}
	// The unsent file holds 100 KiB of the 150 KiB quota.
	if st, _ := upload(t, e.alice, e.group, "more.bin", bytes.Repeat([]byte("m"), 100<<10)); st != 413 {
		t.Fatalf("upload over quota: %d, want 413", st)
	}

	eventually(t, "the unsent file is removed", func() bool {
		st, _, _ := get(t, e.alice, unsent["url"].(string))
		return st == 404
	})
	eventually(t, "its blob is removed", func() bool {
		return len(blobFiles(t, e.dir)) == 1
	})
	if left := blobFiles(t, e.dir); !slices.Contains(blobs, left[0]) {
		t.Errorf("blob left %v, want the sent file's, one of %v", left, blobs)
	}
	if st, _, body := get(t, e.bob, sent["url"].(string)); st != 200 || string(body) != "kept" {
		t.Errorf("the sent file: %d %q", st, body)
	}
	// Its share of the quota is free again, and a fresh upload is kept
	// while it is younger than UnsentAfter.
	st, fresh := upload(t, e.alice, e.group, "more.bin", bytes.Repeat([]byte("m"), 100<<10))
	if st != 201 {
		t.Fatalf("upload after the sweep: %d %v", st, fresh)
	}
	if st, _, _ := get(t, e.alice, fresh["url"].(string)); st != 200 {
		t.Errorf("a fresh unsent file: %d, want 200", st)
	}
	// Sending a removed file is refused.
	if name := ackError(t, e.ca, map[string]any{"type": "sendToGroup", "group": e.group, "dataType": "json",
		"data": map[string]any{"message": "late", "files": []any{unsent["id"]}}}); name != "NotFound" {
		t.Errorf("sending a removed file: ack %q, want NotFound", name)
	}
}

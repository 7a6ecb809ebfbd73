// Package blobstest is the conformance suite for chatr.Blobs: the executable
// form of the contract written on the interface. Every implementation runs
// it from its own tests:
//
//	func TestBlobs(t *testing.T) { blobstest.Run(t, openTestBlobs) }
//
// The suite knows only package chatr: nothing of folders or object stores.
// Times are compared with a second's slack, as object stores keep
// modification times in whole seconds.
package blobstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

// Run runs every conformance test against blobs made by open. open is called
// once per subtest and must return a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) chatr.Blobs) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b chatr.Blobs)
	}{
		{"PutGet", testPutGet},
		{"Empty", testEmpty},
		{"Large", testLarge},
		{"Seek", testSeek},
		{"Limit", testLimit},
		{"Replace", testReplace},
		{"FailedPutLeavesNothing", testFailedPut},
		{"CancelledPutLeavesNothing", testCancelledPut},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"BadKeys", testBadKeys},
		{"List", testList},
		{"Sweep", testSweep},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var ctx = context.Background()

func code(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := chatr.ErrorCode(err); got != want {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, want)
	}
}

func put(t *testing.T, b chatr.Blobs, key string, data []byte) {
	t.Helper()
	n, err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put(%s) = %d bytes, want %d", key, n, len(data))
	}
}

func read(t *testing.T, b chatr.Blobs, key string) ([]byte, chatr.BlobInfo) {
	t.Helper()
	r, info, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%s): read: %v", key, err)
	}
	return data, info
}

func absent(t *testing.T, b chatr.Blobs, key string) {
	t.Helper()
	r, _, err := b.Get(ctx, key)
	if err == nil {
		r.Close()
	}
	code(t, "Get("+key+")", err, chatr.ENOTFOUND)
}

// pattern returns n bytes that differ at every offset a short run would
// repeat, so a misplaced range or a dropped chunk shows.
func pattern(n int, seed byte) []byte {
	out := make([]byte, n)
	x := uint32(seed) + 1
	for i := range out {
		x = x*1664525 + 1013904223
		out[i] = byte(x >> 24)
	}
	return out
}

func near(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s = %v, want UTC", what, got)
	}
	if d := got.Sub(want); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("%s = %v, want about %v", what, got, want)
	}
}

func testPutGet(t *testing.T, b chatr.Blobs) {
	data := []byte("hello, files")
	before := time.Now()
	put(t, b, "ab/hello", data)
	got, info := read(t, b, "ab/hello")
	if !bytes.Equal(got, data) {
		t.Errorf("Get = %q, want %q", got, data)
	}
	if info.Key != "ab/hello" || info.Size != int64(len(data)) {
		t.Errorf("info = %+v, want key ab/hello size %d", info, len(data))
	}
	near(t, "Modified", info.Modified, before)
}

func testEmpty(t *testing.T, b chatr.Blobs) {
	put(t, b, "empty", nil)
	got, info := read(t, b, "empty")
	if len(got) != 0 || info.Size != 0 {
		t.Errorf("Get = %d bytes, size %d; want 0", len(got), info.Size)
	}
}

func testLarge(t *testing.T, b chatr.Blobs) {
	const size = 6<<20 + 123 // above S3's smallest multipart part
	data := pattern(size, 1)
	put(t, b, "large/one", data)
	got, info := read(t, b, "large/one")
	if sha256.Sum256(got) != sha256.Sum256(data) || info.Size != size {
		t.Errorf("Get = %d bytes (size %d), want the %d bytes put", len(got), info.Size, size)
	}
}

func testSeek(t *testing.T, b chatr.Blobs) {
	data := pattern(300_000, 2)
	put(t, b, "seek", data)
	r, _, err := b.Get(ctx, "seek")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, off := range []int64{200_000, 17, 299_990} {
		if pos, err := r.Seek(off, io.SeekStart); err != nil || pos != off {
			t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if !bytes.Equal(buf, data[off:off+10]) {
			t.Errorf("bytes at %d = %x, want %x", off, buf, data[off:off+10])
		}
	}
	if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
		t.Errorf("Seek(0, end) = %d, %v; want %d", end, err, len(data))
	}
}

func testLimit(t *testing.T, b chatr.Blobs) {
	data := pattern(1000, 3)
	if n, err := b.Put(ctx, "exact", bytes.NewReader(data), 1000); err != nil || n != 1000 {
		t.Fatalf("Put at the limit = %d, %v", n, err)
	}
	_, err := b.Put(ctx, "over", bytes.NewReader(data), 999)
	code(t, "Put over the limit", err, chatr.ELIMIT)
	absent(t, b, "over")
}

func testReplace(t *testing.T, b chatr.Blobs) {
	put(t, b, "k", []byte("first version, longer"))
	put(t, b, "k", []byte("second"))
	if got, _ := read(t, b, "k"); string(got) != "second" {
		t.Errorf("Get = %q, want %q", got, "second")
	}
}

// failAfter yields n bytes, then an error, as a client whose upload breaks.
type failAfter struct{ n int }

var errBroken = errors.New("connection reset")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errBroken
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func testFailedPut(t *testing.T, b chatr.Blobs) {
	if _, err := b.Put(ctx, "broken", &failAfter{n: 100_000}, 1<<20); err == nil {
		t.Fatal("Put of a broken reader succeeded")
	}
	absent(t, b, "broken")
	put(t, b, "kept", []byte("old"))
	if _, err := b.Put(ctx, "kept", &failAfter{n: 10}, 1<<20); err == nil {
		t.Fatal("Put of a broken reader succeeded")
	}
	if got, _ := read(t, b, "kept"); string(got) != "old" {
		t.Errorf("after a failed replace Get = %q, want %q", got, "old")
	}
	assertKeys(t, b, "kept")
}

// cancelAfter cancels its context after n bytes, then goes on yielding.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	k := min(len(p), 4096)
	c.n -= k
	clear(p[:k])
	return k, nil
}

func testCancelledPut(t *testing.T, b chatr.Blobs) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := b.Put(cctx, "cancelled", &cancelAfter{n: 50_000, cancel: cancel}, 10<<20); err == nil {
		t.Fatal("cancelled Put succeeded")
	}
	absent(t, b, "cancelled")
}

func testMissing(t *testing.T, b chatr.Blobs) {
	absent(t, b, "never/put")
	if err := b.Delete(ctx, "never/put"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
}

func testDelete(t *testing.T, b chatr.Blobs) {
	put(t, b, "d/one", []byte("1"))
	put(t, b, "d/two", []byte("2"))
	if err := b.Delete(ctx, "d/one"); err != nil {
		t.Fatal(err)
	}
	absent(t, b, "d/one")
	if got, _ := read(t, b, "d/two"); string(got) != "2" {
		t.Errorf("Get(d/two) = %q after deleting d/one", got)
	}
}

func testBadKeys(t *testing.T, b chatr.Blobs) {
	for _, key := range []string{"", "../escape", "a/../../b", "/abs", "a//b", ".tmp/x", "a/.hidden", "UPPER", "sp ace", "back\\slash", "nul\x00"} {
		_, err := b.Put(ctx, key, bytes.NewReader([]byte("x")), 10)
		code(t, fmt.Sprintf("Put(%q)", key), err, chatr.EINVALID)
		_, _, err = b.Get(ctx, key)
		code(t, fmt.Sprintf("Get(%q)", key), err, chatr.EINVALID)
		code(t, fmt.Sprintf("Delete(%q)", key), b.Delete(ctx, key), chatr.EINVALID)
	}
}

func listed(t *testing.T, b chatr.Blobs) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	if err := b.List(ctx, func(info chatr.BlobInfo) error {
		out[info.Key] = info.Size
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	return out
}

func assertKeys(t *testing.T, b chatr.Blobs, want ...string) {
	t.Helper()
	got := listed(t, b)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("List = %v, want %v", keys, want)
	}
}

func testList(t *testing.T, b chatr.Blobs) {
	assertKeys(t, b)
	put(t, b, "l/a", []byte("a"))
	put(t, b, "l/b/c", []byte("bc"))
	put(t, b, "top", []byte("top!"))
	got := listed(t, b)
	want := map[string]int64{"l/a": 1, "l/b/c": 2, "top": 4}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	stop := errors.New("stop")
	calls := 0
	err := b.List(ctx, func(chatr.BlobInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func testSweep(t *testing.T, b chatr.Blobs) {
	put(t, b, "s/kept", []byte("referenced"))
	put(t, b, "s/orphan", []byte("nobody points here"))
	referenced := func(_ context.Context, key string) (bool, error) { return key == "s/kept", nil }

	// Blobs newer than olderThan may belong to uploads still writing their row.
	n, err := chatr.SweepBlobs(ctx, b, time.Now().Add(-time.Hour), referenced)
	if err != nil || n != 0 {
		t.Fatalf("SweepBlobs(an hour ago) = %d, %v; want 0", n, err)
	}
	assertKeys(t, b, "s/kept", "s/orphan")

	n, err = chatr.SweepBlobs(ctx, b, time.Now().Add(time.Minute), referenced)
	if err != nil || n != 1 {
		t.Fatalf("SweepBlobs(now) = %d, %v; want 1", n, err)
	}
	assertKeys(t, b, "s/kept")

	if n, err := b.RemovePartial(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("RemovePartial with nothing partial = %d, %v", n, err)
	}
}

func testConcurrent(t *testing.T, b chatr.Blobs) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := pattern(50_000+i, byte(i))
			if _, err := b.Put(ctx, fmt.Sprintf("c/%d", i), bytes.NewReader(data), 1<<20); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range n {
		got, _ := read(t, b, fmt.Sprintf("c/%d", i))
		if !bytes.Equal(got, pattern(50_000+i, byte(i))) {
			t.Errorf("c/%d holds other bytes than were put", i)
		}
	}
}

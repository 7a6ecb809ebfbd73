package files_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/chatr/chatr/files"
)

const bigSize = 25 << 20

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// bigForm streams a multipart body with one file of n bytes, never holding
// the file in memory.
func bigForm(n int64) (io.Reader, string) {
	head := "--bound\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	return io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, n), strings.NewReader("\r\n--bound--\r\n")),
		"multipart/form-data; boundary=bound"
}

// discard is a ResponseWriter that keeps headers and drops the body, as a
// network connection would, so that what is measured is the handler's.
type discard struct {
	h      http.Header
	status int
	n      int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(status int)      { d.status = status }
func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

func uploadBig(tb testing.TB, e *env) string {
	body, ct := bigForm(bigSize)
	r := httptest.NewRequest("POST", "/api/chats/c1/files", body)
	r.Header.Set("X-User", "alice")
	r.Header.Set("Content-Type", ct)
	w := &discard{h: http.Header{}}
	e.h.ServeHTTP(w, r)
	if w.status != http.StatusCreated {
		tb.Fatalf("upload: status %d", w.status)
	}
	return "/api/files/" + lastID(tb, e)
}

func lastID(tb testing.TB, e *env) string {
	fs, err := e.store.ListChatFiles(context.Background(), "c1")
	if err != nil || len(fs) == 0 {
		tb.Fatalf("no file stored: %v", err)
	}
	return fs[len(fs)-1].ID
}

func downloadBig(tb testing.TB, e *env, url string) {
	r := httptest.NewRequest("GET", url, nil)
	r.Header.Set("X-User", "alice")
	w := &discard{h: http.Header{}}
	e.h.ServeHTTP(w, r)
	if w.status != http.StatusOK || w.n != bigSize {
		tb.Fatalf("download: status %d, %d bytes", w.status, w.n)
	}
}

// allocated returns the bytes fn allocates on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A 25 MiB upload and download each allocate a bounded few hundred KB,
// not the file: the bytes stream from the request to the blob and back.
func TestTransferMemoryIsBounded(t *testing.T) {
	e := newEnv(t, files.Config{})
	var url string
	up := allocated(func() { url = uploadBig(t, e) })
	down := allocated(func() { downloadBig(t, e, url) })
	t.Logf("25 MiB upload allocated %d KB, download %d KB", up>>10, down>>10)
	const bound = 1 << 20
	if up > bound || down > bound {
		t.Errorf("allocated %d bytes to upload and %d to download 25 MiB; want under %d each", up, down, bound)
	}
}

func BenchmarkUpload25MB(b *testing.B) {
	e := newEnv(b, files.Config{})
	b.SetBytes(bigSize)
	b.ReportAllocs()
	for b.Loop() {
		uploadBig(b, e)
	}
}

func BenchmarkDownload25MB(b *testing.B) {
	e := newEnv(b, files.Config{})
	url := uploadBig(b, e)
	b.SetBytes(bigSize)
	b.ReportAllocs()
	for b.Loop() {
		downloadBig(b, e, url)
	}
}

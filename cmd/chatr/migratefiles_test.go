package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/files"
	"github.com/chatr/chatr/localfs"
	"github.com/chatr/chatr/storetest"
)

// TestMigrateFiles copies a SQLite store whose messages carry files, with
// the files' folder, to PostgreSQL and another folder: the files download
// from the copy, a second run copies nothing again, and a blob lost from
// the destination comes back on the next run.
func TestMigrateFiles(t *testing.T) {
	ctx := context.Background()
	src, dst := sqliteDB(t), postgresDB(t)
	srcDir, dstDir := filepath.Join(t.TempDir(), "src.files"), filepath.Join(t.TempDir(), "dst.files")
	st := open(t, src)
	storetest.Fill(t, st) // files file1 (with a thumbnail) and file2 on lobby's message 1, file3 unsent
	st.Close()
	srcBlobs, err := localfs.Open(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	content := map[string]string{"files/file1": "png bytes", "thumbs/file1": "\x89PNG\r\n\x1a\nthumb", "files/file2": "notes", "files/file3": "pdf"}
	for key, body := range content {
		if _, err := srcBlobs.Put(ctx, key, strings.NewReader(body), 1<<20); err != nil {
			t.Fatal(err)
		}
	}

	out, err := runCommand(t, "migrate", "--from", src, "--to", dst)
	if err != nil || !strings.Contains(out, "files: done, 3 rows") || !strings.Contains(out, "3 files' bytes not copied") {
		t.Fatalf("migrate without files' folders: %v\n%s", err, out)
	}
	for run := range 2 {
		out, err := runCommand(t, "migrate", "--from", src, "--to", dst, "--from-files", srcDir, "--to-files", dstDir, "--batch", "3")
		if err != nil || !strings.Contains(out, "blobs: done, 4 rows") {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
	}
	sameSnapshot(t, snapshot(t, dst), snapshot(t, src))

	copied := open(t, dst)
	dstBlobs, err := localfs.Open(dstDir)
	if err != nil {
		t.Fatal(err)
	}
	fs := copied.(chatr.FileStore)
	got, err := fs.MessageFiles(ctx, "lobby", []int64{1})
	if err != nil || len(got[1]) != 2 || got[1][0].ID != "file2" || got[1][1].ID != "file1" {
		t.Fatalf("files of lobby's message 1 in the copy: %+v %v", got, err)
	}
	h := files.NewHandler(files.Config{Blobs: dstBlobs, Files: fs, IsMember: copied.IsMember,
		User: func(http.ResponseWriter, *http.Request) (string, error) { return "github:1", nil }})
	download := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, string(b)
	}
	for path, want := range map[string]string{"/api/files/file1": "png bytes", "/api/files/file1/thumb": "\x89PNG\r\n\x1a\nthumb", "/api/files/file2": "notes", "/api/files/file3": "pdf"} {
		if code, body := download(path); code != 200 || body != want {
			t.Errorf("GET %s from the copy: %d %q, want %q", path, code, body, want)
		}
	}

	// A blob lost from the destination comes back; the others stay.
	if err := dstBlobs.Delete(ctx, "files/file2"); err != nil {
		t.Fatal(err)
	}
	if out, err := runCommand(t, "migrate", "--from", src, "--to", dst, "--from-files", srcDir, "--to-files", dstDir); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	r, _, err := dstBlobs.Get(ctx, "files/file2")
	if err != nil {
		t.Fatalf("lost blob after a resumed run: %v", err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(b, []byte("notes")) {
		t.Errorf("lost blob after a resumed run: %q", b)
	}

	for _, args := range [][]string{{"--from-files", srcDir}, {"--to-files", dstDir}, {"--from-files", srcDir, "--to-files", srcDir},
		{"--from-files", filepath.Join(srcDir, "missing"), "--to-files", dstDir}} {
		if _, err := runCommand(t, append([]string{"migrate", "--from", src, "--to", sqliteDB(t)}, args...)...); err == nil {
			t.Errorf("migrate %v succeeded", args)
		}
	}
}

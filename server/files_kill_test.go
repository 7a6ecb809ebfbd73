package server_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
)

// TestUploadCutBySIGKILL kills the server while uploads stream in: after
// a restart nothing of them is visible (no file in the chat's history, no
// blob), and the sweep at start removes the partial files they left.
func TestUploadCutBySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	dir := t.TempDir()
	db, blobs := filepath.Join(dir, "chatr.db"), filepath.Join(dir, "blobs")
	port := testnode.FreePort(t)
	flags := []string{"--files-dir", blobs, "--file-sweep-grace", "1ms"}
	proc := testnode.StartProcess(t, db, port, flags...)
	alice := guest(t, proc.Base, "Alice")
	c := alice.Connect(wsclient.JSON)
	mustAck(t, c, "createChat", map[string]string{"name": "Cut", "id": "cut"})
	mustAck(t, c, "joinChat", "cut")

	// Three uploads that send half their declared bytes, then stall.
	const uploads = 3
	for range uploads {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go func() {
			pw.Write([]byte("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"))
			pw.Write(make([]byte, 1<<20))
		}()
		req, _ := http.NewRequest("POST", proc.Base+"/api/chats/cut/files", pr)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		req.ContentLength = 2 << 20
		go func() {
			if resp, err := alice.HTTP.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	tmp := filepath.Join(blobs, ".tmp")
	eventually(t, "the uploads are being written", func() bool {
		entries, _ := os.ReadDir(tmp)
		written := 0
		for _, e := range entries {
			if st, err := e.Info(); err == nil && st.Size() > 0 {
				written++
			}
		}
		return written == uploads
	})
	proc.Cmd.Process.Signal(syscall.SIGKILL)
	<-proc.Done
	if left, _ := os.ReadDir(tmp); len(left) != uploads {
		t.Fatalf("%d partial files after the kill, want %d (the test proves nothing otherwise)", len(left), uploads)
	}

	// Starting a process takes longer than the 1 ms grace: the partial files
	// are older than that when the sweep runs.
	testnode.StartProcess(t, db, port, flags...)
	eventually(t, "the sweep at start removes the partial files", func() bool {
		left, _ := os.ReadDir(tmp)
		return len(left) == 0
	})
	if got := blobFiles(t, blobs); len(got) != 0 {
		t.Errorf("blobs after the restart: %v, want none", got)
	}
	for _, m := range alice.History("cut") {
		t.Errorf("history holds %+v, want no message", m)
	}
}

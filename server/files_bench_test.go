package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
)

// procMemory reads a process's resident memory and its peak, in bytes.
func procMemory(t *testing.T, pid int) (rss, peak int64) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestFileTransfersMemory is the benchmark of issue 16: 20 concurrent
// uploads of 25 MB, then 20 concurrent downloads of them, against the real
// binary on one core (GOMAXPROCS=1). The server's peak resident memory may
// grow by at most 64 MB over its idle size: transfers are streamed, not
// buffered. Run with CHATR_FILES_BENCH=1 (make bench); it writes 500 MB.
func TestFileTransfersMemory(t *testing.T) {
	if os.Getenv("CHATR_FILES_BENCH") != "1" {
		t.Skip("set CHATR_FILES_BENCH=1 to run the file transfer benchmark")
	}
	const (
		clients = 20
		size    = 25 << 20
	)
	t.Setenv("GOMAXPROCS", "1")
	dir := t.TempDir()
	port := testnode.FreePort(t)
	proc := testnode.StartProcess(t, filepath.Join(dir, "chatr.db"), port, "--files-dir", filepath.Join(dir, "blobs"),
		"--uploads-per-minute", "-1", "--requests-per-second", "-1", "--file-quota-bytes", "0")
	alice := guest(t, proc.Base, "Alice")
	c := alice.Connect(wsclient.JSON)
	mustAck(t, c, "createChat", map[string]string{"name": "Bench", "id": "bench"})
	mustAck(t, c, "joinChat", "bench")
	pid := proc.Cmd.Process.Pid
	idle, _ := procMemory(t, pid)

	urls := make([]string, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			head := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
			body := io.MultiReader(strings.NewReader(head), io.LimitReader(zeroReader{}, size), strings.NewReader("\r\n--b--\r\n"))
			req, _ := http.NewRequest("POST", proc.Base+"/api/chats/bench/files", body)
			req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
			resp, err := alice.HTTP.Do(req)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			var out struct{ URL string }
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 201 || json.Unmarshal(b, &out) != nil {
				t.Errorf("upload %d: %d %s", i, resp.StatusCode, b)
				return
			}
			urls[i] = out.URL
		})
	}
	wg.Wait()
	up := time.Since(start)
	_, upPeak := procMemory(t, pid)

	start = time.Now()
	for i := range clients {
		wg.Go(func() {
			resp, err := alice.HTTP.Get(proc.Base + urls[i])
			if err != nil {
				t.Errorf("download %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
				t.Errorf("download %d: %d bytes, %v", i, n, err)
			}
		})
	}
	wg.Wait()
	down := time.Since(start)
	_, peak := procMemory(t, pid)

	total := float64(clients*size) / (1 << 20)
	t.Logf("%d × 25 MB uploads: %.1fs, %.0f MB/s; downloads: %.1fs, %.0f MB/s", clients, up.Seconds(), total/up.Seconds(), down.Seconds(), total/down.Seconds())
	t.Logf("server RSS idle %.1f MB; peak during uploads %.1f MB (+%.1f), after downloads %.1f MB (+%.1f)",
		mb(idle), mb(upPeak), mb(upPeak-idle), mb(peak), mb(peak-idle))
	if peak-idle > 64<<20 {
		t.Errorf("peak RSS grew by %.1f MB, want at most 64 MB", mb(peak-idle))
	}
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

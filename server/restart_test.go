package server_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/wsclient"
)

// buildChatr builds the real binary once per test binary run.
func buildChatr(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chatr")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/chatr")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs the binary and waits until /readyz answers.
func startProcess(t *testing.T, bin, db string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "--addr", "127.0.0.1:"+strconv.Itoa(port), "--db", db, "--log-level", "warn",
		"--messages-per-second", "100000", "--message-burst", "100000")
	cmd.Env = append(os.Environ(), "CHATR_SECRET="+testSecret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("chatr did not become ready")
	return nil
}

// TestAckedMessagesSurviveSIGKILL sends messages while the process is
// killed: every message whose ack arrived must be in the history exactly
// once after a restart, and the chat must still exist.
func TestAckedMessagesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := buildChatr(t)
	db := filepath.Join(t.TempDir(), "chatr.db")
	port := freePort(t)
	proc := startProcess(t, bin, db, port)
	n := &node{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	alice := n.guest("Alice")
	c := alice.connect(wsclient.JSON)
	mustAck(t, c, "createChat", map[string]string{"name": "Durable", "id": "durable"})
	mustAck(t, c, "joinChat", "durable")

	// Send without waiting for each ack, then kill mid-stream.
	const total = 400
	acked := make(map[uint64]bool)
	texts := make(map[uint64]string)
	go func() {
		time.Sleep(150 * time.Millisecond)
		proc.Process.Signal(syscall.SIGKILL)
	}()
	for i := 0; i < total; i++ {
		id := c.NextAckID()
		texts[id] = "m" + strconv.Itoa(i)
		if c.Send(map[string]any{"type": "sendToGroup", "ackId": id, "group": "durable", "dataType": "json", "data": map[string]any{"message": texts[id]}}) != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for {
		f, err := c.Next(3 * time.Second)
		if err != nil {
			break
		}
		if f.Type == "ack" && f.Success {
			acked[f.AckID] = true
		}
	}
	proc.Wait()
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged before the kill; the test proves nothing")
	}

	startProcess(t, bin, db, port)
	var hist struct {
		Messages []chatMsg
		HasMore  bool
	}
	seen := map[string]int{}
	before := ""
	for {
		if st := alice.do("GET", "/api/chats/durable/messages?limit=200"+before, nil, &hist); st != 200 {
			t.Fatalf("history after restart: status %d", st)
		}
		for _, m := range hist.Messages {
			seen[m.Message]++
		}
		if !hist.HasMore || len(hist.Messages) == 0 {
			break
		}
		before = "&before=" + strconv.FormatInt(hist.Messages[0].ID, 10)
	}
	for id := range acked {
		if seen[texts[id]] != 1 {
			t.Errorf("acked message %q stored %d times, want 1", texts[id], seen[texts[id]])
		}
	}
	for text, k := range seen {
		if k != 1 {
			t.Errorf("message %q stored %d times", text, k)
		}
	}
	t.Logf("%d messages acked before SIGKILL, %d stored", len(acked), len(seen))
	// The session survives too: the same cookie still works.
	alice.connect(wsclient.JSON)
}

// TestGracefulShutdown: SIGTERM closes sockets with 1001 (going away, so
// reliable clients recover elsewhere) and the process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildChatr(t)
	port := freePort(t)
	proc := startProcess(t, bin, filepath.Join(t.TempDir(), "chatr.db"), port)
	n := &node{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	c := n.guest("Alice").connect(wsclient.JSON)
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := c.WaitClosed(10 * time.Second); err != nil || code != 1001 {
		t.Errorf("close on SIGTERM: %d (%v), want 1001", code, err)
	}
	if err := proc.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

package server_test

import (
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/testnode"
	"github.com/chatr/chatr/internal/wsclient"
)

// fastSenders lifts the message rate limit so that a kill lands mid-stream.
var fastSenders = []string{"--messages-per-second", "100000", "--message-burst", "100000"}

// TestAckedMessagesSurviveSIGKILL sends messages while the process is
// killed: every message whose ack arrived must be in the history exactly
// once after a restart, and the chat must still exist.
func TestAckedMessagesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	db := filepath.Join(t.TempDir(), "chatr.db")
	port := testnode.FreePort(t)
	proc := testnode.StartProcess(t, db, port, fastSenders...)
	alice := guest(t, proc.Base, "Alice")
	c := alice.Connect(wsclient.JSON)
	mustAck(t, c, "createChat", map[string]string{"name": "Durable", "id": "durable"})
	mustAck(t, c, "joinChat", "durable")

	// Send without waiting for each ack, then kill mid-stream.
	const total = 400
	acked := make(map[uint64]bool)
	texts := make(map[uint64]string)
	go func() {
		time.Sleep(150 * time.Millisecond)
		proc.Cmd.Process.Signal(syscall.SIGKILL)
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
	<-proc.Done
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged before the kill; the test proves nothing")
	}

	testnode.StartProcess(t, db, port, fastSenders...)
	var hist struct {
		Messages []chatMsg
		HasMore  bool
	}
	seen := map[string]int{}
	before := ""
	for {
		if st := alice.Do("GET", "/api/chats/durable/messages?limit=200"+before, nil, &hist); st != 200 {
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
	alice.Connect(wsclient.JSON)
}

// TestGracefulShutdown: SIGTERM closes sockets with 1001 (going away, so
// reliable clients recover elsewhere) and the process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	proc := testnode.StartProcess(t, filepath.Join(t.TempDir(), "chatr.db"), testnode.FreePort(t))
	c := guest(t, proc.Base, "Alice").Connect(wsclient.JSON)
	if err := proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := c.WaitClosed(10 * time.Second); err != nil || code != 1001 {
		t.Errorf("close on SIGTERM: %d (%v), want 1001", code, err)
	}
	<-proc.Done
	if st := proc.Cmd.ProcessState; !st.Success() {
		t.Errorf("exit after SIGTERM: %v, want status 0", st)
	}
}

package hub_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/hub"
)

// TestFrameBudget: every frame type spends the connection's budget, which
// is checked before any hook runs; over it a frame with an ackId is refused
// with TooManyRequests, one without is dropped, and a connection that keeps
// going is closed with 1008.
func TestFrameBudget(t *testing.T) {
	var hooks atomic.Int64
	// A refill of one frame per 1,000 s: nothing comes back during the test.
	e := newEnv(t, hub.Config{FrameRate: 0.001, FrameBurst: 4}, func(a *testApp) {
		a.join = func(*hub.ConnInfo, string) error { hooks.Add(1); return nil }
		a.event = func(*hub.ConnInfo, *hub.Event) (*hub.Payload, error) { hooks.Add(1); return nil, nil }
		a.publish = func(*hub.ConnInfo, *hub.GroupMessage) error { hooks.Add(1); return nil }
	})
	c := e.dial(reliable, "alice", "webpubsub.joinLeaveGroup", "webpubsub.sendToGroup")
	// Four frames of four types fit the burst.
	if n := c.join("g", 1); n != "" {
		t.Fatal(n)
	}
	c.send(`{"type":"ping"}`)
	if f := c.next(); f.Type != "pong" {
		t.Fatalf("got %s, want pong", f.raw)
	}
	c.send(`{"type":"sequenceAck","sequenceId":0}`)
	c.send(`{"type":"sendToGroup","group":"g","ackId":2,"noEcho":true,"data":1}`)
	if n := c.ack(2); n != "" {
		t.Fatal(n)
	}
	before := hooks.Load()
	closed := false
	// Over budget: each kind is refused before its hook.
	for i, fr := range []string{
		`{"type":"event","event":"e","ackId":3}`,
		`{"type":"joinGroup","group":"h","ackId":4}`,
		`{"type":"leaveGroup","group":"g","ackId":5}`,
		`{"type":"sendToGroup","group":"g","ackId":6,"data":1}`,
	} {
		c.send(`{"type":"ping"}`) // dropped: no pong comes before the ack
		c.send(`{"type":"sequenceAck","sequenceId":0}`)
		c.send(fr)
		code, frames := c.readUntilAckOrClose(uint64(3 + i))
		if code != 0 {
			// Sustained abuse: the connection is closed with 1008.
			if code != 1008 {
				t.Fatalf("close %d, want 1008", code)
			}
			if i < 2 {
				t.Fatalf("closed after only %d refused requests", i)
			}
			closed = true
			break
		}
		last := frames[len(frames)-1]
		if len(frames) != 1 || last.Error == nil || last.Error.Name != "TooManyRequests" {
			t.Fatalf("frames %v, want only an ack TooManyRequests", frames)
		}
	}
	if got := hooks.Load(); got != before {
		t.Errorf("%d hooks ran over budget", got-before)
	}
	if !closed {
		// Whoever keeps sending is closed with 1008.
		for i := 0; i < 20; i++ {
			c.nc.SetWriteDeadline(time.Now().Add(frameWait))
			if ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewTextFrame([]byte(`{"type":"ping"}`)))) != nil {
				break
			}
		}
		if code, _ := c.expectClose(); code != 1008 {
			t.Errorf("sustained abuse: close %d, want 1008", code)
		}
	}
	if r := e.app.waitDisconnected(t, c.connID); len(r) != 1 {
		t.Errorf("reasons %v", r)
	}
}

// readUntilAckOrClose returns the text frames up to the ack of id, or the
// close code (then the client has answered the close).
func (c *client) readUntilAckOrClose(id uint64) (int, []frame) {
	c.t.Helper()
	var seen []frame
	for {
		op, p, err := c.readFrame(frameWait)
		if err != nil {
			c.t.Fatalf("read: %v (frames before: %v)", err, seen)
		}
		switch op {
		case ws.OpClose:
			code, _ := closeOf(p)
			ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(p)))
			return code, seen
		case ws.OpText:
			f := parseFrame(c.t, p)
			seen = append(seen, f)
			if f.Type == "ack" && f.AckID != nil && *f.AckID == id {
				return 0, seen
			}
		}
	}
}

// sendFragment writes one frame of a text message: first or continuation,
// final or not.
func (c *client) sendFragment(first, fin bool, p []byte) error {
	op := ws.OpContinuation
	if first {
		op = ws.OpText
	}
	c.nc.SetWriteDeadline(time.Now().Add(frameWait))
	return ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(op, fin, p)))
}

// TestUnfinishedMessageBudget: the bytes held by messages still arriving are
// bounded node-wide; the connection that would pass the budget is closed
// (1013), the others are unaffected, and the budget comes back.
func TestUnfinishedMessageBudget(t *testing.T) {
	e := newEnv(t, hub.Config{UnfinishedBytes: 400 << 10})
	head := `{"type":"event","event":"e","ackId":1,"dataType":"text","data":"`
	part := []byte(head + strings.Repeat("x", 250<<10))
	a := e.dial(plain, "a")
	b := e.dial(plain, "b")
	if err := a.sendFragment(true, false, part); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.hub.Stats().Unfinished > 0 }) // a's part is held before b starts
	b.sendFragment(true, false, part)
	if code, _ := b.expectClose(); code != 1013 {
		t.Errorf("over the node's budget: close %d, want 1013", code)
	}
	// a finishes its message: it is processed.
	if err := a.sendFragment(false, true, []byte(`"}`)); err != nil {
		t.Fatal(err)
	}
	if n := a.ack(1); n != "" {
		t.Fatalf("a's message: %s", n)
	}
	// The budget is free again: a message of the same size passes.
	if got := e.hub.Stats().Unfinished; got != 0 {
		t.Errorf("Unfinished = %d after a's message, want 0", got)
	}
	c := e.dial(plain, "c")
	c.sendFragment(true, false, part)
	c.sendFragment(false, true, []byte(`"}`))
	if n := c.ack(1); n != "" {
		t.Fatalf("c's message: %s", n)
	}
}

// TestUnfinishedMessageTimesOut: a message must arrive whole within
// MessageWait of its first frame, however often a continuation trickles in.
func TestUnfinishedMessageTimesOut(t *testing.T) {
	e := newEnv(t, hub.Config{MessageWait: 300 * time.Millisecond})
	c := e.dial(reliable, "a")
	if err := c.sendFragment(true, false, []byte(`{"type":"ping"`)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan int, 1)
	go func() {
		for {
			op, p, err := c.readFrame(frameWait)
			if err != nil {
				closed <- -1
				return
			}
			if op == ws.OpClose {
				code, _ := closeOf(p)
				closed <- code
				return
			}
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case code := <-closed:
			if code != 1008 {
				t.Errorf("close %d, want 1008", code)
			}
			if r := e.app.waitDisconnected(t, c.connID); len(r) != 1 {
				t.Errorf("reasons %v", r)
			}
			return
		case <-tick.C:
			c.sendFragment(false, false, []byte(" ")) // errors once closed: ignored
		}
	}
}

// TestSlowReaderReplay: the write deadline is about progress. A recovering
// client that reads its replay slowly but steadily gets all of it, although
// the replay takes longer than WriteWait; one that reads nothing is cut off.
func TestSlowReaderReplay(t *testing.T) {
	const writeWait = 1500 * time.Millisecond
	e := newEnv(t, hub.Config{WriteWait: writeWait, UnackedBytes: 64 << 20, UnackedMessages: 1000})
	c := e.dial(reliable, "alice")
	c.closeTCP()
	waitFor(t, func() bool { return e.hub.Stats().Connections == 0 })
	const n, size = 192, 64 << 10 // 12 MiB
	big := hub.Payload{DataType: "text", Data: []byte(strings.Repeat("x", size))}
	for i := 0; i < n; i++ {
		if err := e.hub.SendToConnection(context.Background(), c.connID, hub.Message{Payload: big}); err != nil {
			t.Fatal(err)
		}
	}
	u := e.wsURL(e.token("alice")) + "&awps_connection_id=" + url.QueryEscape(c.connID) + "&awps_reconnection_token=" + url.QueryEscape(c.token)
	r := dialSmallBuffer(t, u)
	r.r = &slowReader{r: r.r}
	start := time.Now()
	for i := 1; i <= n; i++ {
		f := r.next()
		if f.SequenceID == nil || *f.SequenceID != uint64(i) {
			t.Fatalf("replay %d: %.80s", i, f.raw)
		}
	}
	t.Logf("replay of %d MiB took %v (WriteWait %v)", n*size>>20, time.Since(start), writeWait)

	// A client that reads nothing at all is cut off.
	r.closeTCP()
	waitFor(t, func() bool { return e.hub.Stats().Connections == 0 })
	dialSmallBuffer(t, u) // and never read
	waitFor(t, func() bool { return e.hub.Stats().Connections == 1 })
	waitFor(t, func() bool { return e.hub.Stats().Connections == 0 })
}

func parseFrame(t *testing.T, p []byte) frame {
	t.Helper()
	var f frame
	if err := json.Unmarshal(p, &f); err != nil {
		t.Fatalf("server sent invalid JSON %q: %v", p, err)
	}
	f.raw = string(p)
	return f
}

// dialSmallBuffer dials with a small receive buffer, so that the server's
// writes wait for the client's reads.
func dialSmallBuffer(t *testing.T, u string) *client {
	t.Helper()
	nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
		})
		return nil
	}}
	d := ws.Dialer{Protocols: []string{reliable}, Timeout: frameWait, NetDial: nd.DialContext}
	nc, br, _, err := d.Dial(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: nc, r: nc, protocol: reliable}
	if br != nil {
		c.r = io.MultiReader(br, nc)
	}
	t.Cleanup(func() { nc.Close() })
	return c
}

// slowReader reads at most 16 KiB every 4 ms: a few MB/s at most, steadily.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(4 * time.Millisecond)
	if len(p) > 16<<10 {
		p = p[:16<<10]
	}
	return s.r.Read(p)
}

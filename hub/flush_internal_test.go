package hub

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestFlushWindowGathers: with a flush window, the frames of messages sent
// while the window is open go out in one write per socket, and the window
// ends early once FlushBytes are queued.
func TestFlushWindowGathers(t *testing.T) {
	h, err := New(Config{Key: []byte("k"), PingInterval: time.Hour, FlushWindow: maxFlushWindow})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	// A window that cannot end by itself during the test: only the byte
	// threshold ends it, so what is gathered does not depend on timing.
	h.cfg.FlushWindow = time.Hour
	h.flushBytes.Store(1 << 30)
	const members, messages = 3, 5
	conns := make([]*discardConn, members)
	for i := range conns {
		conns[i] = &discardConn{}
		s := &session{h: h, info: &ConnInfo{ID: strconv.Itoa(i)}}
		s.sock = &socket{s: s, nc: conns[i]}
		h.register(s, []string{"g"})
	}
	ctx := context.Background()
	for i := range messages {
		h.SendToGroup(ctx, "g", Message{Payload: Payload{Data: []byte(strconv.Itoa(i))}})
	}
	for i := 0; i < 100; i++ {
		runtime.Gosched() // give a flusher that ignored the window every chance to write
	}
	if w := h.Stats().Writes; w != 0 {
		t.Fatalf("%d writes while the window was open", w)
	}
	queued := h.Stats().QueuedBytes
	if queued == 0 {
		t.Fatal("nothing queued")
	}
	// The next frame passes FlushBytes: the window ends at once.
	h.flushBytes.Store(queued)
	h.SendToGroup(ctx, "g", Message{Payload: Payload{Data: []byte(`"last"`)}})
	// A write is counted after its bytes leave the queue: wait for both.
	deadline := time.Now().Add(10 * time.Second)
	for (h.Stats().QueuedBytes != 0 || h.Stats().Writes < members) && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if w := h.Stats().Writes; w != members {
		t.Errorf("%d writes for %d messages to %d members, want one per member", w, messages+1, members)
	}
	for i, c := range conns {
		if c.written.Load() == 0 {
			t.Errorf("member %d got nothing", i)
		}
	}
}

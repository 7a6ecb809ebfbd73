package hub_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chatr/chatr/hub"
)

// TestNodeQueuedBytesShedsNonReaders fills a node with clients that read
// nothing beside clients that read everything: the node's queued bytes stay
// within its budget (passed by at most one fan-out), every non-reader is
// shed, and no reader is.
func TestNodeQueuedBytesShedsNonReaders(t *testing.T) {
	const (
		budget     = 1 << 20
		nonReaders = 6
	)
	e := newEnv(t, hub.Config{
		NodeQueuedBytes: budget,
		MaxQueuedBytes:  1 << 30, // only the node's budget applies here
		QueueFrames:     1 << 20,
		UnackedMessages: 1 << 20,
		UnackedBytes:    1 << 30,
	})
	ctx := context.Background()
	var readers, idle []*client
	for i := range nonReaders {
		p := plain
		if i%2 == 1 {
			p = reliable
		}
		c := e.dial(p, "idle")
		e.hub.AddConnectionToGroup(ctx, c.connID, "g")
		idle = append(idle, c)
	}
	for _, p := range []string{plain, reliable, plain} {
		c := e.dial(p, "reader")
		e.hub.AddConnectionToGroup(ctx, c.connID, "g")
		readers = append(readers, c)
	}
	for _, c := range append(readers, idle...) {
		for !e.hub.InGroup(c.connID, "g") {
			e.hub.AddConnectionToGroup(ctx, c.connID, "g") // commands are asynchronous: wait for the join
		}
	}
	big := hub.Payload{DataType: "text", Data: []byte(strings.Repeat("x", 64<<10))}
	// One fan-out charges at most this much (frame bytes plus queue entries).
	perFanout := int64(len(readers)+len(idle)) * (int64(len(big.Data)) + 1024)
	sent := 0
	for e.hub.Stats().Shed < nonReaders {
		if sent++; sent > 20000 {
			t.Fatalf("only %d of %d non-readers shed after %d messages", e.hub.Stats().Shed, nonReaders, sent)
		}
		if err := e.hub.SendToGroup(ctx, "g", hub.Message{Payload: big}); err != nil {
			t.Fatal(err)
		}
		for _, c := range readers {
			f := c.next()
			if f.Type != "message" || len(f.Data) != len(big.Data)+2 {
				t.Fatalf("reader got %.80s", f.raw)
			}
			if f.SequenceID != nil && *f.SequenceID%64 == 0 {
				c.sendJSON(map[string]any{"type": "sequenceAck", "sequenceId": *f.SequenceID})
			}
		}
		if q := e.hub.Stats().QueuedBytes; q > budget+perFanout {
			t.Fatalf("node holds %d queued bytes after message %d, budget %d", q, sent, budget)
		}
	}
	st := e.hub.Stats()
	if st.Shed != nonReaders || st.SlowConsumers != nonReaders {
		t.Errorf("shed %d, slow consumers %d, want %d each", st.Shed, st.SlowConsumers, nonReaders)
	}
	// The readers are still connected and served.
	e.hub.SendToGroup(ctx, "g", hub.Message{Payload: hub.Payload{Data: []byte(`"after"`)}})
	for _, c := range readers {
		if f := c.next(); string(f.Data) != `"after"` {
			t.Errorf("reader after the shedding: %.80s", f.raw)
		}
	}
	// The shed plain clients were closed with 1008; the reliable ones lost
	// their socket (they would recover their messages).
	for i, c := range idle {
		if i%2 == 0 {
			e.app.waitDisconnected(t, c.connID)
		}
	}
	if q := e.hub.Stats().QueuedBytes; q > budget {
		t.Errorf("node holds %d queued bytes at rest, budget %d", q, budget)
	}
}

// TestMaxQueuedBytesCutsOffOneConnection: a connection whose queued bytes
// pass MaxQueuedBytes is cut off as a slow consumer (close 1008), however
// few frames they are, while a reader is not; nothing was shed by the node.
func TestMaxQueuedBytesCutsOffOneConnection(t *testing.T) {
	e := newEnv(t, hub.Config{MaxQueuedBytes: 256 << 10, QueueFrames: 1 << 20})
	ctx := context.Background()
	slow := e.dial(plain, "slow")
	fast := e.dial(plain, "fast")
	big := hub.Payload{DataType: "text", Data: []byte(strings.Repeat("x", 64<<10))}
	sent := 0
	for e.hub.Stats().SlowConsumers == 0 {
		if sent++; sent > 20000 {
			t.Fatalf("slow consumer not cut off after %d messages", sent)
		}
		for _, c := range []*client{slow, fast} {
			if err := e.hub.SendToConnection(ctx, c.connID, hub.Message{Payload: big}); err != nil {
				t.Fatal(err)
			}
		}
		if f := fast.next(); f.Type != "message" || len(f.Data) != len(big.Data)+2 {
			t.Fatalf("fast consumer got %.80s", f.raw)
		}
	}
	if code, _ := slow.expectClose(); code != 1008 {
		t.Errorf("slow consumer close = %d, want 1008", code)
	}
	if r := e.app.waitDisconnected(t, slow.connID); r[0] != "slow consumer" {
		t.Errorf("reason = %v", r)
	}
	e.hub.SendToConnection(ctx, fast.connID, hub.Message{Payload: hub.Payload{Data: []byte(`"after"`)}})
	if f := fast.next(); string(f.Data) != `"after"` {
		t.Errorf("fast consumer after the cut: %.80s", f.raw)
	}
	if st := e.hub.Stats(); st.Shed != 0 || st.SlowConsumers != 1 {
		t.Errorf("shed %d, slow consumers %d, want 0 and 1", st.Shed, st.SlowConsumers)
	}
}

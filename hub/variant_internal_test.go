package hub

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestVariantsEncodedOncePerFanout: a fan-out to members of both kinds
// encodes each variant once, and every member of a kind gets the very same
// bytes (what the reliable replay sends again).
func TestVariantsEncodedOncePerFanout(t *testing.T) {
	h, err := New(Config{Key: []byte("k"), PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	var sessions []*session
	for i := 0; i < 8; i++ {
		info := &ConnInfo{ID: strconv.Itoa(i), Reliable: true, HTMLText: i%2 == 0}
		s := &session{h: h, info: info}
		s.sock = &socket{s: s, nc: &discardConn{}}
		h.register(s, []string{"g"})
		sessions = append(sessions, s)
	}
	cmd := &Command{Kind: CmdSendToGroup, Group: "g", Message: &Message{
		Payload:     Payload{DataType: DataText, Data: []byte("<b>")},
		HTMLPayload: &Payload{DataType: DataText, Data: []byte("&lt;b&gt;")},
	}}
	h.deliver(cmd)
	bodies := map[bool]*byte{}
	for _, s := range sessions {
		s.mu.Lock()
		live := s.unacked.live()
		s.mu.Unlock()
		if len(live) != 1 {
			t.Fatalf("session %s holds %d messages, want 1", s.info.ID, len(live))
		}
		b := &live[0].body[0]
		if first, ok := bodies[s.info.HTMLText]; !ok {
			bodies[s.info.HTMLText] = b
		} else if first != b {
			t.Errorf("session %s (html=%v) got its own encoding, want the shared one", s.info.ID, s.info.HTMLText)
		}
	}
	if bodies[true] == bodies[false] {
		t.Error("both kinds got the same bytes")
	}
}

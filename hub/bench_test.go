package hub

import (
	"context"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

var benchPayload = Payload{DataType: DataJSON, Data: []byte(`{"message":"` + strings.Repeat("x", 2000) + `","fromUserId":"github:1","fromUserName":"octocat"}`)}

func BenchmarkEncodeGroupMessage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		m := newEncodedMessage(fromGroup, "chat-1", "github:1", &benchPayload)
		m.plainFrame()
	}
}

func BenchmarkReliableHead(b *testing.B) {
	var f outFrame
	for i := uint64(0); b.Loop(); i++ {
		f.headLen = uint8(reliableHead(&f.head, i, 2100))
	}
}

func BenchmarkParseClientFrame(b *testing.B) {
	frame := []byte(`{"type":"sendToGroup","group":"chat-1","ackId":42,"noEcho":false,"dataType":"json","data":{"message":"hello there","fromUserId":"github:1","fromUserName":"octocat"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseClientFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// discardConn is a net.Conn that swallows writes and blocks reads.
type discardConn struct {
	net.Conn
	written atomic.Int64
}

func (c *discardConn) Write(p []byte) (int, error) {
	c.written.Add(int64(len(p)))
	return len(p), nil
}
func (c *discardConn) writeVectors(bufs net.Buffers) error {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	c.written.Add(int64(n))
	return nil
}
func (c *discardConn) Close() error                     { return nil }
func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }
func (c *discardConn) SetReadDeadline(time.Time) error  { return nil }

// fanoutHub returns a hub with a group "g" of members sessions whose
// sockets discard what they are sent.
func fanoutHub(b *testing.B, members int, reliable bool, cfg Config) (*Hub, []*session) {
	cfg.Key, cfg.PingInterval = []byte("k"), time.Hour
	h, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	sessions := make([]*session, members)
	for i := range sessions {
		info := &ConnInfo{ID: strconv.Itoa(i), UserID: "u" + strconv.Itoa(i), Reliable: reliable}
		s := &session{h: h, info: info}
		s.sock = &socket{s: s, nc: &discardConn{}}
		h.register(s, []string{"g"})
		sessions[i] = s
	}
	return h, sessions
}

// fanoutOnce delivers cmd to h's group; every 256th message the reliable
// sessions acknowledge everything, as the SDK does about once a second.
func fanoutOnce(h *Hub, sessions []*session, cmd *Command, i int) {
	h.deliver(cmd)
	if sessions[0].info.Reliable && i%256 == 255 {
		for _, s := range sessions {
			s.ackSequence(^uint64(0))
		}
	}
}

// BenchmarkFanout measures the hub's CPU for one message to a group of
// 1,000 members: encoding, queueing on every member and the writers'
// gathering of frames (into connections that discard them). ns/delivery is
// the cost per recipient.
func BenchmarkFanout(b *testing.B) {
	for _, reliable := range []bool{false, true} {
		name := "plain"
		if reliable {
			name = "reliable"
		}
		b.Run(name, func(b *testing.B) {
			const members = 1000
			h, sessions := fanoutHub(b, members, reliable, Config{})
			cmd := &Command{Kind: CmdSendToGroup, Group: "g", Message: &Message{FromUserID: "u0", Payload: benchPayload}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				fanoutOnce(h, sessions, cmd, i)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/members, "ns/delivery")
			if n := h.Stats().SlowConsumers; n != 0 {
				b.Fatalf("%d slow consumers: the benchmark outran the writers", n)
			}
		})
	}
}

// waitFlushed waits until h's flushers have written everything queued.
func waitFlushed(h *Hub) {
	for {
		h.flush.mu.Lock()
		idle := h.flush.running == 0
		h.flush.mu.Unlock()
		if idle {
			return
		}
		runtime.Gosched()
	}
}

// BenchmarkFanoutReliableRatio alternates a plain and a reliable fan-out of
// the same message to 1,000 members, so that both see the same machine,
// and reports the reliable one's time and allocations as a ratio of the
// plain one's (the baseline of the same run).
func BenchmarkFanoutReliableRatio(b *testing.B) {
	const members = 1000
	hp, sp := fanoutHub(b, members, false, Config{})
	hr, sr := fanoutHub(b, members, true, Config{})
	cmd := &Command{Kind: CmdSendToGroup, Group: "g", Message: &Message{FromUserID: "u0", Payload: benchPayload}}
	var tp, tr time.Duration
	var ap, ar uint64
	var ms runtime.MemStats
	mallocs := func() uint64 { runtime.ReadMemStats(&ms); return ms.Mallocs }
	for i := 0; b.Loop(); i++ {
		m0 := mallocs()
		t0 := time.Now()
		fanoutOnce(hp, sp, cmd, i)
		waitFlushed(hp)
		t1 := time.Now()
		m1 := mallocs()
		fanoutOnce(hr, sr, cmd, i)
		waitFlushed(hr)
		t2 := time.Now()
		m2 := mallocs()
		tp, tr = tp+t1.Sub(t0), tr+t2.Sub(t1)
		ap, ar = ap+m1-m0, ar+m2-m1
	}
	n := float64(b.N)
	b.ReportMetric(float64(tp.Nanoseconds())/n/members, "plain-ns/delivery")
	b.ReportMetric(float64(tr.Nanoseconds())/n/members, "reliable-ns/delivery")
	b.ReportMetric(float64(tr)/float64(tp), "reliable/plain")
	b.ReportMetric(float64(ap)/n, "plain-allocs/fanout")
	b.ReportMetric(float64(ar)/n, "reliable-allocs/fanout")
}

// BenchmarkIdleConnections opens 2,000 idle connections over loopback and
// reports the heap and stack growth per connection (both ends are in this
// process, so the client side's sockets are counted too: an upper bound).
func BenchmarkIdleConnections(b *testing.B) {
	const conns = 2000
	h, err := New(Config{Key: []byte("k"), PingInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()
	tok, _ := MintToken([]byte("k"), Claims{UserID: "u", Audience: srv.URL + "/client/hubs/chat"})
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/client/hubs/chat?access_token=" + tok
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		clients := make([]net.Conn, 0, conns)
		for range conns {
			nc, _, _, err := ws.Dialer{Protocols: []string{ProtocolJSONReliable}}.Dial(context.Background(), u)
			if err != nil {
				b.Fatal(err)
			}
			clients = append(clients, nc)
		}
		for h.Stats().Connections < conns {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // let the connected frames go out and the writers exit
		runtime.GC()
		runtime.GC() // a second cycle shrinks the stacks of parked readers
		runtime.ReadMemStats(&after)
		used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
		b.ReportMetric(float64(used)/conns, "bytes/conn")
		b.ReportMetric(float64(runtime.NumGoroutine())/conns, "goroutines/conn")
		for _, c := range clients {
			c.Close()
		}
		for h.Stats().Connections > 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

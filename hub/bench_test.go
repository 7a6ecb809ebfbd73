package hub

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// BenchmarkFlushWindow measures, over loopback TCP, the members of a group
// (1,000, and 200 for a less loaded machine) that receives 200 messages per
// second: write system calls and process CPU (the hub and the reading
// clients, which share this process) per delivery, and the latency p99, with
// Config.FlushWindow off (the baseline) and on, in the same run. Each
// iteration runs one second of messages per configuration.
func BenchmarkFlushWindow(b *testing.B) {
	for _, members := range []int{1000, 200} {
		b.Run("members="+strconv.Itoa(members), func(b *testing.B) { benchFlushWindow(b, members) })
	}
}

func benchFlushWindow(b *testing.B, members int) {
	const (
		rate     = 200
		messages = 200
	)
	windows := []time.Duration{0, 2 * time.Millisecond, 10 * time.Millisecond}
	res := make([]moderateResult, len(windows))
	for b.Loop() {
		for i, w := range windows {
			r := runModerate(b, members, rate, messages, Config{FlushWindow: w})
			res[i].writes += r.writes
			res[i].deliveries += r.deliveries
			res[i].cpu += r.cpu
			res[i].lat = append(res[i].lat, r.lat...)
		}
	}
	for i, w := range windows {
		r := res[i]
		name := "off"
		if w > 0 {
			name = w.String()
		}
		slices.Sort(r.lat)
		p99 := r.lat[len(r.lat)*99/100]
		b.ReportMetric(float64(r.writes)/float64(r.deliveries), name+"-writes/delivery")
		b.ReportMetric(float64(r.cpu.Nanoseconds())/float64(r.deliveries), name+"-cpu-ns/delivery")
		b.ReportMetric(float64(p99.Microseconds())/1000, name+"-p99-ms")
		if i > 0 {
			base := res[0]
			b.ReportMetric((float64(r.writes)/float64(r.deliveries))/(float64(base.writes)/float64(base.deliveries)), name+"/off-writes")
			b.ReportMetric((float64(r.cpu)/float64(r.deliveries))/(float64(base.cpu)/float64(base.deliveries)), name+"/off-cpu")
		}
	}
}

type moderateResult struct {
	writes, deliveries int64
	cpu                time.Duration
	lat                []time.Duration
}

// runModerate connects members clients to a new hub with cfg, sends
// messages to their group at rate per second and waits for every delivery.
func runModerate(b *testing.B, members, rate, messages int, cfg Config) moderateResult {
	cfg.Key, cfg.PingInterval = []byte("k"), time.Hour
	h, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close(context.Background())
	tok, _ := MintToken([]byte("k"), Claims{UserID: "u", Groups: []string{"g"}, Audience: srv.URL + "/client/hubs/chat"})
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/client/hubs/chat?access_token=" + tok
	var received atomic.Int64
	lats := make([][]time.Duration, members)
	var wg sync.WaitGroup
	for i := range members {
		nc, br, _, err := ws.Dialer{Protocols: []string{ProtocolJSON}}.Dial(context.Background(), u)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		var r io.Reader = nc
		if br != nil {
			r = io.MultiReader(br, nc)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReaderSize(r, 16<<10)
			buf := make([]byte, 0, 1024)
			for {
				hd, err := ws.ReadHeader(br)
				if err != nil {
					return
				}
				buf = buf[:hd.Length]
				if _, err := io.ReadFull(br, buf); err != nil {
					return
				}
				if j := bytes.Index(buf, []byte(`{"t":`)); j >= 0 {
					rest := buf[j+5:]
					if k := bytes.IndexByte(rest, ','); k > 0 {
						if t, err := strconv.ParseInt(string(rest[:k]), 10, 64); err == nil {
							lats[i] = append(lats[i], time.Duration(time.Now().UnixNano()-t))
							received.Add(1)
						}
					}
				}
			}
		}()
	}
	for h.Stats().Connections < int64(members) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the connected frames go out
	pad := strings.Repeat("x", 150)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	w0 := h.Stats().Writes
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for range messages {
		<-tick.C
		d := `{"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"p":"` + pad + `"}`
		h.SendToGroup(context.Background(), "g", Message{Payload: Payload{Data: []byte(d)}})
	}
	tick.Stop()
	want := int64(members * messages)
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if got := received.Load(); got < want {
		b.Fatalf("%d of %d deliveries arrived", got, want)
	}
	res := moderateResult{
		writes:     h.Stats().Writes - w0,
		deliveries: want,
		cpu:        time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()),
	}
	h.Close(context.Background())
	srv.CloseClientConnections()
	wg.Wait()
	for _, l := range lats {
		res.lat = append(res.lat, l...)
	}
	return res
}

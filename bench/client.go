package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxSteps bounds the load steps of one scenario run.
const maxSteps = 64

// Conn is one client WebSocket on a raw, non-blocking file descriptor. The
// poller owns its read state; Write may be called from any goroutine.
type Conn struct {
	fd       int
	Index    int  // the scenario's number for it
	Reliable bool // json.reliable.webpubsub.azure.v1: acks sequence ids

	wmu sync.Mutex

	// Owned by the poller.
	buf      []byte // a partial frame carried to the next read
	lastSeq  [16]int32
	seqID    uint64 // last sequenceId received
	ackedSeq uint64 // last sequenceId acknowledged
	closed   bool
	paused   bool
	closeMsg string
	acks     int    // acks received
	ackErrs  int    // of which failed
	watch    *Watch // presence this connection must be shown; nil: not tracked
	joined   bool   // its "connected" frame arrived
}

// Write writes b whole, waiting out a full socket buffer.
func (c *Conn) Write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(b) > 0 {
		n, err := syscall.Write(c.fd, b)
		if err == syscall.EAGAIN {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// StepStats are the deliveries of bench messages scheduled in one step.
type StepStats struct {
	Hist     Hist
	Received uint64
	Disorder uint64 // a sender's sequence number not above the last one seen
}

// Client runs the epoll loop that reads every connection.
type Client struct {
	ep  int
	add chan *Conn

	// MinRound is the shortest time between two epoll rounds: waiting a
	// little lets frames pile up so that one read takes several.
	MinRound time.Duration

	mu       sync.Mutex // held while a round is processed
	conns    []*Conn    // by fd
	reliable []*Conn
	steps    [maxSteps]StepStats
	frames   uint64
	acks     uint64
	ackErrs  uint64
	ackErr   string
	closes   uint64
	closeMsg map[string]int
	lastAck  time.Time
	ackRound int
	events   map[string]uint64 // server messages by chatEvent (text: announcements)

	lastFrame atomic.Int64 // unix nanos of the last frame read
	connected atomic.Int64 // "connected" system frames seen
	stop      chan struct{}
	done      chan struct{}
}

// NewClient starts the poller.
func NewClient(minRound time.Duration) (*Client, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	c := &Client{ep: ep, add: make(chan *Conn, 4096), MinRound: minRound,
		closeMsg: map[string]int{}, events: map[string]uint64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

// Close stops the poller and closes every connection.
func (c *Client) Close() {
	close(c.stop)
	<-c.done
	for _, k := range c.conns {
		if k != nil && !k.closed {
			syscall.Close(k.fd)
		}
	}
	syscall.Close(c.ep)
}

// Add hands a connected socket (and bytes already read after the upgrade
// response) to the poller.
func (c *Client) Add(k *Conn, rest []byte) {
	if len(rest) > 0 {
		k.buf = append([]byte(nil), rest...)
	}
	c.add <- k
}

// Pause stops reading k: the server sees a consumer that does not read.
func (c *Client) Pause(k *Conn) {
	c.mu.Lock()
	k.paused = true
	syscall.EpollCtl(c.ep, syscall.EPOLL_CTL_DEL, k.fd, nil)
	c.mu.Unlock()
}

// Drop closes k without a close handshake (a vanished client).
func (c *Client) Drop(k *Conn) {
	c.mu.Lock()
	c.closeLocked(k, "")
	c.mu.Unlock()
}

// CloseNormal sends a close frame and then closes k.
func (c *Client) CloseNormal(k *Conn) {
	k.Write(clientFrame(opClose, []byte{0x03, 0xE8}))
	c.Drop(k)
}

func (c *Client) closeLocked(k *Conn, why string) {
	if k.closed {
		return
	}
	k.closed = true
	syscall.EpollCtl(c.ep, syscall.EPOLL_CTL_DEL, k.fd, nil)
	syscall.Close(k.fd)
	if k.fd < len(c.conns) && c.conns[k.fd] == k {
		c.conns[k.fd] = nil
	}
	k.buf = nil
	if why != "" {
		c.closes++
		c.closeMsg[why]++
	}
}

// Snapshot is what the poller has counted so far.
type Snapshot struct {
	Frames, Acks, AckErrors, ServerCloses uint64
	AckError                              string
	CloseReasons                          map[string]int
	Events                                map[string]uint64
}

// Snapshot returns the counters.
func (c *Client) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.closeMsg))
	for k, v := range c.closeMsg {
		m[k] = v
	}
	ev := make(map[string]uint64, len(c.events))
	for k, v := range c.events {
		ev[k] = v
	}
	return Snapshot{c.frames, c.acks, c.ackErrs, c.closes, c.ackErr, m, ev}
}

// Step returns a copy of one step's statistics.
func (c *Client) Step(i int) StepStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.steps[i]
}

// ResetSteps clears the per-step statistics (between scenarios on one client).
func (c *Client) ResetSteps() {
	c.mu.Lock()
	c.steps = [maxSteps]StepStats{}
	c.mu.Unlock()
}

// Quiet waits until no frame has arrived for d (or until timeout).
func (c *Client) Quiet(d, timeout time.Duration) bool {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if time.Since(time.Unix(0, c.lastFrame.Load())) >= d {
			return true
		}
		time.Sleep(d / 4)
	}
	return false
}

// LastFrame is when the poller last read a frame.
func (c *Client) LastFrame() time.Time { return time.Unix(0, c.lastFrame.Load()) }

// Connected is the number of "connected" system frames seen.
func (c *Client) Connected() int64 { return c.connected.Load() }

func (c *Client) loop() {
	defer close(c.done)
	events := make([]syscall.EpollEvent, 1024)
	buf := make([]byte, 256<<10)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		// epoll_wait never blocks: a blocking syscall would hold the only P
		// (GOMAXPROCS=1) and delay the senders' timers; an empty round
		// sleeps on the runtime's timer instead.
		start := time.Now()
		n, err := syscall.EpollWait(c.ep, events, 0)
		if err != nil && err != syscall.EINTR {
			panic(fmt.Sprint("epoll_wait: ", err))
		}
		c.mu.Lock()
		now := time.Now()
	adding:
		for {
			select {
			case k := <-c.add:
				for k.fd >= len(c.conns) {
					c.conns = append(c.conns, make([]*Conn, len(c.conns)+1024)...)
				}
				c.conns[k.fd] = k
				if k.Reliable {
					c.reliable = append(c.reliable, k)
				}
				if len(k.buf) > 0 {
					b := k.buf
					k.buf = nil
					c.process(k, b, now)
				}
				if !k.closed {
					ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(k.fd)}
					if err := syscall.EpollCtl(c.ep, syscall.EPOLL_CTL_ADD, k.fd, &ev); err != nil {
						c.closeLocked(k, "epoll add: "+err.Error())
					}
				}
			default:
				break adding
			}
		}
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd >= len(c.conns) || c.conns[fd] == nil {
				continue
			}
			k := c.conns[fd]
			if k.paused || k.closed {
				continue
			}
			c.readConn(k, buf, now)
		}
		if now.Sub(c.lastAck) > ackTick {
			// Each connection acks once per ackTicks ticks, a tenth of them
			// per tick: Chatr's own client acks once a second (hubclient.js
			// ACK_EVERY_MS), and real clients are not in step.
			c.lastAck = now
			c.ackRound++
			live := c.reliable[:0]
			for i, k := range c.reliable {
				if k.closed {
					continue
				}
				live = append(live, k)
				if k.seqID > k.ackedSeq && (c.ackRound+i)%ackTicks == 0 {
					c.sendSeqAck(k)
				}
			}
			clear(c.reliable[len(live):])
			c.reliable = live
		}
		c.mu.Unlock()
		if d := c.MinRound - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
}

func (c *Client) readConn(k *Conn, buf []byte, now time.Time) {
	off := 0
	if len(k.buf) > 0 {
		if len(k.buf) > len(buf)/2 {
			buf = make([]byte, len(k.buf)*2+len(buf))
		}
		off = copy(buf, k.buf)
		k.buf = nil
	}
	n, err := syscall.Read(k.fd, buf[off:])
	if err == syscall.EAGAIN || err == syscall.EINTR {
		if off > 0 {
			k.buf = append([]byte(nil), buf[:off]...)
		}
		return
	}
	if err != nil || n == 0 {
		why := "eof"
		if err != nil {
			why = err.Error()
		}
		if k.closeMsg != "" {
			why = k.closeMsg
		}
		c.closeLocked(k, why)
		return
	}
	c.process(k, buf[:off+n], now)
}

var (
	keyAckID      = []byte(`"ackId":`)
	keySequenceID = []byte(`"sequenceId":`)
	keySuccess    = []byte(`"success":false`)
	typeAck       = []byte(`"type":"ack"`)
	eventConn     = []byte(`"event":"connected"`)
)

// process handles every complete frame in b and keeps the remainder.
func (c *Client) process(k *Conn, b []byte, now time.Time) {
	nowNano := now.UnixNano()
	got := false
	for len(b) > 0 && !k.closed {
		op, p, n := nextFrame(b)
		if n == 0 {
			break
		}
		b = b[n:]
		got = true
		c.frames++
		switch op {
		case opText:
			c.text(k, p, nowNano)
		case opPing:
			k.Write(clientFrame(opPong, p))
		case opClose:
			why := "close"
			if len(p) >= 2 {
				why = "close " + strconv.Itoa(int(p[0])<<8|int(p[1]))
				if len(p) > 2 {
					why += " " + string(p[2:])
				}
			}
			if k.closeMsg != "" {
				why += " (" + k.closeMsg + ")"
			}
			k.Write(clientFrame(opClose, p[:min(len(p), 2)]))
			c.closeLocked(k, why)
		}
	}
	if got {
		c.lastFrame.Store(nowNano)
	}
	if len(b) > 0 && !k.closed {
		k.buf = append(k.buf[:0], b...)
	}
}

func (c *Client) text(k *Conn, p []byte, now int64) {
	if k.Reliable && bytes.HasPrefix(p, []byte(`{"sequenceId":`)) {
		if id, ok := uintField(p[:24], keySequenceID); ok {
			k.seqID = id
			if k.seqID-k.ackedSeq >= ackAfterIDs {
				c.sendSeqAck(k)
			}
		}
	}
	if sched, sender, seq, step, ok := benchFields(p); ok {
		if step < 0 || step >= maxSteps || sender < 0 || sender >= len(k.lastSeq) {
			return
		}
		st := &c.steps[step]
		st.Received++
		st.Hist.Record(time.Duration(now - sched))
		if int32(seq) <= k.lastSeq[sender] {
			st.Disorder++
		}
		k.lastSeq[sender] = int32(seq)
		return
	}
	if bytes.Contains(p, typeAck) {
		c.acks++
		k.acks++
		if bytes.Contains(p, keySuccess) {
			c.ackErrs++
			k.ackErrs++
			c.ackErr = string(p)
		}
		return
	}
	if bytes.Contains(p, eventConn) {
		c.connected.Add(1)
		k.joined = true
		return
	}
	if bytes.Contains(p, keyBatch) {
		c.batch(k, p)
		return
	}
	if ev := chatEvent(p); ev != "" {
		c.events[ev]++
		if ev == "userOnline" && k.watch != nil {
			eachUserID(p, k.watch.saw)
		}
		return
	}
	if bytes.Contains(p, []byte(`"event":"disconnected"`)) {
		k.closeMsg = string(p)
	}
}

// batch counts each item of a coalesced frame (a batching connection's
// presence or members batch) under its event's name, and records the
// users an item shows online.
func (c *Client) batch(k *Conn, p []byte) {
	var f struct {
		Data struct {
			Batch string `json:"batch"`
			Items []struct {
				ChatEvent string `json:"chatEvent"`
				Data      string `json:"data"`
			} `json:"items"`
		} `json:"data"`
	}
	if json.Unmarshal(p, &f) != nil {
		c.events["undecodable batch"]++
		return
	}
	c.events[f.Data.Batch+" batch frame"]++
	for _, it := range f.Data.Items {
		c.events[it.ChatEvent]++
		if it.ChatEvent == "userOnline" && k.watch != nil {
			var u struct {
				UserID string `json:"userId"`
			}
			if json.Unmarshal([]byte(it.Data), &u) == nil {
				k.watch.saw([]byte(u.UserID))
			}
		}
	}
}

// A reliable connection acks as Chatr's own client does (hubclient.js): the
// latest sequence id once a second (ackTicks × ackTick), and at once after
// ackAfterIDs new ids.
const (
	ackTick     = 100 * time.Millisecond
	ackTicks    = 10
	ackAfterIDs = 300
)

func (c *Client) sendSeqAck(k *Conn) {
	k.ackedSeq = k.seqID
	b := make([]byte, 0, 64)
	b = append(b, `{"type":"sequenceAck","sequenceId":`...)
	b = strconv.AppendUint(b, k.seqID, 10)
	b = append(b, '}')
	k.Write(clientFrame(opText, b))
}

// Server is where the generator connects.
type Server struct {
	Addr [4]byte
	Port int
	// Query is added to every client connection's URL: "batch=1" makes the
	// clients Chatr's own client's shape (presence and membership events
	// coalesced, the presence snapshot at connect); empty, the original
	// client's.
	Query string
}

// clientPath is the hub path a client of user u dials.
func (s Server) clientPath(u User) string {
	p := "/client/hubs/chat?" + u.Token
	if s.Query != "" {
		p += "&" + s.Query
	}
	return p
}

func (s Server) host() string {
	return fmt.Sprintf("%d.%d.%d.%d:%d", s.Addr[0], s.Addr[1], s.Addr[2], s.Addr[3], s.Port)
}

// srcCounter spreads source addresses over 127.0.0.2-127.0.0.250 so that
// tens of thousands of sockets never run out of ephemeral ports.
var srcCounter atomic.Uint32

func sourceAddr() [4]byte {
	n := srcCounter.Add(1)
	return [4]byte{127, 0, 0, byte(2 + n%249)}
}

// Dial opens a WebSocket to path (with its query) on s, offering protocol.
// The handshake runs on a net.Conn (the runtime's poller, so that thousands
// of dials do not hold threads); the returned socket is a non-blocking
// duplicate of it. rest is what was read past the response.
func Dial(s Server, path, protocol string, rcvBuf int) (nc *net.TCPConn, rest []byte, err error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(sourceSlice())}, Timeout: 10 * time.Second}
	if rcvBuf > 0 {
		// Set before connect, so that the window the server sees is small:
		// a reader that stops then backs up into the server at once.
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
		}
	}
	c, err := d.Dial("tcp4", s.host())
	if err != nil {
		return nil, nil, err
	}
	nc = c.(*net.TCPConn)
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + s.host() +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" +
		"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + protocol + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, nil, err
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		if err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("upgrade: %w", err)
		}
		buf = buf[:len(buf)+n]
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 101")) {
				nc.Close()
				line, _, _ := bytes.Cut(buf, []byte("\r\n"))
				body := buf[i+4:]
				return nil, nil, fmt.Errorf("upgrade refused: %s %s", line, body)
			}
			return nc, buf[i+4:], nil
		}
	}
}

func sourceSlice() []byte {
	a := sourceAddr()
	return a[:]
}

// detach returns a non-blocking duplicate of nc's socket and closes nc.
func detach(nc *net.TCPConn) (int, error) {
	raw, err := nc.SyscallConn()
	if err != nil {
		nc.Close()
		return -1, err
	}
	fd := -1
	cerr := raw.Control(func(f uintptr) { fd, err = syscall.Dup(int(f)) })
	nc.Close()
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// await reads frames from a blocking socket until match accepts one; it
// answers pings and returns the bytes past the matched frame.
func await(nc net.Conn, rest []byte, match func(p []byte) bool) ([]byte, error) {
	buf := append(make([]byte, 0, 4096), rest...)
	for {
		for {
			op, p, n := nextFrame(buf)
			if n == 0 {
				break
			}
			switch op {
			case opText:
				if match(p) {
					return buf[n:], nil
				}
			case opClose:
				return nil, fmt.Errorf("closed by the server: %q", p)
			case opPing:
				nc.Write(clientFrame(opPong, p))
			}
			buf = buf[n:]
		}
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), 2*cap(buf)+4096)
			copy(nb, buf)
			buf = nb
		} else if cap(buf)-len(buf) < 1024 {
			nb := make([]byte, len(buf), cap(buf)+4096)
			copy(nb, buf)
			buf = nb
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		if err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+n]
	}
}

// ackMatcher matches the ack of ackID, recording its error when it failed.
func ackMatcher(ackID uint64, failed *string) func(p []byte) bool {
	return func(p []byte) bool {
		if !bytes.Contains(p, typeAck) {
			return false
		}
		if id, ok := uintField(p, keyAckID); !ok || id != ackID {
			return false
		}
		if bytes.Contains(p, keySuccess) {
			*failed = string(p)
		}
		return true
	}
}

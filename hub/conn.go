package hub

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Close codes (RFC 6455 §7.4.1).
const (
	closeNormal      = 1000
	closeGoingAway   = 1001
	closeProtocol    = 1002
	closeUnsupported = 1003
	closeNoStatus    = 1005
	closeInvalidData = 1007
	closePolicy      = 1008
	closeTooBig      = 1009
	closeInternal    = 1011
	closeTryAgain    = 1013
)

// sessionState is where a session is in its life.
type sessionState uint8

const (
	stateLive    sessionState = iota // has a socket
	stateDropped                     // reliable, socket lost, waiting for recovery
	stateGone                        // ended; Disconnected called or about to be
)

// session is one connection as the application sees it: on the reliable
// protocol it outlives the sockets that recover it.
type session struct {
	h    *Hub
	info *ConnInfo

	mu      sync.Mutex // guards the fields below and the current socket's queue
	sock    *socket    // nil while dropped or gone
	state   sessionState
	endWhy  string // set when the session must end once its socket closes (kick, overflow)
	seq     uint64 // last sequenceId given (reliable)
	unacked unackedBuffer
	expiry  *time.Timer // recovery window while dropped

	// hookMu serialises the hooks of this connection across the readers of
	// successive sockets; acks is used only under it.
	hookMu sync.Mutex
	acks   ackRecord

	groups map[string]struct{} // guarded by h.mu

	batches        []pendingBatch // guarded by mu (batch.go)
	batchScheduled bool           // guarded by mu: on the hub's batch list
}

// socket is one WebSocket connection carrying a session.
type socket struct {
	s   *session
	nc  net.Conn
	raw syscall.RawConn // nc's descriptor for non-blocking writes (TCP only)

	lastRead atomic.Int64 // unix nanos of the last frame read
	abandon  atomic.Bool  // closing with its queue discarded: writes keep a short deadline

	// Guarded by s.mu.
	qbox     *[]outFrame // the pooled box the queue's memory came in, if any
	queue    []outFrame
	spare    []outFrame // the writer's previous batch, reused for the next queue
	pending  int64      // bytes charged for frames queued or being written (shed.go)
	detached bool       // no longer counted: being cut off (shed.go)
	writing  bool       // a writer goroutine is running
	closing  bool       // a close frame is queued: nothing more is accepted
	dead     bool       // the reader has ended: write what is queued, then close nc
	slow     bool       // cut off for not keeping up

	// Owned by the reader goroutine.
	hdr        [12]byte
	clientCode int // close code the client sent, 0 if none
	budget     frameBudget
}

// outFrame is one queued frame: head (when headLen > 0) then body. body is
// often shared with other sockets and must not be modified.
type outFrame struct {
	head       [maxHead]byte
	headLen    uint8
	closeAfter bool // a close frame: after writing it, wait for the peer briefly, then tear down
	charged    bool // counted against the socket's and the node's queued bytes (shed.go)
	body       []byte
}

func (f *outFrame) size() int { return int(f.headLen) + len(f.body) }

// ackRecord remembers the most recent ackIds of a session.
type ackRecord struct {
	ids  []uint64
	next int
}

// contains reports whether id was recorded.
func (r *ackRecord) contains(id uint64) bool {
	for _, v := range r.ids {
		if v == id {
			return true
		}
	}
	return false
}

// record remembers id, forgetting the oldest when full.
func (r *ackRecord) record(id uint64) {
	if len(r.ids) < ackRecordSize {
		r.ids = append(r.ids, id)
		return
	}
	r.ids[r.next] = id
	r.next = (r.next + 1) % ackRecordSize
}

// sendMessage queues an encoded message to the session: numbered and kept
// for replay on the reliable protocol. It reports whether it was accepted.
func (s *session) sendMessage(m *encodedMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendMessageLocked(m)
}

func (s *session) sendMessageLocked(m *encodedMessage) bool {
	if s.state == stateGone || s.endWhy != "" {
		return false
	}
	if !s.info.Reliable {
		if s.sock == nil {
			return false
		}
		return s.sock.enqueueLocked(outFrame{body: m.plainFrame()})
	}
	s.seq++
	s.unacked.push(s.seq, m.body)
	if s.unacked.len() > s.h.cfg.UnackedMessages || s.unacked.bytes > s.h.cfg.UnackedBytes {
		s.endLocked(closePolicy, "unacked buffer overflow", "too many unacknowledged messages", true)
		return false
	}
	if s.sock != nil {
		f := outFrame{body: m.body}
		f.headLen = uint8(reliableHead(&f.head, s.seq, len(m.body)))
		s.sock.enqueueLocked(f)
	}
	return true
}

// sendFrame queues a complete frame that carries no sequence id (ack, pong,
// system) to the current socket, if any.
func (s *session) sendFrame(b []byte) {
	s.mu.Lock()
	if s.sock != nil {
		s.sock.enqueueLocked(outFrame{body: b})
	}
	s.mu.Unlock()
}

// sendServerMessage queues a from:"server" message to this session only.
func (s *session) sendServerMessage(p *Payload) {
	if s.sendMessage(newEncodedMessage(fromServer, "", "", p)) {
		s.h.stats.out.Add(1)
	}
}

// ackSequence drops acknowledged messages from the unacked buffer.
func (s *session) ackSequence(n uint64) {
	s.mu.Lock()
	s.unacked.ack(min(n, s.seq))
	s.mu.Unlock()
}

// kick ends the session for good: its socket gets a disconnected frame
// (when message != "") and a close frame with code; a dropped session ends
// at once.
func (s *session) kick(code uint16, why, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(code, why, message, false)
}

// endLocked marks the session to end with reason why. With a socket, the
// socket is closed with code and the reader ends the session when it stops;
// without one, the session ends now (on another goroutine: hooks must not
// run under locks or inside deliver).
//
// With discard, frames still queued are dropped rather than written first.
func (s *session) endLocked(code uint16, why, message string, discard bool) {
	if s.state == stateGone || s.endWhy != "" {
		return
	}
	s.endWhy = why
	s.unacked.release()
	if k := s.sock; k != nil {
		k.closeLocked(code, message, discard)
		return
	}
	go s.end(why, false)
}

// end removes the session and calls Disconnected, exactly once; then Close
// stops waiting for it. With onlyIfDropped (the recovery window's timer) it
// does nothing unless the session is still waiting for recovery.
func (s *session) end(why string, onlyIfDropped bool) {
	s.mu.Lock()
	if s.state == stateGone || onlyIfDropped && s.state != stateDropped {
		s.mu.Unlock()
		return
	}
	s.state = stateGone
	s.sock = nil
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.unacked.release()
	s.mu.Unlock()
	s.h.unregister(s)
	defer s.h.live.Done()
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.h.callDisconnected(s.info, why)
}

// dropped is called by a reader whose socket ended without the session
// ending: a reliable session waits RecoveryWindow for a new socket.
func (s *session) dropped(k *socket) {
	s.mu.Lock()
	if s.sock != k || s.state != stateLive {
		s.mu.Unlock()
		return // a newer socket took over, or the session is ending
	}
	if why := s.endWhy; why != "" { // kicked while the socket was going down
		s.mu.Unlock()
		s.end(why, false)
		return
	}
	s.sock = nil
	s.state = stateDropped
	s.expiry = time.AfterFunc(s.h.cfg.RecoveryWindow, func() { s.end("connection lost (not recovered)", true) })
	s.mu.Unlock()
}

// enqueueLocked queues f and makes sure a writer runs. It reports false when
// the socket no longer accepts frames or the consumer was cut off.
func (k *socket) enqueueLocked(f outFrame) bool {
	if k.closing || k.dead || k.slow {
		return false
	}
	h := k.s.h
	if len(k.queue) >= h.cfg.QueueFrames || k.pending+f.cost() > int64(h.cfg.MaxQueuedBytes) {
		k.cutOffLocked()
		return false
	}
	return k.pushLocked(f)
}

// pushLocked queues f without the queue limit: the replay of a recovered
// session, which the unacked limits already bound.
func (k *socket) pushLocked(f outFrame) bool {
	if k.closing || k.dead || k.slow {
		return false
	}
	if k.queue == nil && k.qbox == nil {
		k.qbox = queuePool.Get().(*[]outFrame)
		k.queue = (*k.qbox)[:0]
	}
	k.chargeLocked(&f)
	k.queue = append(k.queue, f)
	if !k.writing {
		k.writing = true
		k.s.h.scheduleFlush(k)
	}
	return true
}

// cutOffLocked deals with a consumer that does not keep up. On the
// non-reliable protocol the connection ends with 1008. A reliable session
// only loses its socket: its messages are in the unacked buffer and the
// client recovers them when it reconnects.
func (k *socket) cutOffLocked() {
	k.slow = true
	k.s.h.stats.slow.Add(1)
	if k.s.info.Reliable {
		// The queued frames are in the unacked buffer: free them now.
		k.detachLocked()
		clear(k.queue)
		k.queue = k.queue[:0]
		k.nc.Close()
		return
	}
	k.s.endWhy = "slow consumer"
	k.closeLocked(closePolicy, "slow consumer", true)
}

// closeLocked queues a close frame (after a disconnected system frame when
// message != ""); with discard, frames still queued are dropped first.
func (k *socket) closeLocked(code uint16, message string, discard bool) {
	if k.closing || k.dead {
		return
	}
	if discard {
		k.detachLocked()
		clear(k.queue)
		k.queue = k.queue[:0]
		// A writer blocked on a full socket buffer gives up soon.
		k.abandon.Store(true)
		k.nc.SetWriteDeadline(time.Now().Add(closeWait))
	}
	k.slow = false
	if message != "" {
		k.queue = append(k.queue, outFrame{body: disconnectedFrame(message)})
	}
	k.queue = append(k.queue, outFrame{body: closeFrame(code, message), closeAfter: true})
	k.closing = true
	if !k.writing {
		k.writing = true
		go k.write()
	}
}

// write is the socket's writer: it runs while frames are queued, writing
// each batch with one writev, and exits when the queue is empty.
func (k *socket) write() {
	s := k.s
	var bufs net.Buffers
	wrote := false
	for {
		s.mu.Lock()
		batch := k.queue
		if len(batch) == 0 {
			k.writing = false
			k.queue, k.spare = nil, nil // an idle socket holds no queue memory
			k.qbox = nil
			dead := k.dead
			s.mu.Unlock()
			if dead {
				k.nc.Close()
			} else if wrote {
				// The flusher's non-blocking writes check the deadline too.
				k.nc.SetWriteDeadline(time.Time{})
			}
			return
		}
		k.queue, k.spare = k.spare[:0], nil
		s.mu.Unlock()

		bufs = bufs[:0]
		closing := false
		for i := range batch {
			f := &batch[i]
			if f.headLen > 0 {
				bufs = append(bufs, f.head[:f.headLen])
			}
			bufs = append(bufs, f.body)
			closing = closing || f.closeAfter
		}
		wrote = true
		err := k.writeAll(bufs)
		clear(bufs[:cap(bufs)])
		c := charge(batch)
		clear(batch)
		if err != nil || closing {
			s.mu.Lock()
			k.unchargeLocked(c + charge(k.queue))
			k.writing = false
			k.queue, k.spare = nil, nil
			k.qbox = nil
			k.closing = true // a failed or closed socket accepts nothing more
			dead := k.dead
			s.mu.Unlock()
			if err != nil || dead {
				k.nc.Close()
			} else {
				// Give the peer a moment to answer with its close frame;
				// the reader then tears the socket down.
				k.nc.SetReadDeadline(time.Now().Add(closeWait))
			}
			return
		}
		s.mu.Lock()
		k.unchargeLocked(c)
		if cap(batch) <= 64 {
			k.spare = batch[:0]
		}
		s.mu.Unlock()
	}
}

// writeBuffers writes bufs with one writev on a TCP connection. Other
// connections (TLS, say) would turn each buffer into a separate write, and a
// TLS record each, so the frames are gathered into one buffer first.
func writeBuffers(nc net.Conn, bufs net.Buffers) error {
	if tc := tcpConn(nc); tc != nil {
		_, err := bufs.WriteTo(tc)
		return err
	}
	if len(bufs) == 1 {
		_, err := bufs.WriteTo(nc)
		return err
	}
	if v, ok := nc.(vectorWriter); ok {
		return v.writeVectors(bufs)
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	p := writePool.Get().(*[]byte)
	buf := (*p)[:0]
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	for _, b := range bufs {
		buf = append(buf, b...)
	}
	_, err := nc.Write(buf)
	if cap(buf) <= maxPooledBuf {
		*p = buf[:0]
		writePool.Put(p)
	}
	return err
}

// vectorWriter is a connection that takes gathered buffers itself (the
// benchmarks' stand-in for a TCP socket's writev).
type vectorWriter interface{ writeVectors(net.Buffers) error }

// queuePool holds small queue slices (in boxes, so that Put does not
// allocate): a socket takes one when its first frame is queued and the
// flusher returns it once the socket is idle again, so that fan-out to idle
// sockets allocates nothing in the steady state while idle sockets hold no
// queue memory.
var queuePool = sync.Pool{New: func() any { q := make([]outFrame, 0, 4); return &q }}

var writePool = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}

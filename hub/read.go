package hub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// The reader of a socket: frames in, hooks run, the session's fate decided.

// bufPool holds message buffers; a buffer grown for a big message is not
// returned, so memory shrinks back after it.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, smallBuf); return &b }}

const (
	smallBuf     = 4 << 10  // pooled message buffer
	maxPooledBuf = 64 << 10 // bigger buffers are dropped after use
	readChunk    = 32 << 10 // a big payload grows by this much as it arrives
)

var errClosedByPeer = errors.New("closed by peer")

// read is the socket's reader goroutine: it reads frames, runs the hooks
// for the session and, when the socket ends, decides the session's fate.
func (k *socket) read() {
	s, h := k.s, k.s.h
	defer h.live.Done()
	err := k.readLoop()

	h.stats.connections.Add(-1)
	s.mu.Lock()
	k.dead = true
	writing := k.writing
	current := s.sock == k
	why := s.endWhy
	s.mu.Unlock()
	if writing { // the writer closes nc when it has drained; do not wait forever
		time.AfterFunc(closeWait, func() { k.nc.Close() })
	} else {
		k.nc.Close()
	}
	if !current {
		return // a recovering socket took over, or the session already ended
	}
	switch {
	case why != "":
		s.end(why, false)
	case !s.info.Reliable, clientLeft(k.clientCode):
		s.end(closeReason(err, k.clientCode), false)
	case h.closing.Load():
		s.end("hub closed", false)
	default:
		s.dropped(k)
	}
}

// clientLeft reports whether a client's close code says it has left: 1000;
// 1001 from a tab that closes or navigates; none (1005) from the SDK's
// stop(). Its session ends at once, so that presence is true. Any other
// code (an error the client saw, or an application code such as the Chatr
// client's 4000 "dropped by hand" and 4001 "server silent") means the client
// will recover, as does a socket lost without a close frame.
func clientLeft(code int) bool {
	return code == closeNormal || code == closeGoingAway || code == closeNoStatus
}

func closeReason(err error, code int) string {
	if code != 0 {
		return fmt.Sprintf("closed by client (%d)", code)
	}
	if err == nil || errors.Is(err, io.EOF) {
		return "connection closed"
	}
	return "connection lost"
}

func (k *socket) isClosing() bool {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	return k.closing || k.dead
}

// fail closes the socket for a protocol violation; the session ends. The
// rest of the input is read and dropped until the peer's close frame comes
// (or closeWait passes): closing a TCP socket with unread input resets it,
// and the peer would lose our close frame and its code. skip is how much of
// the current frame's payload is unread, -1 when the framing itself is
// broken.
func (k *socket) fail(code uint16, why string, skip int64) error {
	k.s.kick(code, why, why)
	k.nc.SetReadDeadline(time.Now().Add(closeWait))
	if skip < 0 {
		io.Copy(io.Discard, k.nc)
		return errors.New(why)
	}
	for {
		if _, err := io.CopyN(io.Discard, k.nc, skip); err != nil {
			break
		}
		hd, err := ws.ReadHeaderBuffer(k.nc, k.hdr[:])
		if err != nil || hd.OpCode == ws.OpClose {
			break
		}
		skip = hd.Length
	}
	return errors.New(why)
}

// readState is the message a reader is assembling, in a buffer from bufPool.
type readState struct {
	msg    []byte
	pooled *[]byte
	held   int64 // bytes counted against the node's UnfinishedBytes
	timed  bool  // the read deadline is the message's MessageWait
}

// release returns the message's buffer and its share of h's budget.
func (st *readState) release(h *Hub) {
	if st.pooled != nil && cap(st.msg) <= maxPooledBuf {
		*st.pooled = st.msg[:0]
		bufPool.Put(st.pooled)
	}
	if st.held != 0 {
		h.unfinished.Add(-st.held)
	}
	st.pooled, st.msg, st.held, st.timed = nil, nil, 0, false
}

// messageDone clears the deadline of a timed message just received, unless
// a close is under way (whose deadline stays); it reports that close.
func (k *socket) messageDone(st *readState) (closing bool) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if k.closing || k.dead {
		return true
	}
	if st.timed {
		k.nc.SetReadDeadline(time.Time{})
		st.timed = false
	}
	return false
}

// readLoop reads frames until the socket ends. It is kept small, and the
// frame handling is out of line, because an idle connection's reader parks
// here: its stack stays within the goroutine's initial 2 KiB.
func (k *socket) readLoop() error {
	var st readState
	defer st.release(k.s.h)
	for {
		hd, err := ws.ReadHeaderBuffer(k.nc, k.hdr[:])
		if err == nil {
			var done bool
			if done, err = k.frame(hd, &st); !done {
				continue
			}
		}
		if st.pooled != nil && isTimeout(err) {
			return k.messageTimedOut(err)
		}
		return err
	}
}

// messageTimedOut ends a socket whose read deadline passed in the middle of
// a message: the message took longer than MessageWait to arrive (unless the
// deadline was a closing socket's, which ends it anyway).
//
//go:noinline
func (k *socket) messageTimedOut(err error) error {
	if k.isClosing() {
		return err
	}
	return k.fail(closePolicy, "message not received within "+k.s.h.cfg.MessageWait.String(), -1)
}

// frame handles one frame whose header was read; done reports that the
// reader must stop, with err.
//
//go:noinline
func (k *socket) frame(hd ws.Header, st *readState) (done bool, err error) {
	h := k.s.h
	k.lastRead.Store(time.Now().UnixNano())
	if hd.Rsv != 0 || !hd.Masked {
		return true, k.fail(closeProtocol, "protocol error: reserved bits set or frame not masked", hd.Length)
	}
	if hd.OpCode.IsControl() {
		if !hd.Fin || hd.Length > 125 {
			return true, k.fail(closeProtocol, "protocol error: bad control frame", -1)
		}
		var buf [125]byte
		p := buf[:hd.Length]
		if _, err := io.ReadFull(k.nc, p); err != nil {
			return true, err
		}
		ws.Cipher(p, hd.Mask, 0)
		switch hd.OpCode {
		case ws.OpPing:
			k.s.mu.Lock()
			k.enqueueLocked(outFrame{body: controlFrame(opPong, p)})
			k.s.mu.Unlock()
		case ws.OpPong:
		case ws.OpClose:
			code := closeNoStatus
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			k.clientCode = code
			reply := closeReply(code, p)
			k.s.mu.Lock()
			k.closeLocked(reply, "", false)
			k.s.mu.Unlock()
			return true, errClosedByPeer
		default:
			return true, k.fail(closeProtocol, "protocol error: unknown control frame", 0)
		}
		return false, nil
	}
	switch hd.OpCode {
	case ws.OpBinary:
		return true, k.fail(closeUnsupported, "binary frames are not supported on JSON protocols", hd.Length)
	case ws.OpText:
		if st.pooled != nil {
			return true, k.fail(closeProtocol, "protocol error: new message inside a fragmented one", hd.Length)
		}
		st.pooled = bufPool.Get().(*[]byte)
		st.msg = (*st.pooled)[:0]
		if !hd.Fin || hd.Length > smallBuf {
			// A message that is not here at once must be whole within
			// MessageWait, however often a continuation trickles in.
			k.nc.SetReadDeadline(time.Now().Add(h.cfg.MessageWait))
			st.timed = true
		}
	case ws.OpContinuation:
		if st.pooled == nil {
			return true, k.fail(closeProtocol, "protocol error: continuation without a message", hd.Length)
		}
	default:
		return true, k.fail(closeProtocol, "protocol error: reserved opcode", hd.Length)
	}
	if int64(len(st.msg))+hd.Length > int64(h.cfg.MaxFrameBytes) {
		return true, k.fail(closeTooBig, fmt.Sprintf("message larger than %d bytes", h.cfg.MaxFrameBytes), hd.Length)
	}
	// The frame's bytes are counted against the node's budget before they
	// are read: many sockets each holding an unfinished message must not
	// pin the node's memory.
	cost := unfinishedCost(int64(len(st.msg))+hd.Length) - st.held
	if !h.reserveUnfinished(cost) {
		return true, k.fail(closeTryAgain, "server busy: too many unfinished messages", hd.Length)
	}
	st.held += max(cost, 0)
	start := len(st.msg)
	if st.msg, err = readPayload(k.nc, st.msg, hd.Length); err != nil {
		return true, err
	}
	ws.Cipher(st.msg[start:], hd.Mask, 0)
	if !hd.Fin {
		return false, nil
	}
	if !utf8.Valid(st.msg) {
		return true, k.fail(closeInvalidData, "text frame is not valid UTF-8", 0)
	}
	if k.messageDone(st) {
		st.release(h)
		return false, nil // a close is under way: the frame is not processed
	}
	f, err := parseClientFrame(st.msg)
	st.release(h)
	if err != nil {
		return true, k.fail(closeInvalidData, "invalid frame: "+err.Error(), 0)
	}
	if refused, done, err := k.overBudget(&f); refused {
		return done, err
	}
	h.stats.in.Add(1)
	k.s.handle(&f)
	return false, nil
}

// readPayload appends n payload bytes read from r to dst, growing dst only
// as bytes actually arrive.
func readPayload(r io.Reader, dst []byte, n int64) ([]byte, error) {
	for n > 0 {
		c := int(min(n, readChunk))
		if cap(dst)-len(dst) < c {
			dst = slices.Grow(dst, c)
		}
		l := len(dst)
		if _, err := io.ReadFull(r, dst[l:l+c]); err != nil {
			return dst, err
		}
		dst = dst[:l+c]
		n -= int64(c)
	}
	return dst, nil
}

// closeReply is the code to answer a client's close frame with (RFC 6455
// 5.5.1, 7.4): its own code when that is one a peer may send, 1000 for an
// empty close, 1002 for a code that must not travel on the wire or a
// one-byte body, 1007 for a reason that is not UTF-8.
func closeReply(code int, body []byte) uint16 {
	switch {
	case len(body) == 0:
		return closeNormal
	case len(body) == 1:
		return closeProtocol
	case !utf8.Valid(body[2:]):
		return closeInvalidData
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return uint16(code)
	}
	return closeProtocol
}

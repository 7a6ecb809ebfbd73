package hub

import (
	"errors"
	"net"
	"time"
)

// Budgets on what a client controls, checked by the reader before any
// hook runs or any memory is committed to the client's input.

// frameBudget is a connection's token bucket of client frames (every type).
// Owned by the socket's reader.
type frameBudget struct {
	tokens float64
	debt   float64 // refused frames, forgiven at a tenth of the rate
	last   int64   // unix nanos of the last take
}

// take spends one frame at now (unix nanos). ok reports whether the frame
// may be handled; abuse that the connection has had more than twice its
// burst refused lately and must be closed.
func (b *frameBudget) take(now int64, rate float64, burst int) (ok, abuse bool) {
	if b.last == 0 {
		b.tokens, b.last = float64(burst), now
	}
	elapsed := float64(now-b.last) / float64(time.Second)
	b.last = now
	b.tokens = min(float64(burst), b.tokens+elapsed*rate)
	b.debt = max(0, b.debt-elapsed*rate/10)
	if b.tokens >= 1 {
		b.tokens--
		return true, false
	}
	b.debt++
	return false, b.debt > 2*float64(burst)
}

// overBudget deals with a frame refused by the frame budget: a request with
// an ackId is answered TooManyRequests, anything else is dropped. It reports
// whether the frame was refused; with abuse the socket is failed and err set.
func (k *socket) overBudget(f *clientFrame) (refused, done bool, err error) {
	h := k.s.h
	ok, abuse := k.budget.take(time.Now().UnixNano(), h.cfg.FrameRate, h.cfg.FrameBurst)
	switch {
	case ok:
		return false, false, nil
	case abuse:
		return true, true, k.fail(closePolicy, "too many frames", 0)
	}
	if f.HasAck && f.Type != typePing && f.Type != typeSequenceAck {
		k.s.sendFrame(ackFrame(f.AckID, ackTooManyRequests, "Too many frames: slow down"))
	}
	return true, false, nil
}

// reserveUnfinished counts n more bytes of a message being received against
// the node's budget; it reports false, counting nothing, when they do not fit.
func (h *Hub) reserveUnfinished(n int64) bool {
	if n <= 0 {
		return true
	}
	if h.unfinished.Add(n) > int64(h.cfg.UnfinishedBytes) {
		h.unfinished.Add(-n)
		return false
	}
	return true
}

// unfinishedCost is what a message of length n counts against the node's
// budget: the part beyond a small pooled buffer, so that the everyday small
// message never waits on it.
func unfinishedCost(n int64) int64 { return max(0, n-smallBuf) }

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeAll writes bufs to the socket with a deadline about progress: every
// write that moves bytes earns another WriteWait, so a slow but steady
// reader gets a replay of any size, while a socket that takes nothing for
// WriteWait fails with a timeout. A socket being abandoned (closeLocked with
// discard) keeps its short deadline.
func (k *socket) writeAll(bufs net.Buffers) error {
	wait := k.s.h.cfg.WriteWait
	if tc := tcpConn(k.nc); tc != nil {
		for {
			k.setWriteDeadline(wait)
			k.s.h.stats.writes.Add(1)
			n, err := bufs.WriteTo(tc) // consumes what was written
			if err == nil || n == 0 || !isTimeout(err) || k.abandon.Load() {
				return k.writeError(err)
			}
		}
	}
	// Other connections (TLS) are unusable after a write times out: write
	// in slices, each with its own deadline, so that progress still counts.
	for len(bufs) > 0 {
		var chunk net.Buffers
		size := 0
		for len(bufs) > 0 && size < progressChunk {
			b := bufs[0]
			if size+len(b) > progressChunk {
				b = b[:progressChunk-size]
			}
			chunk = append(chunk, b)
			size += len(b)
			if len(b) == len(bufs[0]) {
				bufs = bufs[1:]
			} else {
				bufs[0] = bufs[0][len(b):]
			}
		}
		k.setWriteDeadline(wait)
		k.s.h.stats.writes.Add(1)
		if err := writeBuffers(k.nc, chunk); err != nil {
			return k.writeError(err)
		}
	}
	return nil
}

// writeError counts a socket that took nothing for WriteWait as a slow
// consumer (it is cut off like one).
func (k *socket) writeError(err error) error {
	if err != nil && isTimeout(err) && !k.abandon.Load() {
		k.s.h.stats.slow.Add(1)
	}
	return err
}

// progressChunk is how much a write without a writev of its own (TLS) must
// move within WriteWait.
const progressChunk = 64 << 10

func (k *socket) setWriteDeadline(wait time.Duration) {
	k.nc.SetWriteDeadline(time.Now().Add(wait))
	if k.abandon.Load() { // closeLocked set a short deadline meanwhile
		k.nc.SetWriteDeadline(time.Now().Add(closeWait))
	}
}

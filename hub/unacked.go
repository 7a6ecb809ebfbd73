package hub

import "sync"

// unackedBuffer holds the reliable messages not yet acknowledged, in order.
// Their sequence ids are consecutive (a session numbers every message it
// keeps), so only the bodies are stored, in fixed-size chunks that come
// from a pool and go back to it once acknowledged: a fan-out to N reliable
// sessions appends to N chunks without growing (and copying) N slices, and
// an acknowledged buffer keeps no memory.
type unackedBuffer struct {
	chunks []*unackedChunk
	head   int    // index of the oldest live body in chunks[0]
	n      int    // live bodies
	first  uint64 // sequence id of the oldest live body
	bytes  int
}

// unackedChunkLen is the bodies per chunk: 3 KiB of slice headers.
const unackedChunkLen = 128

type unackedChunk [unackedChunkLen][]byte

var unackedPool = sync.Pool{New: func() any { return new(unackedChunk) }}

// unackedMsg is one buffered message: its id and its shared body (the head
// is rebuilt from seq).
type unackedMsg struct {
	seq  uint64
	body []byte
}

// unackedCost is what a buffered message counts against
// Config.UnackedBytes: its body and the largest head it may need.
func unackedCost(body []byte) int { return len(body) + len(reliablePrefix) + 21 }

func (u *unackedBuffer) len() int { return u.n }

// push appends message seq, which must follow the last one pushed.
func (u *unackedBuffer) push(seq uint64, body []byte) {
	if u.n == 0 {
		u.first = seq
	}
	end := u.head + u.n
	if end == len(u.chunks)*unackedChunkLen {
		u.chunks = append(u.chunks, unackedPool.Get().(*unackedChunk))
	}
	u.chunks[end/unackedChunkLen][end%unackedChunkLen] = body
	u.n++
	u.bytes += unackedCost(body)
}

// ack drops every message with seq <= n and returns emptied chunks.
func (u *unackedBuffer) ack(n uint64) {
	for u.n > 0 && u.first <= n {
		c := u.chunks[0]
		u.bytes -= unackedCost(c[u.head])
		c[u.head] = nil
		u.head++
		u.n--
		u.first++
		if u.head == unackedChunkLen || u.n == 0 {
			u.chunks[0] = nil
			u.chunks = u.chunks[1:]
			u.head = 0
			unackedPool.Put(c)
		}
	}
	if u.n == 0 {
		u.release()
	}
}

// release returns every chunk to the pool and empties the buffer.
func (u *unackedBuffer) release() {
	for i, c := range u.chunks {
		clear(c[:])
		unackedPool.Put(c)
		u.chunks[i] = nil
	}
	*u = unackedBuffer{}
}

// live returns the buffered messages in order (for a replay).
func (u *unackedBuffer) live() []unackedMsg {
	l := make([]unackedMsg, 0, u.n)
	for i := range u.n {
		p := u.head + i
		l = append(l, unackedMsg{u.first + uint64(i), u.chunks[p/unackedChunkLen][p%unackedChunkLen]})
	}
	return l
}

package hub

import (
	"slices"
	"unsafe"
)

// Bounding the bytes queued for sockets.
//
// Every frame queued with pushLocked is charged, from the moment it is
// queued until it has been written or dropped, to its socket (pending) and
// to the node (Hub.queued): its bytes plus the queue entry that holds them.
// A body shared by many recipients is charged once per recipient, so the
// charge is an upper bound of the memory it holds. A socket whose charge
// would pass Config.MaxQueuedBytes is cut off as a slow consumer; when the
// node's charge passes Config.NodeQueuedBytes, the sockets holding the most
// (the ones that read the least) are shed the same way until the node is
// back under seven eighths of its budget, so that a storm or a slow network
// cannot grow memory without limit while healthy readers, whose queues are
// empty between flushes, keep their connections.

// frameOverhead is what one queue entry costs beside its bytes.
const frameOverhead = int64(unsafe.Sizeof(outFrame{}))

func (f *outFrame) cost() int64 { return int64(f.size()) + frameOverhead }

// chargeLocked counts f against k and the node; called with k.s.mu held.
func (k *socket) chargeLocked(f *outFrame) {
	f.charged = true
	c := f.cost()
	k.pending += c
	h := k.s.h
	q := h.queued.Add(c)
	if q > h.nodeBudget {
		h.shedSoon()
	}
	h.flushWake(q)
}

// charge is the cost of frames that were charged.
func charge(frames []outFrame) int64 {
	var c int64
	for i := range frames {
		if frames[i].charged {
			c += frames[i].cost()
		}
	}
	return c
}

// unchargeLocked returns c bytes of frames that were written or dropped.
func (k *socket) unchargeLocked(c int64) {
	if c == 0 || k.detached {
		return
	}
	k.pending -= c
	k.s.h.queued.Add(-c)
}

// detachLocked takes a socket that is being cut off out of the count at
// once: its queue is discarded, and what its writer still holds is freed
// within closeWait (WriteWait for a writer of a socket that closes
// normally), so the shedding pass must not cut off others for it.
func (k *socket) detachLocked() {
	if !k.detached {
		k.s.h.queued.Add(-k.pending)
		k.pending, k.detached = 0, true
	}
}

// shedSoon starts a shedding pass unless one is running.
func (h *Hub) shedSoon() {
	if h.shedding.CompareAndSwap(false, true) {
		go h.shedPass()
	}
}

// shedIfOver sheds on the caller's goroutine when the node is over budget;
// fan-out calls it after queueing, so that the node passes its budget by
// at most one fan-out.
func (h *Hub) shedIfOver() {
	if h.queued.Load() > h.nodeBudget && h.shedding.CompareAndSwap(false, true) {
		h.shedPass()
	}
}

// shedPass cuts off the sockets with the most bytes pending until the node
// is under seven eighths of its budget. h.shedding is set by the caller.
func (h *Hub) shedPass() {
	defer h.shedding.Store(false)
	if h.queued.Load() <= h.nodeBudget {
		return
	}
	type candidate struct {
		k       *socket
		pending int64
	}
	var l []candidate
	h.mu.RLock()
	for _, s := range h.sessions {
		s.mu.Lock()
		if k := s.sock; k != nil {
			if p := k.pending; p > 0 {
				l = append(l, candidate{k, p})
			}
		}
		s.mu.Unlock()
	}
	h.mu.RUnlock()
	slices.SortFunc(l, func(a, b candidate) int {
		switch {
		case a.pending > b.pending:
			return -1
		case a.pending < b.pending:
			return 1
		}
		return 0
	})
	target := h.nodeBudget - h.nodeBudget/8
	for _, c := range l {
		if h.queued.Load() <= target {
			return
		}
		s := c.k.s
		s.mu.Lock()
		if s.sock == c.k && !c.k.closing && !c.k.dead && !c.k.slow {
			h.stats.shed.Add(1)
			c.k.cutOffLocked()
		}
		s.mu.Unlock()
	}
}

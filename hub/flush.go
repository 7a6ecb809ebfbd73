package hub

import (
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Writing without a goroutine per socket.
//
// A socket whose queue goes from empty to non-empty is put on the hub's
// flush list. A flusher goroutine (one per core at most, running only while
// the list is not empty) takes the whole list and writes each socket's
// queued frames with one non-blocking writev. After a fan-out to N members,
// N sockets are written by one goroutine in a tight loop, instead of N
// writer goroutines being created, scheduled and torn down; and because the
// flusher runs only once the publishers have queued what they have, several
// messages still share one writev when they come close together.
//
// A socket the kernel will not take everything from (its send buffer is
// full: a slow or distant reader) gets its own writer goroutine, which
// finishes the write with the WriteWait deadline and drains the queue as
// before, so one slow consumer never holds up the flusher. Close
// handshakes, teardown and non-TCP connections take that path too.

// flushList is the hub's list of sockets with frames to write.
type flushList struct {
	mu      sync.Mutex
	dirty   []*socket
	since   time.Time // when dirty became non-empty (with Config.FlushWindow)
	running int       // flushers running
	wake    chan struct{}
}

// maxFlushers bounds the flushers running at once.
var maxFlushers = runtime.GOMAXPROCS(0)

// scheduleFlush puts k on the flush list; k.writing is already set. Called
// with k.s.mu held.
func (h *Hub) scheduleFlush(k *socket) {
	f := &h.flush
	f.mu.Lock()
	if len(f.dirty) == 0 && h.cfg.FlushWindow > 0 {
		f.since = time.Now()
	}
	f.dirty = append(f.dirty, k)
	start := f.running == 0 || f.running < maxFlushers && len(f.dirty) > 256
	if start {
		f.running++
	}
	f.mu.Unlock()
	if start {
		go h.flushLoop()
	}
}

// flushLoop writes the listed sockets until the list is empty.
func (h *Hub) flushLoop() {
	f := &h.flush
	var (
		batch []*socket
		w     iovWriter
	)
	// Let the goroutines that are ready to run first queue what they have:
	// a group commit releases several publishers at once, and their
	// messages then share one writev per socket instead of one each.
	runtime.Gosched()
	for {
		f.mu.Lock()
		if len(f.dirty) == 0 {
			f.running--
			if f.running == 0 && cap(f.dirty) > 4096 {
				f.dirty = nil // do not keep a big list after a huge fan-out
			}
			f.mu.Unlock()
			return
		}
		if wait := h.cfg.FlushWindow - time.Since(f.since); wait > 0 && h.queued.Load() < h.flushBytes.Load() {
			f.mu.Unlock()
			h.waitFlushWindow(wait)
			f.mu.Lock()
		}
		batch, f.dirty = f.dirty, batch[:0]
		f.mu.Unlock()
		for _, k := range batch {
			k.flush(&w)
		}
		h.stats.writes.Add(w.writes)
		w.writes = 0
		clear(batch)
	}
}

// waitFlushWindow waits up to d for more frames to gather (Config.FlushWindow),
// or until Config.FlushBytes are queued.
func (h *Hub) waitFlushWindow(d time.Duration) {
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-h.flush.wake:
		t.Stop()
	}
}

// flushWake ends a flush window early once enough bytes are queued; called
// as frames are charged.
func (h *Hub) flushWake(queued int64) {
	if h.cfg.FlushWindow > 0 && queued >= h.flushBytes.Load() {
		select {
		case h.flush.wake <- struct{}{}:
		default:
		}
	}
}

// flush writes k's queue without blocking, or hands k to a writer goroutine.
func (k *socket) flush(w *iovWriter) {
	s := k.s
	vw, gathers := k.nc.(vectorWriter) // the benchmarks' stand-in for a socket
	s.mu.Lock()
	if k.raw == nil && !gathers || k.closing || k.dead || len(k.queue) == 0 || len(k.queue) > maxIovecs/2 {
		s.mu.Unlock()
		go k.write() // writing stays set: the goroutine owns the socket now
		return
	}
	batch := k.queue
	k.queue, k.spare = k.spare[:0], nil
	s.mu.Unlock()

	var n, total int
	var err error
	if k.raw != nil {
		n, total, err = w.writev(k.raw, batch)
	} else {
		n, total, err = w.gather(vw, batch)
	}
	switch {
	case err == nil && n == total:
		c := charge(batch)
		clear(batch)
		s.mu.Lock()
		k.unchargeLocked(c)
		if len(k.queue) > 0 || k.closing || k.dead {
			if cap(batch) <= 64 && len(k.queue) > 0 {
				// keep the spare for the next batch; the queue is in use
				k.spare = batch[:0]
			}
			s.mu.Unlock()
			k.flushAgain()
			return
		}
		k.writing = false
		k.queue, k.spare = nil, nil // an idle socket holds no queue memory
		if b := k.qbox; b != nil {
			k.qbox = nil
			if cap(batch) <= 64 {
				*b = batch[:0]
				queuePool.Put(b)
			}
		}
		s.mu.Unlock()
	case err == nil || err == syscall.EAGAIN || err == syscall.EINTR:
		go k.writeRest(batch, n)
	default:
		c := charge(batch)
		clear(batch)
		s.mu.Lock()
		k.unchargeLocked(c)
		s.mu.Unlock()
		k.writeFailed()
	}
}

// flushAgain requeues k, which got more frames while it was being written.
func (k *socket) flushAgain() {
	k.s.mu.Lock()
	if k.closing || k.dead {
		k.s.mu.Unlock()
		go k.write()
		return
	}
	k.s.h.scheduleFlush(k)
	k.s.mu.Unlock()
}

// writeRest finishes a batch the kernel took only written bytes of, with
// the write deadline, then drains the queue like any writer goroutine.
func (k *socket) writeRest(batch []outFrame, written int) {
	var bufs net.Buffers
	for i := range batch {
		f := &batch[i]
		if f.headLen > 0 {
			bufs = append(bufs, f.head[:f.headLen])
		}
		bufs = append(bufs, f.body)
	}
	for written > 0 {
		if len(bufs[0]) > written {
			bufs[0] = bufs[0][written:]
			break
		}
		written -= len(bufs[0])
		bufs = bufs[1:]
	}
	err := k.writeAll(bufs)
	c := charge(batch)
	clear(batch)
	k.s.mu.Lock()
	k.unchargeLocked(c)
	k.s.mu.Unlock()
	if err != nil {
		k.writeFailed()
		return
	}
	k.nc.SetWriteDeadline(time.Time{}) // write() sets it again if it writes
	k.write()
}

// writeFailed gives up on a socket whose write failed.
func (k *socket) writeFailed() {
	s := k.s
	s.mu.Lock()
	k.writing = false
	k.unchargeLocked(charge(k.queue))
	clear(k.queue)
	k.queue, k.spare = nil, nil
	k.qbox = nil
	k.closing = true // a failed socket accepts nothing more
	s.mu.Unlock()
	k.nc.Close()
}

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// iovWriter gathers frames into one writev; the flusher reuses it.
type iovWriter struct {
	iov    []syscall.Iovec
	bufs   net.Buffers
	writes int64 // system calls made, added to Stats.Writes by the flusher
}

// gather hands batch to a vectorWriter (benchmarks).
func (w *iovWriter) gather(vw vectorWriter, batch []outFrame) (n, total int, err error) {
	for i := range batch {
		f := &batch[i]
		if f.headLen > 0 {
			w.bufs = append(w.bufs, f.head[:f.headLen])
		}
		w.bufs = append(w.bufs, f.body)
		total += f.size()
	}
	w.writes++
	err = vw.writeVectors(w.bufs)
	clear(w.bufs)
	w.bufs = w.bufs[:0]
	return total, total, err
}

// writev writes batch on raw without blocking and returns how many bytes
// the kernel took of total.
func (w *iovWriter) writev(raw syscall.RawConn, batch []outFrame) (n, total int, err error) {
	for i := range batch {
		f := &batch[i]
		if f.headLen > 0 {
			w.add(f.head[:f.headLen])
			total += int(f.headLen)
		}
		if len(f.body) > 0 {
			w.add(f.body)
			total += len(f.body)
		}
	}
	if len(w.iov) == 0 {
		return 0, 0, nil
	}
	w.writes++
	cerr := raw.Write(func(fd uintptr) bool {
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		if e != 0 {
			err = e
		} else {
			n = int(r)
		}
		return true // never wait for writability here
	})
	clear(w.iov)
	w.iov = w.iov[:0]
	if cerr != nil {
		err = cerr
	}
	return n, total, err
}

func (w *iovWriter) add(b []byte) {
	v := syscall.Iovec{Base: &b[0]}
	v.SetLen(len(b))
	w.iov = append(w.iov, v)
}

// Package connlimit bounds how many connections one key (a client address)
// holds open at once, without wrapping the connections: a wrapper would hide
// the *net.TCPConn that the hub writes to with non-blocking writev. A
// connection counts until it is closed, which is seen through its
// descriptor: syscall.RawConn.Control fails once the connection is closed.
package connlimit

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// sweepEvery is how often every key's closed connections are forgotten
// (a key at its limit is pruned at once).
const sweepEvery = time.Minute

// Limiter counts open connections per key.
type Limiter struct {
	max   int
	mu    sync.Mutex
	keys  map[string]*entry
	swept time.Time
}

type entry struct {
	pending int               // places reserved, not yet committed or cancelled
	conns   []syscall.RawConn // committed connections, open when last looked at
}

// New returns a limiter allowing max open connections per key.
func New(max int) *Limiter {
	return &Limiter{max: max, keys: make(map[string]*entry), swept: time.Now()}
}

// Reserve takes a place for key and reports whether there was one. A
// reservation ends with Commit or Cancel.
func (l *Limiter) Reserve(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.swept) > sweepEvery {
		l.swept = now
		for k, e := range l.keys {
			e.prune()
			if e.pending == 0 && len(e.conns) == 0 {
				delete(l.keys, k)
			}
		}
	}
	e := l.keys[key]
	if e == nil {
		e = &entry{}
		l.keys[key] = e
	}
	if e.pending+len(e.conns) >= l.max {
		e.prune()
		if e.pending+len(e.conns) >= l.max {
			return false
		}
	}
	e.pending++
	return true
}

// Commit turns key's reservation into nc, counted until nc is closed. A
// connection whose descriptor cannot be reached (not a syscall.Conn, nor
// wrapping one with NetConn) is not counted.
func (l *Limiter) Commit(key string, nc net.Conn) {
	raw := rawConn(nc)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		return
	}
	e.pending--
	if raw != nil {
		e.conns = append(e.conns, raw)
	}
}

// Cancel gives key's reservation back.
func (l *Limiter) Cancel(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.keys[key]; e != nil {
		e.pending--
	}
}

// Open returns how many connections key holds (closed ones forgotten).
func (l *Limiter) Open(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		return 0
	}
	e.prune()
	return e.pending + len(e.conns)
}

// prune forgets the closed connections.
func (e *entry) prune() {
	live := e.conns[:0]
	for _, raw := range e.conns {
		if raw.Control(func(uintptr) {}) == nil {
			live = append(live, raw)
		}
	}
	clear(e.conns[len(live):])
	e.conns = live
}

func rawConn(nc net.Conn) syscall.RawConn {
	for i := 0; i < 4 && nc != nil; i++ {
		if sc, ok := nc.(syscall.Conn); ok {
			raw, err := sc.SyscallConn()
			if err != nil {
				return nil
			}
			return raw
		}
		w, ok := nc.(interface{ NetConn() net.Conn }) // *tls.Conn
		if !ok {
			return nil
		}
		nc = w.NetConn()
	}
	return nil
}

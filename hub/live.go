package hub

// What keeps the hub alive and lets it stop: the sweeper of quiet sockets
// and the tracker that Close waits on.

import (
	"sync"
	"time"
)

// sweep pings quiet sockets and drops dead ones, every PingInterval.
func (h *Hub) sweep() {
	defer close(h.done)
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	var socks []*socket
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		socks = socks[:0]
		h.mu.RLock()
		for _, s := range h.sessions {
			s.mu.Lock()
			if s.sock != nil {
				socks = append(socks, s.sock)
			}
			s.mu.Unlock()
		}
		h.mu.RUnlock()
		now := time.Now().UnixNano()
		pongWait := int64(h.cfg.PingInterval) * 5 / 2
		for _, k := range socks {
			quiet := now - k.lastRead.Load()
			switch {
			case quiet > pongWait:
				k.nc.Close() // lost: the reader sees the error and drops the session to recovery
			case quiet >= int64(h.cfg.PingInterval)/2:
				k.s.mu.Lock()
				k.enqueueLocked(outFrame{body: pingFrame})
				k.s.mu.Unlock()
			}
		}
		clear(socks)
	}
}

// tracker counts what Close waits for: every session (from before its
// Connect hook until its Disconnected hook has returned) and every reader
// goroutine. Unlike sync.WaitGroup it allows adding more while somebody
// waits for zero; once stopped, tryAdd refuses new work.
type tracker struct {
	mu      sync.Mutex
	n       int
	stopped bool
	zero    chan struct{}
}

func (t *tracker) Add(n int) {
	t.mu.Lock()
	t.n += n
	if t.n == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
	t.mu.Unlock()
}

func (t *tracker) Done() { t.Add(-1) }

// tryAdd counts one more unless stop was called.
func (t *tracker) tryAdd() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	t.n++
	return true
}

// stop makes tryAdd refuse from now on.
func (t *tracker) stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}

// idle returns a channel closed when the count is zero.
func (t *tracker) idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	return t.zero
}

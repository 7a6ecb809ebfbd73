package httpapi

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/chatr/chatr"
)

// DefaultConnectionsPerIP bounds the WebSockets open at once from one
// client IP (users behind one NAT share it; the per-user limit is lower).
const DefaultConnectionsPerIP = 500

// socketLimit counts the open WebSockets of each client IP. The hub hijacks
// the connection, so a socket is counted from the upgrade request until the
// hijacked net.Conn is closed; a request that is not upgraded (refused
// token, bad origin) is released when its handler returns.
type socketLimit struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (l *socketLimit) acquire(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip] >= l.max {
		return false
	}
	l.open[ip]++
	return true
}

func (l *socketLimit) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

// limitSockets wraps the hub's handler with the per-IP socket limit.
func (h *Handler) limitSockets(next http.Handler, max int) http.Handler {
	l := &socketLimit{max: max, open: make(map[string]int)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := h.limitKey(r)
		if !l.acquire(ip) {
			w.Header().Set("Retry-After", "10")
			h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "too many connections from this address"))
			return
		}
		var once sync.Once
		release := func() { once.Do(func() { l.release(ip) }) }
		cw := &countedWriter{ResponseWriter: w, release: release}
		next.ServeHTTP(cw, r)
		if !cw.hijacked {
			release()
		}
	})
}

// countedWriter hands out a hijacked connection that releases its count
// when closed.
type countedWriter struct {
	http.ResponseWriter
	release  func()
	hijacked bool
}

func (w *countedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("httpapi: connection cannot be hijacked")
	}
	nc, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	switch c := nc.(type) {
	case *net.TCPConn:
		return &countedTCPConn{TCPConn: c, closer: c, release: w.release}, rw, nil
	case interface{ RawTCPConn() *net.TCPConn }: // the server's per-address listener
		return &countedTCPConn{TCPConn: c.RawTCPConn(), closer: nc, release: w.release}, rw, nil
	}
	return &countedConn{Conn: nc, release: w.release}, rw, nil
}

func (w *countedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countedTCPConn embeds the *net.TCPConn itself, not the net.Conn
// interface, so that its unexported writeBuffers is promoted and
// net.Buffers.WriteTo still gathers the hub's queued frames into one writev.
type countedTCPConn struct {
	*net.TCPConn
	closer  io.Closer // what Close closes: the TCPConn, or the wrapper it came in
	release func()
}

func (c *countedTCPConn) Close() error {
	c.release()
	return c.closer.Close()
}

type countedConn struct {
	net.Conn
	release func()
}

func (c *countedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

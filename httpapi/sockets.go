package httpapi

import (
	"bufio"
	"errors"
	"net"
	"net/http"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/connlimit"
)

// DefaultConnectionsPerIP bounds the WebSockets open at once from one
// client IP (users behind one NAT share it; the per-user limit is lower).
const DefaultConnectionsPerIP = 500

// limitSockets wraps the hub's handler with the per-IP socket limit. The
// hub hijacks the connection, so a socket is counted from the upgrade
// request until the hijacked connection is closed; a request that is not
// upgraded (refused token, bad origin) gives its place back when its
// handler returns. The hub gets the hijacked connection itself, unwrapped
// (it writes to a *net.TCPConn's descriptor directly).
func (h *Handler) limitSockets(next http.Handler, max int) http.Handler {
	l := connlimit.New(max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := h.limitKey(r)
		if !l.Reserve(key) {
			w.Header().Set("Retry-After", "10")
			h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "too many connections from this address"))
			return
		}
		cw := &countedWriter{ResponseWriter: w, commit: func(nc net.Conn) { l.Commit(key, nc) }}
		next.ServeHTTP(cw, r)
		if !cw.hijacked {
			l.Cancel(key)
		}
	})
}

// countedWriter commits the reservation to the hijacked connection.
type countedWriter struct {
	http.ResponseWriter
	commit   func(net.Conn)
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
	// The limiter watches the socket's descriptor, which only the bare
	// connection under Listener's wrapper exposes.
	w.commit(rawConn(nc))
	return nc, rw, nil
}

func (w *countedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rawHijack hands the hub the connection under Listener's wrapper when it
// hijacks a socket.
func rawHijack(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&rawHijacker{w}, r)
	})
}

type rawHijacker struct{ http.ResponseWriter }

func (w *rawHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("httpapi: connection cannot be hijacked")
	}
	nc, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return rawConn(nc), rw, nil
}

func (w *rawHijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }

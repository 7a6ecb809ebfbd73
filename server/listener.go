package server

import (
	"net"
	"sync"

	"github.com/chatr/chatr/httpapi"
)

// tcpSlack is how many connections one address may hold beyond its
// WebSockets: page loads and API calls (a browser opens at most six).
const tcpSlack = 64

// ipLimitListener closes at accept a connection from an address (an IPv6
// /64) that already holds max open ones, so that one host cannot use up the
// process's file descriptors with idle or slow (slowloris) connections.
// Behind a proxy every connection comes from the proxy: it is not used
// with TrustProxy.
type ipLimitListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newIPLimitListener(ln net.Listener, max int) *ipLimitListener {
	return &ipLimitListener{Listener: ln, max: max, open: make(map[string]int)}
}

func (l *ipLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		key := httpapi.AddressKey(host)
		l.mu.Lock()
		full := l.open[key] >= l.max
		if !full {
			l.open[key]++
		}
		l.mu.Unlock()
		if full {
			c.Close()
			continue
		}
		release := sync.OnceFunc(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[key]--; l.open[key] <= 0 {
				delete(l.open, key)
			}
		})
		if tc, ok := c.(*net.TCPConn); ok {
			return &limitedTCPConn{TCPConn: tc, release: release}, nil
		}
		return &limitedConn{Conn: c, release: release}, nil
	}
}

// limitedTCPConn embeds the *net.TCPConn itself so that writev (the hub's
// net.Buffers) and sendfile keep working; RawTCPConn lets a later wrapper
// (the hub's per-IP socket count) do the same.
type limitedTCPConn struct {
	*net.TCPConn
	release func()
}

func (c *limitedTCPConn) Close() error {
	c.release()
	return c.TCPConn.Close()
}

func (c *limitedTCPConn) RawTCPConn() *net.TCPConn { return c.TCPConn }

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

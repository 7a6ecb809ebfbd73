package server

import (
	"net"

	"github.com/chatr/chatr/httpapi"
	"github.com/chatr/chatr/internal/connlimit"
)

// tcpSlack is how many connections one address may hold beyond its
// WebSockets: page loads and API calls (a browser opens at most six).
const tcpSlack = 64

// ipLimitListener closes at accept a connection from an address (an IPv6
// /64) that already holds max open ones, so that one host cannot use up the
// process's file descriptors with idle or slow (slowloris) connections.
// Connections are handed out unwrapped (the hub writes to a *net.TCPConn's
// descriptor). Behind a proxy every connection comes from the proxy: it is
// not used with TrustProxy.
type ipLimitListener struct {
	net.Listener
	open *connlimit.Limiter
}

func newIPLimitListener(ln net.Listener, max int) *ipLimitListener {
	return &ipLimitListener{Listener: ln, open: connlimit.New(max)}
}

func (l *ipLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		key := httpapi.AddressKey(host)
		if !l.open.Reserve(key) {
			c.Close()
			continue
		}
		l.open.Commit(key, c)
		return c, nil
	}
}

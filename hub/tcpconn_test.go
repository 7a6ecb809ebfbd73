package hub

import (
	"net"
	"testing"
)

// TestPrefixedSocketWritesDirectly: a client that sent frames along with its
// handshake gets a prefixConn, and its socket must still take the direct
// writev path (k.raw) rather than one write per frame.
func TestPrefixedSocketWritesDirectly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, c := range []net.Conn{nc, &prefixConn{Conn: nc, pre: []byte("x")}} {
		if k := newSocket(&session{}, c); k.raw == nil {
			t.Errorf("%T: no direct writes", c)
		}
	}
	if tcpConn(&prefixConn{Conn: &prefixConn{}}) != nil {
		t.Error("tcpConn found a TCP connection where there is none")
	}
}

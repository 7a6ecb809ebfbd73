package httpapi

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCountedSocketKeepsTCPConn: the hub gets a connection that still
// embeds *net.TCPConn (so net.Buffers.WriteTo gathers frames with writev),
// and closing it frees the address's place.
func TestCountedSocketKeepsTCPConn(t *testing.T) {
	h := &Handler{}
	got := make(chan net.Conn, 1)
	hub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		got <- nc
	})
	srv := httptest.NewServer(h.limitSockets(hub, 1))
	defer srv.Close()
	dial := func() int {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 12)
		n, _ := c.Read(buf)
		if n == 12 {
			return int(buf[9]-'0')*100 + int(buf[10]-'0')*10 + int(buf[11]-'0')
		}
		return 0 // hijacked: no answer
	}
	if st := dial(); st != 0 {
		t.Fatalf("first socket: status %d, want it hijacked", st)
	}
	nc := <-got
	if _, ok := nc.(*countedTCPConn); !ok {
		t.Errorf("hijacked conn is %T, want *countedTCPConn (writev for the hub)", nc)
	}
	if st := dial(); st != 429 {
		t.Errorf("second socket at a limit of one: status %d, want 429", st)
	}
	nc.Close()
	nc.Close() // twice: released once
	if st := dial(); st != 0 {
		t.Errorf("socket after the first closed: status %d, want it hijacked", st)
	}
	(<-got).Close()
}

// rawListener hands out connections wrapped as the server's per-address
// listener does.
type rawListener struct{ net.Listener }

type rawWrapped struct {
	*net.TCPConn
	closed chan struct{}
}

func (c *rawWrapped) RawTCPConn() *net.TCPConn { return c.TCPConn }
func (c *rawWrapped) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return c.TCPConn.Close()
}

var wrappedConns = make(chan *rawWrapped, 4)

func (l rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w := &rawWrapped{TCPConn: c.(*net.TCPConn), closed: make(chan struct{})}
	wrappedConns <- w
	return w, nil
}

// TestCountedSocketThroughWrapper: behind a listener that wraps its
// connections (and offers RawTCPConn), the hub still gets the bare
// *net.TCPConn for writes, and Close goes through the wrapper.
func TestCountedSocketThroughWrapper(t *testing.T) {
	h := &Handler{}
	got := make(chan net.Conn, 1)
	srv := httptest.NewUnstartedServer(h.limitSockets(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		got <- nc
	}), 1))
	srv.Listener = rawListener{srv.Listener}
	srv.Start()
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	nc := <-got
	ct, ok := nc.(*countedTCPConn)
	if !ok {
		t.Fatalf("hijacked conn is %T, want *countedTCPConn", nc)
	}
	w := <-wrappedConns
	if ct.TCPConn != w.TCPConn {
		t.Errorf("the hub writes through a wrapper, not the bare *net.TCPConn")
	}
	nc.Close()
	select {
	case <-w.closed:
	default:
		t.Errorf("Close did not go through the listener's wrapper")
	}
}

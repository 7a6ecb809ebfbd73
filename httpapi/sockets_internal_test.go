package httpapi

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCountedSocketIsUnwrapped: the hub gets the bare *net.TCPConn (it
// writes to its descriptor with writev), and closing it frees the
// address's place.
func TestCountedSocketIsUnwrapped(t *testing.T) {
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
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
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
	if _, ok := nc.(*net.TCPConn); !ok {
		t.Errorf("hijacked conn is %T, want the bare *net.TCPConn", nc)
	}
	if st := dial(); st != 429 {
		t.Errorf("second socket at a limit of one: status %d, want 429", st)
	}
	nc.Close()
	if st := dial(); st != 0 {
		t.Errorf("socket after the first closed: status %d, want it hijacked", st)
	}
	(<-got).Close()
}

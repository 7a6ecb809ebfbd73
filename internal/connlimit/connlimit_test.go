package connlimit_test

import (
	"net"
	"testing"

	"github.com/chatr/chatr/internal/connlimit"
)

func TestLimiter(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	l := connlimit.New(2)
	a, b := dial(), dial()
	defer a.Close()
	defer b.Close()
	for _, c := range []net.Conn{a, b} {
		if !l.Reserve("x") {
			t.Fatal("reserve under the limit refused")
		}
		l.Commit("x", c)
	}
	if l.Reserve("x") {
		t.Fatal("third place of two given")
	}
	if !l.Reserve("y") {
		t.Fatal("another key refused")
	}
	l.Cancel("y")
	if n := l.Open("y"); n != 0 {
		t.Errorf("cancelled key holds %d", n)
	}
	a.Close()
	if n := l.Open("x"); n != 1 {
		t.Errorf("after one of two closed: %d open, want 1", n)
	}
	if !l.Reserve("x") {
		t.Fatal("place of a closed connection not given again")
	}
	if l.Reserve("x") {
		t.Fatal("a reservation does not count")
	}
	l.Cancel("x")
	// A connection without a descriptor is not counted.
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if !l.Reserve("x") {
		t.Fatal("refused")
	}
	l.Commit("x", p1)
	if n := l.Open("x"); n != 1 {
		t.Errorf("pipe counted: %d open, want 1", n)
	}
}

package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// Modes of faultProxy.
const (
	proxyUp   = iota
	proxyHung // bytes are held: the database seems to hang
	proxyDown // connections are cut and refused
)

// faultProxy sits between Chatr and PostgreSQL and injects outages.
type faultProxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.mode.Load() == proxyDown {
				c.Close()
				continue
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *faultProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		defer dst.Close()
		defer src.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			for p.mode.Load() == proxyHung {
				time.Sleep(10 * time.Millisecond)
			}
			if p.mode.Load() == proxyDown {
				return
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go pipe(up, c)
	pipe(c, up)
}

// set changes the mode; down cuts every open connection.
func (p *faultProxy) set(mode int32) {
	p.mode.Store(mode)
	if mode == proxyDown {
		p.cut()
	}
}

func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// TestStorageOutage runs a node on PostgreSQL through a proxy that makes
// the database hang, then go down, then come back. Meanwhile requests get
// 503 JSON, frames a Timeout or InternalServerError ack within the store
// timeout, /readyz fails and /healthz does not; afterwards the node serves
// again without a restart and every acknowledged message is stored once.
func TestStorageOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out storage timeouts")
	}
	dbURL := postgresSchema(t)
	u, _ := url.Parse(dbURL)
	proxy := newFaultProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	const storeTimeout = 2 * time.Second
	n := start(t, server.Config{DB: u.String(), StoreTimeout: storeTimeout, RequestsPerSecond: -1})
	alice, bob := n.Guest("Alice"), n.Guest("Bob")
	ca, cb := alice.Connect(wsclient.JSON), bob.Connect(wsclient.JSON)
	mustAck(t, ca, "createChat", map[string]string{"name": "Room", "id": "room"})
	mustAck(t, ca, "joinChat", "room")
	mustAck(t, cb, "joinChat", "room")
	tokenURL, _ := bob.Token()
	acked := map[string]bool{}
	for i := 0; i < 3; i++ {
		text := fmt.Sprintf("before %d", i)
		say(t, ca, "room", text)
		acked[text] = true
	}

	status := func(c *client, path string) (int, string) {
		var e struct{ Error, Status string }
		st := c.Do("GET", path, nil, &e)
		return st, e.Error + e.Status
	}
	for _, mode := range []struct {
		name string
		m    int32
	}{{"hung", proxyHung}, {"down", proxyDown}} {
		t.Run(mode.name, func(t *testing.T) {
			proxy.set(mode.m)
			// A chat message: an error ack, within the timeout and some.
			began := time.Now()
			f, err := ca.Call(send("room", "during "+mode.name))
			if err != nil {
				t.Fatalf("no ack while storage is %s: %v", mode.name, err)
			}
			if f.Success {
				acked["during "+mode.name] = true
			} else if f.Error.Name != "Timeout" && f.Error.Name != "InternalServerError" {
				t.Errorf("ack while storage is %s: %+v, want Timeout or InternalServerError", mode.name, f.Error)
			}
			if d := time.Since(began); d > storeTimeout+3*time.Second {
				t.Errorf("ack took %v, beyond the store timeout of %v", d, storeTimeout)
			}
			// Events too.
			if f, err := cb.Call(event("createChat", map[string]string{"name": "x"})); err != nil || f.Success {
				t.Errorf("createChat while storage is %s: %+v %v, want an error ack", mode.name, f.Error, err)
			}
			// A new socket (with a token had before) is refused with a 5xx
			// within the timeout, not left hanging. (The hub answers 500 for
			// a Timeout from the connect hook; 503 would be better.)
			began = time.Now()
			_, err = wsclient.Dial(context.Background(), tokenURL, wsclient.JSON, nil)
			var se ws.StatusError
			if !errors.As(err, &se) || int(se) < 500 {
				t.Errorf("new socket while storage is %s: %v, want a 5xx", mode.name, err)
			}
			if d := time.Since(began); d > storeTimeout+3*time.Second {
				t.Errorf("refusing a new socket took %v", d)
			}
			// HTTP: 503 JSON for the API and sign-in, /readyz fails, /healthz not.
			for _, path := range []string{"/api/chats", "/api/chats/room/messages", "/.auth/me"} {
				if st, code := status(alice, path); st != 503 || code != "unavailable" {
					t.Errorf("GET %s while storage is %s: %d %q, want 503 unavailable", path, mode.name, st, code)
				}
			}
			var e struct{ Error string }
			if st := anon(t, n.Base).Do("POST", "/.auth/login/guest", map[string]string{"name": "Carol"}, &e); st != 503 || e.Error != "unavailable" {
				t.Errorf("sign-in while storage is %s: %d %+v, want 503", mode.name, st, e)
			}
			if st, _ := status(alice, "/readyz"); st != 503 {
				t.Errorf("/readyz while storage is %s: %d, want 503", mode.name, st)
			}
			if st, _ := status(alice, "/healthz"); st != 200 {
				t.Errorf("/healthz while storage is %s: %d, want 200", mode.name, st)
			}
			// Recovery without a restart.
			proxy.set(proxyUp)
			deadline := time.Now().Add(20 * time.Second)
			for {
				st, _ := status(alice, "/readyz")
				if st == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz still %d 20 s after storage came back", st)
				}
				time.Sleep(100 * time.Millisecond)
			}
			for {
				f, err := ca.Call(send("room", "after "+mode.name))
				if err == nil && f.Success {
					acked["after "+mode.name] = true
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sending still fails 20 s after storage came back: %+v %v", f.Error, err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if st, _ := status(bob, "/api/chats"); st != 200 {
				t.Errorf("/api/chats after recovery: %d", st)
			}
			c := bob.Connect(wsclient.JSON) // new connections work too
			c.Close()
		})
	}
	seen := map[string]int{}
	for _, m := range alice.History("room") {
		seen[m.Message]++
	}
	for text := range acked {
		if seen[text] != 1 {
			t.Errorf("acked %q stored %d times", text, seen[text])
		}
	}
	for text, k := range seen {
		if k != 1 {
			t.Errorf("%q stored %d times", text, k)
		}
	}
	// The sockets that lived through the outage still work.
	if f, err := cb.Call(send("room", "bob at the end")); err != nil || !f.Success {
		t.Errorf("bob's socket after the outages: %+v %v", f, err)
	}
}

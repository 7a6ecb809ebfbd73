package hub_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatr/chatr/hub"
)

// TestCloseWaitsForEveryHook: Close returns only once every Disconnected
// hook has returned, including one run by a recovery window that expired
// just before Close (a session with no reader left).
func TestCloseWaitsForEveryHook(t *testing.T) {
	entered := make(chan string, 1)
	release := make(chan struct{})
	var returned atomic.Bool
	var lateHook atomic.Bool
	e := newEnv(t, hub.Config{RecoveryWindow: 50 * time.Millisecond}, func(a *testApp) {
		a.disconnect = func(c *hub.ConnInfo, _ string) {
			entered <- c.ID
			<-release
			if returned.Load() {
				lateHook.Store(true)
			}
		}
	})
	c := e.dial(reliable, "alice")
	c.closeTCP() // the session waits for recovery, then ends on the timer
	if id := <-entered; id != c.connID {
		t.Fatalf("Disconnected for %s, want %s", id, c.connID)
	}
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameWait)
		defer cancel()
		err := e.hub.Close(ctx)
		returned.Store(true)
		closed <- err
	}()
	// Close must still be waiting: the hook has not returned. The short
	// look cannot fail a correct hub; it gives a broken one time to return.
	select {
	case err := <-closed:
		close(release)
		t.Fatalf("Close returned (%v) while a Disconnected hook was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if lateHook.Load() {
		t.Error("a Disconnected hook was still running when Close returned")
	}
}

// TestCloseFrameEndsReliableSession: a reliable client that closes its
// socket with a close frame has left, whatever the code: its session ends at
// once (not after the recovery window) and cannot be recovered. Only a
// socket lost without a close frame stays recoverable.
func TestCloseFrameEndsReliableSession(t *testing.T) {
	e := newEnv(t, hub.Config{RecoveryWindow: time.Minute})
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"1000 normal", ws.NewCloseFrameBody(ws.StatusNormalClosure, "")},
		{"1001 going away (tab closed)", ws.NewCloseFrameBody(ws.StatusGoingAway, "")},
		{"no status code (SDK stop)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(reliable, "alice")
			c.nc.SetWriteDeadline(time.Now().Add(frameWait))
			ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(tc.body)))
			c.expectClose()
			if r := e.app.waitDisconnected(t, c.connID); len(r) != 1 {
				t.Errorf("Disconnected reasons %v, want one", r)
			}
			u := e.wsURL(e.token("alice")) + "&awps_connection_id=" + url.QueryEscape(c.connID) + "&awps_reconnection_token=" + url.QueryEscape(c.token)
			r, _, err := dialRaw(t, u, nil, reliable)
			if err != nil {
				t.Fatal(err)
			}
			if code, _ := r.expectClose(); code != 1008 {
				t.Errorf("recovery after a close frame: close %d, want 1008", code)
			}
		})
	}
	for _, tc := range []struct {
		name string
		drop func(c *client)
	}{
		{"lost without a close frame", func(c *client) { c.closeTCP() }},
		// The Chatr client's dropConnection() and its silent-server check
		// close with an application code and then recover.
		{"application code 4000", func(c *client) {
			c.closeWS(4000)
			c.expectClose()
			c.closeTCP()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(reliable, "alice")
			tc.drop(c)
			waitFor(t, func() bool { return e.hub.Stats().Connections == 0 })
			if r := e.app.disconnects(c.connID); len(r) != 0 {
				t.Fatalf("Disconnected on a lost socket: %v", r)
			}
			u := e.wsURL(e.token("alice")) + "&awps_connection_id=" + url.QueryEscape(c.connID) + "&awps_reconnection_token=" + url.QueryEscape(c.token)
			r, _, err := dialRaw(t, u, nil, reliable)
			if err != nil {
				t.Fatal(err)
			}
			r.expectNothing() // recovered: the socket answers
			r.closeTCP()
			waitFor(t, func() bool { return e.hub.Stats().Connections == 0 })
		})
	}
}

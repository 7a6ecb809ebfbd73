package server_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// N users joining one chat cost O(N) frames, not N²: memberJoined goes to
// the chat's members, coalesced into one frame per window for clients that
// take batches (?batch=1), presence goes to no one who does not show the
// user, and only a small chat's first joins are announced.
func TestJoinStormFramesLinear(t *testing.T) {
	const n = 200
	nd := startNode(t, server.Config{SignInsPerMinute: 100000, RequestsPerSecond: 100000, ConnectionsPerIP: 100000})
	conns := make([]*wsclient.Conn, n)
	for i := range conns {
		u := nd.Guest("U" + string(rune('a'+i%26)) + strings.Repeat("x", i/26))
		url, _ := u.Token()
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		c, err := wsclient.Dial(context.Background(), url+sep+"batch=1", wsclient.JSON, nil)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Drop() })
		conns[i] = c
	}
	mustAck(t, conns[0], "createChat", map[string]string{"name": "Storm", "id": "storm"})

	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 { // a few joins at a time: a busy test machine answers each within the ack timeout
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if f, err := conns[i].Event("joinChat", "storm"); err != nil || !f.Success {
					t.Errorf("joinChat: %+v %v", f.Error, err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	say(t, conns[0], "storm", "marker")

	var total atomic.Int64
	for _, c := range conns[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			frames := int64(3) // connected, own userOnline, the join's ack
			if _, err := c.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
				frames++
				return f.Type == "message" && f.Group == "storm" && strings.Contains(string(f.Data), "marker")
			}); err != nil {
				t.Errorf("marker: %v", err)
			}
			total.Add(frames)
		}()
	}
	wg.Wait()
	// Per connection: a constant few, one batch frame per 150 ms window of
	// the storm (at most), and the announcements of the first 50 joins.
	windows := int64(elapsed/(150*time.Millisecond)) + 2
	limit := int64(n-1) * (6 + windows + 50)
	t.Logf("%d users joined in %v: %d frames in all (%.1f per user), limit %d", n, elapsed, total.Load(), float64(total.Load())/float64(n-1), limit)
	if total.Load() > limit || total.Load() > n*n/4 {
		t.Errorf("%d frames for %d joins, want at most %d: joins must not cost N²", total.Load(), n, limit)
	}
}

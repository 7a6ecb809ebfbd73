package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// N users joining one chat cost O(N) frames, not N²: memberJoined goes to
// the chat's members, coalesced into one frame per window for clients that
// take batches (?batch=1), presence goes to no one who does not show the
// user, and only a small chat's first joins are announced.
func TestJoinStormFramesLinear(t *testing.T) {
	joinStorm(t, "joinChat", func(t *testing.T, _ *user, c *wsclient.Conn) {
		if f, err := c.Event("joinChat", "storm"); err != nil || !f.Success {
			t.Errorf("joinChat: %+v %v", f.Error, err)
		}
	})
}

// The same through one invite link: each user's connection also gets its
// addedToChat, and the members' memberJoined are coalesced as before.
func TestInviteStormFramesLinear(t *testing.T) {
	var token string
	joinStorm(t, "invite", func(t *testing.T, u *user, c *wsclient.Conn) {
		if token == "" {
			var inv struct{ Token string }
			if st := u.Do("POST", "/api/chats/storm/invites", nil, &inv); st != http.StatusCreated {
				t.Fatalf("create invite: %d", st)
			}
			token = inv.Token
			return
		}
		if st := u.Do("POST", "/api/invites/"+token, nil, nil); st != http.StatusOK {
			t.Errorf("use invite: %d", st)
		}
	})
}

// joinStorm has 200 users with batching connections join one chat, with
// join (called first for the chat's creator, alone, then for the others
// from 8 goroutines), and bounds the frames their connections receive.
func joinStorm(t *testing.T, how string, join func(t *testing.T, u *user, c *wsclient.Conn)) {
	const n = 200
	nd := startNode(t, server.Config{SignInsPerMinute: 100000, RequestsPerSecond: 100000, ConnectionsPerIP: 100000})
	users := make([]*user, n)
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
		users[i], conns[i] = u, c
	}
	mustAck(t, conns[0], "createChat", map[string]string{"name": "Storm", "id": "storm"})
	mustAck(t, conns[0], "joinChat", "storm")
	join(t, users[0], conns[0])

	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 { // a few joins at a time: a busy test machine answers each within the ack timeout
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1 + w; i < n; i += 8 {
				join(t, users[i], conns[i])
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	say(t, conns[0], "storm", "marker")

	var total, items atomic.Int64
	for _, c := range conns[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			frames := int64(3) // connected, own userOnline, the join's ack
			if _, err := c.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
				frames++
				items.Add(int64(strings.Count(string(f.Data), `"memberJoined"`)))
				return f.Type == "message" && f.Group == "storm" && strings.Contains(string(f.Data), "marker")
			}); err != nil {
				t.Errorf("marker: %v", err)
			}
			total.Add(frames)
		}()
	}
	wg.Wait()
	// Past 50 members the chat is large: its members hear the count once
	// per window, not each join, which would be n²/2 items however batched.
	if limit := int64((chat.SmallChat+1)*(chat.SmallChat+1) + n); items.Load() > limit {
		t.Errorf("%d memberJoined items for %d joins, want at most %d: a large chat's members hear counts", items.Load(), n, limit)
	}
	if _, err := conns[0].WaitFor(10*time.Second, func(f wsclient.Frame) bool {
		return strings.Contains(string(f.Data), "membersChanged") && strings.Contains(string(f.Data), fmt.Sprintf(`memberCount\":%d`, n))
	}); err != nil {
		t.Errorf("the creator never heard membersChanged with the final count %d: %v", n, err)
	}
	// Per connection: a constant few, one batch frame per 150 ms window of
	// the storm (at most), and the announcements of the first 50 joins.
	windows := int64(elapsed/(150*time.Millisecond)) + 2
	limit := int64(n-1) * (6 + windows + 50)
	t.Logf("%s: %d users joined in %v: %d frames in all (%.1f per user), limit %d", how, n, elapsed, total.Load(), float64(total.Load())/float64(n-1), limit)
	if total.Load() > limit {
		t.Errorf("%d frames for %d joins, want at most %d: joins must not cost N²", total.Load(), n, limit)
	}
	// One frame per member per join would be n²/2. When the storm spans
	// more than n/4 batch windows (a machine so busy that a join takes
	// most of a window) frames cannot tell batching from none: the bound
	// per window above is all that can be asked then.
	if windows <= n/4 && total.Load() > n*n/4 {
		t.Errorf("%d frames for %d joins in %d windows: joins must not cost N²", total.Load(), n, windows)
	}
}

package hub_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chatr/chatr/hub"
)

// TestBatchWindowEnds: over a real socket, a connection marked Batches gets
// its batch by itself once the window ends, with the latest item per key.
func TestBatchWindowEnds(t *testing.T) {
	e := newEnv(t, hub.Config{BatchWindow: 30 * time.Millisecond}, func(a *testApp) {
		a.connect = func(r *hub.ConnectRequest) error {
			r.Conn.Batches = r.Conn.UserID == "batching"
			return nil
		}
	})
	b := e.dial(reliable, "batching")
	o := e.dial(plain, "other")
	ctx := context.Background()
	states := []struct{ user, state string }{{"u1", "online"}, {"u2", "online"}, {"u1", "offline"}}
	for _, c := range []*client{b, o} {
		for _, s := range states {
			m := hub.Message{
				Payload: hub.Payload{Data: []byte(`{"user":"` + s.user + `","state":"` + s.state + `"}`)},
				Batch:   &hub.Batch{Name: "presence", Key: s.user},
			}
			if err := e.hub.SendToConnection(ctx, c.connID, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The other connection gets each message as it is.
	for _, s := range states {
		var d struct{ User, State string }
		if f := o.next(); json.Unmarshal(f.Data, &d) != nil || d.User != s.user || d.State != s.state {
			t.Fatalf("unbatched connection got %s", f.raw)
		}
	}
	// The batching one gets batches (one, unless the sends straddled a
	// window on a busy machine) whose latest word on each user is right.
	latest := map[string]string{}
	for frames := 0; latest["u1"] != "offline" || latest["u2"] != "online"; frames++ {
		if frames == len(states) {
			t.Fatalf("after %d frames: %v", frames, latest)
		}
		f := b.next()
		var d struct {
			Batch string
			Items []struct{ User, State string }
		}
		if f.From != "server" || json.Unmarshal(f.Data, &d) != nil || d.Batch != "presence" || len(d.Items) == 0 {
			t.Fatalf("batching connection got %s", f.raw)
		}
		for _, it := range d.Items {
			latest[it.User] = it.State
		}
	}
}

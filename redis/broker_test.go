package redis_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/redis"
)

// collector records the commands one subscriber receives.
type collector struct {
	mu   sync.Mutex
	cmds []*hub.Command
}

func (c *collector) deliver(cmd *hub.Command) {
	c.mu.Lock()
	c.cmds = append(c.cmds, cmd)
	c.mu.Unlock()
}

func (c *collector) waitFor(t *testing.T, n int) []*hub.Command {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.cmds)
		cmds := append([]*hub.Command(nil), c.cmds...)
		c.mu.Unlock()
		if got >= n {
			return cmds
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d commands, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newBroker(t testing.TB, rdb goredis.UniversalClient, prefix string) *redis.Broker {
	t.Helper()
	b := redis.NewBroker(rdb, redis.BrokerConfig{Prefix: prefix})
	t.Cleanup(func() { b.Close() })
	return b
}

// TestBrokerOrderAndFanout publishes from several goroutines on two nodes
// at once: every node receives every command, each publisher's commands in
// the order it published them, and all nodes in the same global order.
func TestBrokerOrderAndFanout(t *testing.T) {
	rdbA, prefix := testRedis(t)
	rdbB, err := redis.Connect(context.Background(), os.Getenv("CHATR_TEST_REDIS"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdbB.Close() }) // after the brokers close
	nodes := []*redis.Broker{newBroker(t, rdbA, prefix), newBroker(t, rdbB, prefix)}
	cols := []*collector{{}, {}}
	for i, b := range nodes {
		if err := b.Subscribe(context.Background(), cols[i].deliver); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	const publishers, each = 4, 250 // per node
	var wg sync.WaitGroup
	for n, b := range nodes {
		for p := 0; p < publishers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					cmd := &hub.Command{Kind: hub.CmdSendToGroup, Node: fmt.Sprint(n), Group: fmt.Sprintf("g%d", p), ConnID: fmt.Sprint(i),
						Message: &hub.Message{Payload: hub.Payload{DataType: "json", Data: []byte(`{"i":` + fmt.Sprint(i) + `}`)}}}
					if err := b.Publish(context.Background(), cmd); err != nil {
						t.Errorf("publish: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	total := len(nodes) * publishers * each
	var orders [][]string
	for ci, c := range cols {
		cmds := c.waitFor(t, total)
		if len(cmds) != total {
			t.Fatalf("node %d received %d commands, want %d", ci, len(cmds), total)
		}
		next := map[string]int{}
		order := make([]string, 0, total)
		for _, cmd := range cmds {
			pub := cmd.Node + "/" + cmd.Group
			if got, want := cmd.ConnID, fmt.Sprint(next[pub]); got != want {
				t.Fatalf("node %d: publisher %s: got command %s, want %s (out of order)", ci, pub, got, want)
			}
			next[pub]++
			if want := `{"i":` + cmd.ConnID + `}`; string(cmd.Message.Data) != want {
				t.Fatalf("payload %s, want %s", cmd.Message.Data, want)
			}
			order = append(order, pub+"#"+cmd.ConnID)
		}
		orders = append(orders, order)
	}
	if strings.Join(orders[0], ",") != strings.Join(orders[1], ",") {
		t.Error("the nodes received the commands in different orders")
	}
}

// TestBrokerBetweenHubs runs two hubs on one Redis channel: a client's group
// message on one node reaches a member on the other, in order, and a
// server-side broadcast made on the second reaches a client of the first.
func TestBrokerBetweenHubs(t *testing.T) {
	rdb, prefix := testRedis(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	var urls []string
	var hubs []*hub.Hub
	for range 2 {
		h, err := hub.New(hub.Config{Key: key, Hub: "chat", Broker: newBroker(t, rdb, prefix)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(func() { srv.Close(); h.Close(context.Background()) })
		urls, hubs = append(urls, srv.URL), append(hubs, h)
	}
	dial := func(base, user string) *wsclient.Conn {
		tok, err := hub.MintToken(key, hub.Claims{UserID: user, Roles: []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"},
			Audience: base + "/client/hubs/chat", IssuedAt: time.Now(), Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := wsclient.Dial(context.Background(), "ws"+strings.TrimPrefix(base, "http")+"/client/hubs/chat?access_token="+tok, wsclient.JSON, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		if f, err := c.Next(5 * time.Second); err != nil || f.Event != "connected" {
			t.Fatalf("first frame %+v, %v", f, err)
		}
		if f, err := c.Call(map[string]any{"type": "joinGroup", "group": "g"}); err != nil || !f.Success {
			t.Fatalf("join: %+v %v", f, err)
		}
		return c
	}
	alice, bob := dial(urls[0], "alice"), dial(urls[1], "bob")
	const n = 100
	for i := range n {
		if err := alice.Send(map[string]any{"type": "sendToGroup", "group": "g", "noEcho": true, "dataType": "text", "data": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		f, err := bob.WaitFor(5*time.Second, func(f wsclient.Frame) bool { return f.Type == "message" && f.From == "group" })
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got, want := string(f.Data), fmt.Sprintf("%q", fmt.Sprint(i)); got != want || f.FromUserID != "alice" || f.Group != "g" {
			t.Fatalf("message %d: got %s from %q in %q, want %s from alice in g", i, got, f.FromUserID, f.Group, want)
		}
	}
	if err := hubs[1].SendToAll(context.Background(), hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte("hello all")}}); err != nil {
		t.Fatal(err)
	}
	f, err := alice.WaitFor(5*time.Second, func(f wsclient.Frame) bool { return f.Type == "message" && f.From == "server" })
	if err != nil || string(f.Data) != `"hello all"` {
		t.Fatalf("broadcast from the other node: got %s, %v", f.Raw, err)
	}
}

// TestBrokerResubscribes cuts the reader's connection to Redis: the
// broker reconnects by itself and delivery resumes.
func TestBrokerResubscribes(t *testing.T) {
	admin, prefix := testRedis(t)
	node := newCuttable(t, prefix)
	b := newBroker(t, node.rdb, prefix)
	var col collector
	if err := b.Subscribe(context.Background(), col.deliver); err != nil {
		t.Fatal(err)
	}
	ping := func(i int) {
		if err := b.Publish(context.Background(), &hub.Command{Kind: hub.CmdRemoveGroup, Group: fmt.Sprint(i)}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	ping(0)
	col.waitFor(t, 1)
	if n := node.kill(t, admin, false); n == 0 {
		t.Fatal("found no connection to kill")
	}
	ping(1)
	if cmds := col.waitFor(t, 2); len(cmds) != 2 || cmds[1].Group != "1" {
		t.Fatalf("after the kill: %d commands, the second %+v", len(cmds), cmds[len(cmds)-1])
	}
}

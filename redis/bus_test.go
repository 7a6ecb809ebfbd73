package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/redis"
)

// cuttable is a node's Redis client that a test can cut off: kill its
// connections (CLIENT KILL, found by the name it sets with CLIENT SETNAME)
// and keep it from reconnecting until restored.
type cuttable struct {
	rdb  *goredis.Client
	name string
	cut  atomic.Bool
}

func newCuttable(t *testing.T, prefix string) *cuttable {
	t.Helper()
	opt, err := goredis.ParseURL(os.Getenv("CHATR_TEST_REDIS"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cuttable{name: strings.TrimSuffix(prefix, ":") + "-" + randomHex(3)}
	opt.ClientName = c.name
	d := &net.Dialer{Timeout: 5 * time.Second}
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if c.cut.Load() {
			return nil, errors.New("cut off by the test")
		}
		return d.DialContext(ctx, network, addr)
	}
	c.rdb = goredis.NewClient(opt)
	t.Cleanup(func() { c.rdb.Close() })
	return c
}

// kill cuts the node off (until restore when hold) and kills every
// connection it has open; it returns how many it killed.
func (c *cuttable) kill(t *testing.T, admin *goredis.Client, hold bool) int {
	t.Helper()
	c.cut.Store(hold)
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+c.name+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := admin.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err == nil {
					killed++
				}
			}
		}
	}
	return killed
}

func (c *cuttable) restore() { c.cut.Store(false) }

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cmds)
}

// waitUntil polls cond until it holds or 10 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestBusResumesAfterKill kills the reading node's Redis connections again
// and again while another node publishes, once holding the node off while
// hundreds of commands go by: the node receives every command exactly
// once, in order, and is never told to re-sync.
func TestBusResumesAfterKill(t *testing.T) {
	admin, prefix := testRedis(t)
	node := newCuttable(t, prefix)
	pub := newBroker(t, admin, prefix)
	sub := newBroker(t, node.rdb, prefix)
	var col collector
	if err := sub.Subscribe(context.Background(), col.deliver); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	published := make(chan int, 1)
	go func() {
		i := 0
		for ; !stop.Load(); i++ {
			if err := pub.Publish(context.Background(), &hub.Command{Kind: hub.CmdSendToUser, UserID: "bob", ConnID: strconv.Itoa(i)}); err != nil {
				t.Errorf("publish %d: %v", i, err)
				break
			}
		}
		published <- i
	}()
	for round := range 4 {
		seen := col.len()
		waitUntil(t, "commands to flow", func() bool { return col.len() >= seen+200 })
		hold := round == 2
		if n := node.kill(t, admin, hold); n == 0 {
			t.Fatal("found no connection of the node to kill")
		}
		if hold {
			// Commands pile up in the stream while the node cannot reconnect.
			before := col.len()
			time.Sleep(300 * time.Millisecond) // lets the publisher run on; the assertions do not depend on it
			node.restore()
			t.Logf("node held off; it had %d commands when cut", before)
		}
	}
	stop.Store(true)
	total := <-published
	cmds := col.waitFor(t, total)
	if len(cmds) != total {
		t.Fatalf("received %d commands, want %d", len(cmds), total)
	}
	for i, cmd := range cmds {
		if cmd.Kind == hub.CmdResync {
			t.Fatalf("command %d: told to re-sync (%s) though the stream held everything", i, cmd.Reason)
		}
		if cmd.ConnID != strconv.Itoa(i) {
			t.Fatalf("command %d is %s: lost, doubled or out of order", i, cmd.ConnID)
		}
	}
	t.Logf("%d commands through 4 cuts", total)
}

// TestBusResyncsWhenTrimmed holds a node off while far more commands than
// the stream keeps go by: on its return the node is told to re-sync before
// it gets any later command, and the commands it does get are in order.
func TestBusResyncsWhenTrimmed(t *testing.T) {
	admin, prefix := testRedis(t)
	node := newCuttable(t, prefix)
	cfg := redis.BrokerConfig{Prefix: prefix, MaxLen: 10}
	pub := redis.NewBroker(admin, cfg)
	t.Cleanup(func() { pub.Close() })
	sub := redis.NewBroker(node.rdb, cfg)
	t.Cleanup(func() { sub.Close() })
	var col collector
	if err := sub.Subscribe(context.Background(), col.deliver); err != nil {
		t.Fatal(err)
	}
	send := func(i int) {
		if err := pub.Publish(context.Background(), &hub.Command{Kind: hub.CmdSendToUser, ConnID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	col.waitFor(t, 1)
	node.kill(t, admin, true)
	const n = 1000
	for i := 1; i <= n; i++ {
		send(i)
	}
	node.restore()
	send(n + 1)
	waitUntil(t, "the last command", func() bool {
		c := col.waitFor(t, 1)
		return c[len(c)-1].ConnID == strconv.Itoa(n+1)
	})
	cmds := col.waitFor(t, 1)
	if cmds[1].Kind != hub.CmdResync {
		t.Fatalf("after the cut the node got %+v first, want a resync", cmds[1])
	}
	t.Logf("resync: %s; then %d commands", cmds[1].Reason, len(cmds)-2)
	prev := 0
	for _, cmd := range cmds[2:] {
		i, _ := strconv.Atoi(cmd.ConnID)
		if cmd.Kind == hub.CmdResync || i <= prev {
			t.Fatalf("after the resync: %+v follows command %d", cmd, prev)
		}
		prev = i
	}
	if len(cmds)-2 > n/2 {
		t.Fatalf("%d commands survived a stream of 10: nothing was trimmed, the test proves nothing", len(cmds)-2)
	}
}

// busNode is one hub on the bus, served over HTTP.
type busNode struct {
	hub *hub.Hub
	url string
}

var busKey = []byte("0123456789abcdef0123456789abcdef")

func startBusNode(t *testing.T, rdb goredis.UniversalClient, cfg redis.BrokerConfig) *busNode {
	t.Helper()
	b := redis.NewBroker(rdb, cfg)
	t.Cleanup(func() { b.Close() })
	h, err := hub.New(hub.Config{Key: busKey, Hub: "chat", Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); h.Close(context.Background()) })
	return &busNode{hub: h, url: srv.URL}
}

// dial connects user to the node and joins the groups; it returns the
// connection and its id.
func (n *busNode) dial(t *testing.T, user string, groups ...string) (*wsclient.Conn, string) {
	t.Helper()
	tok, err := hub.MintToken(busKey, hub.Claims{UserID: user, Roles: []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"},
		Audience: n.url + "/client/hubs/chat", IssuedAt: time.Now(), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := wsclient.Dial(context.Background(), "ws"+strings.TrimPrefix(n.url, "http")+"/client/hubs/chat?access_token="+tok, wsclient.JSON, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	f, err := c.Next(5 * time.Second)
	if err != nil || f.Event != "connected" {
		t.Fatalf("first frame %+v, %v", f, err)
	}
	for _, g := range groups {
		if f, err := c.Call(map[string]any{"type": "joinGroup", "group": g}); err != nil || !f.Success {
			t.Fatalf("join %s: %+v %v", g, f, err)
		}
	}
	return c, f.ConnectionID
}

func text(f wsclient.Frame) string {
	var s string
	json.Unmarshal(f.Data, &s)
	return s
}

// TestBusMembershipAcrossCut removes bob from a group while his node is cut
// off from Redis, then sends to the group and to bob: once his node reads
// again it applies the removal before the group message, so bob gets every
// message meant for him, once and in order, and not the one to the group.
func TestBusMembershipAcrossCut(t *testing.T) {
	admin, prefix := testRedis(t)
	cfg := redis.BrokerConfig{Prefix: prefix}
	a := startBusNode(t, admin, cfg)
	nodeB := newCuttable(t, prefix)
	b := startBusNode(t, nodeB.rdb, cfg)
	alice, _ := a.dial(t, "alice", "room")
	bob, bobConn := b.dial(t, "bob", "room")
	ctx := context.Background()
	msg := func(s string) hub.Message {
		return hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte(s)}}
	}

	if n := nodeB.kill(t, admin, true); n == 0 {
		t.Fatal("found no connection of node B to kill")
	}
	must0(t, a.hub.RemoveUserFromGroup(ctx, "bob", "room"))
	must0(t, a.hub.SendToGroup(ctx, "room", msg("secret")))
	const n = 50
	for i := range n {
		must0(t, a.hub.SendToUser(ctx, "bob", msg("m"+strconv.Itoa(i))))
	}
	if !b.hub.InGroup(bobConn, "room") {
		t.Fatal("node B applied the removal while cut off: the cut did not hold")
	}
	nodeB.restore()
	must0(t, a.hub.SendToUser(ctx, "bob", msg("end")))
	for i := 0; ; i++ {
		f, err := bob.WaitFor(10*time.Second, func(f wsclient.Frame) bool { return f.Type == "message" })
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		got := text(f)
		if f.From == "group" || got == "secret" {
			t.Fatalf("bob, removed from the group, read %q in it", got)
		}
		if i == n {
			if got != "end" {
				t.Fatalf("message %d is %q, want end", i, got)
			}
			break
		}
		if want := "m" + strconv.Itoa(i); got != want {
			t.Fatalf("message %d is %q, want %q (lost, doubled or out of order)", i, got, want)
		}
	}
	if f, err := alice.WaitFor(5*time.Second, func(f wsclient.Frame) bool { return f.Type == "message" }); err != nil || text(f) != "secret" {
		t.Fatalf("alice, a member, got %s, %v", f.Raw, err)
	}
	if b.hub.InGroup(bobConn, "room") {
		t.Error("bob is still in the group on node B")
	}
}

// TestBusStaleMemberOfRecreatedChat deletes a group while bob's node is cut
// off for longer than the stream keeps, re-creates it under the same name
// with alice alone, and sends to it: bob's node cannot know what it
// missed, so it ends bob's connection (1008, after which clients open a
// new one and re-join through the application) and bob reads nothing.
func TestBusStaleMemberOfRecreatedChat(t *testing.T) {
	admin, prefix := testRedis(t)
	cfg := redis.BrokerConfig{Prefix: prefix, MaxLen: 50}
	a := startBusNode(t, admin, cfg)
	nodeB := newCuttable(t, prefix)
	b := startBusNode(t, nodeB.rdb, cfg)
	bob, bobConn := b.dial(t, "bob", "room")
	probe, _ := a.dial(t, "probe")
	ctx := context.Background()

	nodeB.kill(t, admin, true)
	must0(t, a.hub.RemoveGroup(ctx, "room"))
	for i := range 1000 { // more than the stream keeps
		must0(t, a.hub.SendToUser(ctx, "nobody", hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte(strconv.Itoa(i))}}))
		if i%20 == 19 {
			// Node A reads the stream too: on a busy machine a tight loop
			// can outrun its reader by more than the stream keeps, and then
			// A, rightly, ends its own connections. A probe it must deliver
			// keeps A's reader within 20 commands of the writer.
			p := "probe" + strconv.Itoa(i)
			must0(t, a.hub.SendToUser(ctx, "probe", hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte(p)}}))
			if _, err := probe.WaitFor(10*time.Second, func(f wsclient.Frame) bool { return f.Type == "message" && text(f) == p }); err != nil {
				t.Fatalf("node A did not deliver %s: %v", p, err)
			}
		}
	}
	alice, _ := a.dial(t, "alice", "room")
	must0(t, a.hub.SendToGroup(ctx, "room", hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte("secret")}}))
	if f, err := alice.WaitFor(5*time.Second, func(f wsclient.Frame) bool { return f.Type == "message" }); err != nil || text(f) != "secret" {
		t.Fatalf("alice got %s, %v", f.Raw, err)
	}
	nodeB.restore()
	var frames []wsclient.Frame
	for {
		f, err := bob.Next(10 * time.Second)
		if err != nil {
			break // closed
		}
		frames = append(frames, f)
	}
	for _, f := range frames {
		if f.Type == "message" {
			t.Fatalf("bob read %s", f.Raw)
		}
	}
	var ce wsutil.ClosedError
	if !errors.As(bob.Err(), &ce) || ce.Code != 1008 {
		t.Fatalf("bob's connection ended with %v, want close 1008", bob.Err())
	}
	if b.hub.InGroup(bobConn, "room") {
		t.Error("bob's stale session is still in the group")
	}
	waitUntil(t, "bob's session to end", func() bool { return !b.hub.ConnectionExists(bobConn) })
}

func must0(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBusRetriesRemovals cuts the publishing node off Redis: a removal it
// fails to publish goes out once Redis is back, before anything published
// later, while a message whose publisher gave up never goes out.
func TestBusRetriesRemovals(t *testing.T) {
	admin, prefix := testRedis(t)
	node := newCuttable(t, prefix)
	pub := newBroker(t, node.rdb, prefix)
	sub := newBroker(t, admin, prefix)
	var col collector
	if err := sub.Subscribe(context.Background(), col.deliver); err != nil {
		t.Fatal(err)
	}
	node.kill(t, admin, true)
	publish := func(cmd *hub.Command) error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		return pub.Publish(ctx, cmd)
	}
	if err := publish(&hub.Command{Kind: hub.CmdRemoveGroup, Group: "room"}); err == nil {
		t.Fatal("published while cut off: the cut did not hold")
	}
	if err := publish(&hub.Command{Kind: hub.CmdSendToGroup, Group: "room", Message: &hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte("given up")}}}); err == nil {
		t.Fatal("published while cut off: the cut did not hold")
	}
	node.restore()
	if err := pub.Publish(context.Background(), &hub.Command{Kind: hub.CmdSendToUser, UserID: "after"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the command published after the cut", func() bool {
		c := col.waitFor(t, 1)
		return c[len(c)-1].UserID == "after"
	})
	cmds := col.waitFor(t, 2)
	if len(cmds) != 2 || cmds[0].Kind != hub.CmdRemoveGroup || cmds[0].Group != "room" {
		var kinds []string
		for _, c := range cmds {
			kinds = append(kinds, string(c.Kind))
		}
		t.Fatalf("got %v, want the removal, then the later command (and not the message given up)", kinds)
	}
}

// TestBusReadingFollowsCut: Reading (chatr_redis_connected) turns false
// while the node cannot read the bus and true again once it reads.
func TestBusReadingFollowsCut(t *testing.T) {
	admin, prefix := testRedis(t)
	node := newCuttable(t, prefix)
	sub := newBroker(t, node.rdb, prefix)
	if sub.Reading() {
		t.Fatal("connected before reading the bus")
	}
	var col collector
	if err := sub.Subscribe(context.Background(), col.deliver); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the bus to be read", sub.Reading)
	if n := node.kill(t, admin, true); n == 0 {
		t.Fatal("found no connection of the node to kill")
	}
	waitUntil(t, "the cut to show", func() bool { return !sub.Reading() })
	node.restore()
	waitUntil(t, "reading again", sub.Reading)
}

package redis_test

import (
	"context"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/redis"
)

// changes records what a Presence reports through onChange.
type changes struct {
	mu      sync.Mutex
	online  []string
	offline []string
}

func (c *changes) record(_ context.Context, online, offline []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.online = append(c.online, online...)
	c.offline = append(c.offline, offline...)
}

func (c *changes) get() (online, offline []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.online), slices.Clone(c.offline)
}

// fast timings so that a node counts as dead within a second.
const (
	testHeartbeat   = 100 * time.Millisecond
	testNodeTimeout = 700 * time.Millisecond
)

func startPresence(t *testing.T, rdb goredis.UniversalClient, prefix, node string, ch *changes) *redis.Presence {
	t.Helper()
	p, err := redis.NewPresence(rdb, redis.PresenceConfig{Prefix: prefix, NodeID: node, Heartbeat: testHeartbeat, NodeTimeout: testNodeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), ch.record); err != nil {
		t.Fatalf("start %s: %v", node, err)
	}
	return p
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestPresenceAcrossNodes: connections on two nodes make one cluster-wide
// picture: first and last are about the whole cluster.
func TestPresenceAcrossNodes(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	var ch changes
	a := startPresence(t, rdb, prefix, "a", &ch)
	b := startPresence(t, rdb, prefix, "b", &ch)
	defer a.Close(ctx)
	defer b.Close(ctx)
	mb, ms := must[bool](t), must[[]string](t)
	mi := must[int](t)

	if first := mb(a.Add(ctx, "alice", "c1")); !first {
		t.Error("alice's first connection: first = false")
	}
	if first := mb(b.Add(ctx, "alice", "c2")); first {
		t.Error("alice's second connection, on another node: first = true")
	}
	mb(b.Add(ctx, "bob", "c3"))
	if got, want := ms(b.Online(ctx)), []string{"alice", "bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Online = %v, want %v", got, want)
	}
	if got := mi(a.Count(ctx, "alice")); got != 2 {
		t.Errorf("Count(alice) = %d, want 2", got)
	}
	if last := mb(a.Remove(ctx, "alice", "c1")); last {
		t.Error("alice still has c2 on b: last = true")
	}
	if last := mb(a.Remove(ctx, "alice", "c1")); last {
		t.Error("removing an unknown connection: last = true")
	}
	if last := mb(b.Remove(ctx, "alice", "c2")); !last {
		t.Error("alice's last connection: last = false")
	}
	if got, want := ms(a.Online(ctx)), []string{"bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Online = %v, want %v", got, want)
	}
	if got := mi(a.Count(ctx, "alice")); got != 0 {
		t.Errorf("Count(alice) = %d, want 0", got)
	}
	if on, off := ch.get(); len(on)+len(off) != 0 {
		t.Errorf("no node died, yet changes were reported: online %v, offline %v", on, off)
	}
}

// TestPresenceDeadNode: a node loses Redis (as if it died); the two
// survivors remove its connections within the timeout, and each user who
// thereby went offline is reported once, by one node.
func TestPresenceDeadNode(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	var survivors, victim changes
	a := startPresence(t, rdb, prefix, "a", &survivors)
	b := startPresence(t, rdb, prefix, "b", &survivors)
	defer a.Close(ctx)
	defer b.Close(ctx)
	rdbC, err := redis.Connect(ctx, os.Getenv("CHATR_TEST_REDIS"))
	if err != nil {
		t.Fatal(err)
	}
	c := startPresence(t, rdbC, prefix, "c", &victim)
	defer c.Close(ctx) // stops its loop; its Redis calls fail
	mb := must[bool](t)
	mb(c.Add(ctx, "carol", "c1")) // only on c: goes offline
	mb(c.Add(ctx, "carol", "c2"))
	mb(c.Add(ctx, "dave", "c3")) // also on a: stays online
	mb(a.Add(ctx, "dave", "a1"))
	mb(b.Add(ctx, "erin", "b1"))

	died := time.Now()
	rdbC.Close() // c can no longer heartbeat, remove or clean up
	var off []string
	for time.Since(died) < 5*time.Second {
		if _, off = survivors.get(); len(off) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(died)
	time.Sleep(3 * reapIntervalForTest) // every survivor has reaped by now
	on, off := survivors.get()
	if !reflect.DeepEqual(off, []string{"carol"}) || len(on) != 0 {
		t.Fatalf("reported offline %v, online %v; want offline [carol] once", off, on)
	}
	t.Logf("carol reported offline %v after her node stopped heartbeating (timeout %v)", took.Round(10*time.Millisecond), testNodeTimeout)
	if got, want := must[[]string](t)(a.Online(ctx)), []string{"dave", "erin"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Online = %v, want %v", got, want)
	}
	if n := must[int](t)(b.Count(ctx, "dave")); n != 1 {
		t.Errorf("Count(dave) = %d, want 1 (c's connection removed)", n)
	}
	// The removed connections are gone for good: dave's last one is a1.
	if last := mb(a.Remove(ctx, "dave", "a1")); !last {
		t.Error("dave's remaining connection: last = false")
	}
}

// reapIntervalForTest is the reapers' period (1 s in the package).
const reapIntervalForTest = time.Second

// TestPresenceRedisLostData: after Redis lost the presence keys (a restart
// without persistence), each node puts its connections back at its next
// heartbeat and reports the users that brings online again.
func TestPresenceRedisLostData(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	var ch changes
	a := startPresence(t, rdb, prefix, "a", &ch)
	defer a.Close(ctx)
	must[bool](t)(a.Add(ctx, "alice", "c1"))
	must[bool](t)(a.Add(ctx, "bob", "c2"))
	deleteKeys(t, rdb, prefix)
	deadline := time.Now().Add(3 * time.Second)
	for {
		on, _ := ch.get()
		slices.Sort(on)
		if reflect.DeepEqual(on, []string{"alice", "bob"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reported online %v, want [alice bob]", on)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := must[[]string](t)(a.Online(ctx)), []string{"alice", "bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Online = %v, want %v", got, want)
	}
	if first := must[bool](t)(a.Add(ctx, "alice", "c3")); first {
		t.Error("alice's connection was put back: first = true for another one")
	}
}

// TestPresenceRestartedNode: a node that comes back under the same id
// before it timed out cleans up after its previous life at Start.
func TestPresenceRestartedNode(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	var before, after changes
	a := startPresence(t, rdb, prefix, "a", &before)
	must[bool](t)(a.Add(ctx, "alice", "c1"))
	defer a.Close(ctx)
	// The process "died"; a new one starts with the same id.
	a2 := startPresence(t, rdb, prefix, "a", &after)
	defer a2.Close(ctx)
	time.Sleep(100 * time.Millisecond)
	if _, off := after.get(); !reflect.DeepEqual(off, []string{"alice"}) {
		t.Errorf("offline reported at restart: %v, want [alice]", off)
	}
	if n := must[int](t)(a2.Count(ctx, "alice")); n != 0 {
		t.Errorf("Count(alice) = %d after restart, want 0", n)
	}
}

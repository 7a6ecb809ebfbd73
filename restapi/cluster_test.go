package restapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/redis"
	"github.com/chatr/chatr/restapi"
)

// testRedis connects to CHATR_TEST_REDIS and returns a key prefix of the
// test's own, deleted when the test ends; without Redis the test is
// skipped, or fails under CI=true.
func testRedis(t *testing.T) (*goredis.Client, string) {
	t.Helper()
	url := os.Getenv("CHATR_TEST_REDIS")
	var rdb *goredis.Client
	var err error
	if url != "" {
		rdb, err = redis.Connect(context.Background(), url)
	}
	if url == "" || err != nil {
		msg := "CHATR_TEST_REDIS is not set or unreachable (e.g. redis://127.0.0.1:6379/0)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg, err)
		}
		t.Skip(msg)
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "chatr-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// clusterNode is one node's drop-in hubs and REST API, on a shared Redis.
type clusterNode struct {
	url string
	set *restapi.HubSet
}

func startClusterNode(t *testing.T, rdb goredis.UniversalClient, prefix, node string) *clusterNode {
	t.Helper()
	set := restapi.NewHubSet(key, func(name string) (*hub.Hub, error) {
		b := redis.IndexedBroker{
			Broker: redis.NewBroker(rdb, redis.BrokerConfig{Prefix: prefix, Hub: name}),
			Index:  redis.NewIndex(rdb, redis.IndexConfig{Prefix: prefix, Hub: name, NodeID: node}),
		}
		t.Cleanup(func() { b.Close() })
		return hub.New(hub.Config{Key: key, Hub: name, Broker: b, NodeID: node})
	}, "chat")
	mux := http.NewServeMux()
	mux.Handle("/api/hubs/", restapi.New(restapi.Config{AccessKey: key, Hubs: set}))
	mux.Handle("/client/hubs/", set)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		set.Close(context.Background())
	})
	return &clusterNode{url: srv.URL, set: set}
}

func (n *clusterNode) status(t *testing.T, method, path string) int {
	t.Helper()
	return do(t, method, n.url+path, key, "", "").StatusCode
}

// waitStatus polls a query until it answers want.
func (n *clusterNode) waitStatus(t *testing.T, method, path string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := n.status(t, method, path); got != want; got = n.status(t, method, path) {
		if time.Now().After(deadline) {
			t.Fatalf("%s %s on %s: %d, want %d", method, path, n.url, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterQueries runs two nodes on one Redis: a connection, its user
// and its group on the first are seen by the second's existence and listing
// queries, and its removal from every group made through the second
// reaches it on the first.
func TestClusterQueries(t *testing.T) {
	rdb, prefix := testRedis(t)
	n1 := startClusterNode(t, rdb, prefix, "n1")
	n2 := startClusterNode(t, rdb, prefix, "n2")

	tok, err := hub.MintToken(key, hub.Claims{UserID: "alice", Roles: []string{"webpubsub.joinLeaveGroup"},
		Audience: n1.url + "/client/hubs/h1", IssuedAt: time.Now(), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := wsclient.Dial(context.Background(), "ws"+strings.TrimPrefix(n1.url, "http")+"/client/hubs/h1?access_token="+tok, wsclient.JSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.Next(5 * time.Second)
	if err != nil || f.Event != "connected" {
		t.Fatalf("first frame %+v, %v", f, err)
	}
	conn := f.ConnectionID
	if f, err := c.Call(map[string]any{"type": "joinGroup", "group": "g"}); err != nil || !f.Success {
		t.Fatalf("join: %+v %v", f, err)
	}

	n2.waitStatus(t, "HEAD", "/api/hubs/h1/connections/"+conn, http.StatusOK)
	n2.waitStatus(t, "HEAD", "/api/hubs/h1/groups/g", http.StatusOK)
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api/hubs/h1/users/alice", http.StatusOK},
		{"/api/hubs/h1/users/bob", http.StatusNotFound},
		{"/api/hubs/h1/connections/nope", http.StatusNotFound},
		{"/api/hubs/h1/groups/other", http.StatusNotFound},
		{"/api/hubs/h2/users/alice", http.StatusNotFound}, // another hub
	} {
		if got := n2.status(t, "HEAD", tt.path); got != tt.want {
			t.Errorf("HEAD %s on the other node: %d, want %d", tt.path, got, tt.want)
		}
	}
	resp := do(t, "GET", n2.url+"/api/hubs/h1/groups/g/connections", key, "", "")
	body, _ := io.ReadAll(resp.Body)
	var list struct {
		Value []struct {
			ConnectionID string `json:"connectionId"`
			UserID       string `json:"userId"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Value) != 1 || list.Value[0].ConnectionID != conn || list.Value[0].UserID != "alice" {
		t.Fatalf("group listing on the other node: %s (%v), want alice's connection %s", body, err, conn)
	}

	// Removing alice from every group, asked of the node she is not on.
	if got := do(t, "DELETE", n2.url+"/api/hubs/h1/users/alice/groups", key, "", "").StatusCode; got != http.StatusNoContent {
		t.Fatalf("remove from all groups: %d", got)
	}
	n2.waitStatus(t, "HEAD", "/api/hubs/h1/groups/g", http.StatusNotFound)
	if h := n1.set.Get("h1"); h.InGroup(conn, "g") {
		t.Error("alice is still in g on her node")
	}

	// Her connection closed, through the other node.
	if got := do(t, "DELETE", n2.url+"/api/hubs/h1/connections/"+conn, key, "", "").StatusCode; got != http.StatusNoContent {
		t.Fatalf("close connection: %d", got)
	}
	n2.waitStatus(t, "HEAD", "/api/hubs/h1/users/alice", http.StatusNotFound)
	n2.waitStatus(t, "HEAD", "/api/hubs/h1/connections/"+conn, http.StatusNotFound)
}

// TestClusterIndexExpiresWithNode cuts a node off Redis for good: once its
// heartbeat lapses, its connections are no longer reported by the others.
func TestClusterIndexExpiresWithNode(t *testing.T) {
	rdb, prefix := testRedis(t)
	opt, _ := goredis.ParseURL(os.Getenv("CHATR_TEST_REDIS"))
	rdbDead := goredis.NewClient(opt)
	defer rdbDead.Close()
	dead := redis.NewIndex(rdbDead, redis.IndexConfig{Prefix: prefix, Hub: "h1", NodeID: "dead", NodeTTL: 300 * time.Millisecond})
	live := redis.NewIndex(rdb, redis.IndexConfig{Prefix: prefix, Hub: "h1", NodeID: "live", NodeTTL: 300 * time.Millisecond})
	defer live.Close()
	ctx := context.Background()
	dead.Connected(&hub.ConnInfo{ID: "c1", UserID: "carol"})
	dead.Joined(&hub.ConnInfo{ID: "c1", UserID: "carol"}, "g")
	waitFor(t, "carol indexed", func() bool { ok, _ := live.UserExists(ctx, "carol"); return ok })
	// The node dies: it stops without removing its entries (its client
	// closed, no heartbeat, no clean-up).
	rdbDead.Close()
	waitFor(t, "carol gone with her node", func() bool {
		ok, err := live.UserExists(ctx, "carol")
		return err == nil && !ok
	})
	if ok, _ := live.GroupExists(ctx, "g"); ok {
		t.Error("the dead node's group is still reported")
	}
	waitFor(t, "the dead node's keys deleted", func() bool {
		keys, _ := rdb.Keys(ctx, prefix+"idx:h1:dead:*").Result()
		return len(keys) == 0
	})
	dead.Close()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for " + what)
		}
	}
}

package redis_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/redis"
)

// startRedisServer runs a private redis-server on a free port (no
// persistence, like the CI's), so that the test may kill and restart it
// without disturbing anyone else's Redis.
func startRedisServer(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not installed: cannot test a Redis restart")
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisRestart kills Redis and starts it again, empty: the broker
// re-subscribes by itself and the presence puts the node's connections back
// (reporting their users online again).
func TestRedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a private redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := startRedisServer(t, port)
	ctx := context.Background()
	rdb, err := redis.Connect(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	b := newBroker(t, rdb, redis.DefaultPrefix)
	var col collector
	if err := b.Subscribe(ctx, col.deliver); err != nil {
		t.Fatal(err)
	}
	var ch changes
	p := startPresence(t, rdb, redis.DefaultPrefix, "a", &ch)
	defer p.Close(ctx)
	must[bool](t)(p.Add(ctx, "alice", "c1"))

	srv.Process.Kill()
	srv.Wait()
	restarted := time.Now()
	startRedisServer(t, port)

	for i := 0; ; i++ {
		b.Publish(ctx, &hub.Command{Kind: hub.CmdRemoveGroup, Group: strconv.Itoa(i)})
		col.mu.Lock()
		n := len(col.cmds)
		col.mu.Unlock()
		if n > 0 {
			t.Logf("broker delivering again %v after Redis came back", time.Since(restarted).Round(time.Millisecond))
			break
		}
		if time.Since(restarted) > 10*time.Second {
			t.Fatal("broker not delivering 10 s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		on, _ := ch.get()
		ids, _ := p.Online(ctx)
		if reflect.DeepEqual(on, []string{"alice"}) && reflect.DeepEqual(ids, []string{"alice"}) {
			t.Logf("presence restored %v after Redis came back", time.Since(restarted).Round(time.Millisecond))
			break
		}
		if time.Since(restarted) > 10*time.Second {
			t.Fatalf("presence not restored: reported online %v, Online %v", on, ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, _ := p.Count(ctx, "alice"); n != 1 {
		t.Errorf("Count(alice) = %d, want 1", n)
	}
}

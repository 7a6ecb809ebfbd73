package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/redis"
)

// TestBusCutNode kills a node's Redis connections (CLIENT KILL, found by
// the name the node gives them) again and again while a member on another
// node talks: the cut node's member receives every message once, in order.
func TestBusCutNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two chatr processes")
	}
	pgURL, redisURL, prefix := services(t)
	bin := buildChatr(t)
	nodes := startNodes(t, bin, pgURL, redisURL, prefix, 2)
	n1, n2 := nodes[0], nodes[1]
	admin, err := redis.Connect(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	kill := func() int {
		name := strings.TrimSuffix(prefix, ":") + ":" + n2.id
		list, err := admin.ClientList(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		killed := 0
		for _, line := range strings.Split(list, "\n") {
			if !strings.Contains(line, " name="+name+" ") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if id, ok := strings.CutPrefix(f, "id="); ok && admin.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err() == nil {
					killed++
				}
			}
		}
		return killed
	}

	alice, bob := signIn(t, n1, "Alice"), signIn(t, n2, "Bob")
	ca, _ := alice.connect(n1)
	cb, _ := bob.connect(n2)
	room := "room-" + randomHex(4)
	mustEvent(t, ca, "createChat", map[string]string{"name": "Room", "id": room})
	mustEvent(t, ca, "joinChat", room)
	mustEvent(t, cb, "joinChat", room)

	const n = 60
	for i := range n {
		if i%20 == 10 {
			if k := kill(); k == 0 {
				t.Fatalf("found no Redis connection of %s to kill", n2.id)
			}
		}
		say(t, ca, room, fmt.Sprintf("m%d", i))
	}
	var got []string
	for len(got) < n {
		f, err := cb.WaitFor(10*time.Second, func(f wsclient.Frame) bool {
			return f.Type == "message" && f.From == "group" && f.Group == room
		})
		if err != nil {
			t.Fatalf("bob got %d of %d messages (%v): %v", len(got), n, got, err)
		}
		var m chatMsg
		if json.Unmarshal(f.Data, &m) == nil && m.Message != "" {
			got = append(got, m.Message)
		}
	}
	for i, m := range got {
		if want := fmt.Sprintf("m%d", i); m != want {
			t.Fatalf("bob's message %d is %q, want %q: lost, doubled or out of order (%v)", i, m, want, got)
		}
	}
	if _, err := cb.WaitFor(300*time.Millisecond, func(f wsclient.Frame) bool {
		return f.Type == "message" && f.From == "group" && f.Group == room
	}); err == nil {
		t.Error("bob got a message more than was sent")
	}
}

package cluster_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatr/chatr/internal/wsclient"
)

// An admin's ban on one node closes the banned user's sockets on every
// node of a three-node cluster within a second, with 1008 "banned"; other
// users' sockets stay open.
func TestBanClosesSocketsOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	pgURL, redisURL, prefix := services(t)
	bin := buildChatr(t)
	t.Setenv("CHATR_ADMINS", "@boss") // read by the node processes
	nodes := startNodes(t, bin, pgURL, redisURL, prefix, 3)

	boss := signIn(t, nodes[0], "Boss")
	victim := signIn(t, nodes[0], "Victim")
	other := signIn(t, nodes[0], "Other")
	var victimConns []*wsclient.Conn
	for _, n := range nodes {
		c, _ := victim.connect(n)
		victimConns = append(victimConns, c)
	}
	bystander, _ := other.connect(nodes[2])

	start := time.Now()
	if st := boss.do(nodes[1], "POST", "/api/admin/users/"+victim.ID+"/ban", nil, nil); st != 204 {
		t.Fatalf("ban on n2: status %d, want 204", st)
	}
	type result struct {
		code   ws.StatusCode
		reason string
		after  time.Duration
		err    error
	}
	results := make([]result, len(victimConns))
	var wg sync.WaitGroup
	for i, c := range victimConns {
		wg.Go(func() {
			code, err := c.WaitClosed(time.Second - time.Since(start))
			var ce wsutil.ClosedError
			errors.As(c.Err(), &ce)
			results[i] = result{code, ce.Reason, time.Since(start), err}
		})
	}
	wg.Wait()
	var slowest time.Duration
	for i, r := range results {
		if r.err != nil || r.code != ws.StatusPolicyViolation || r.reason != "banned" {
			t.Errorf("victim's socket on %s: closed with %d %q after %v (%v), want 1008 banned within 1 s",
				nodes[i].id, r.code, r.reason, r.after, r.err)
		}
		slowest = max(slowest, r.after)
	}
	t.Logf("every socket of the banned user closed %v after the ban was sent", slowest)

	// The bystander's socket on the third node still works.
	mustEvent(t, bystander, "createChat", map[string]string{"name": "still here", "id": "still-here"})
	// The victim can neither get a token nor sign in again with the old session.
	for _, n := range nodes {
		if st := victim.do(n, "GET", "/api/getToken", nil, nil); st != 401 {
			t.Errorf("getToken on %s after the ban: status %d, want 401", n.id, st)
		}
	}
}

// A rename through one node stamps the user's messages with the new name on
// every node, and reaches the members connected to other nodes.
func TestRenameReachesEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	pgURL, redisURL, prefix := services(t)
	nodes := startNodes(t, buildChatr(t), pgURL, redisURL, prefix, 3)
	alice, bob := signIn(t, nodes[0], "Alice"), signIn(t, nodes[0], "Bob")
	ca, _ := alice.connect(nodes[2])
	cb, _ := bob.connect(nodes[1])
	mustEvent(t, ca, "createChat", map[string]string{"name": "General", "id": "general"})
	mustEvent(t, ca, "joinChat", "general")
	mustEvent(t, cb, "joinChat", "general")

	if st := alice.do(nodes[0], "PATCH", "/api/me", map[string]string{"userName": "Alicia"}, nil); st != 200 {
		t.Fatalf("rename on n1: status %d", st)
	}
	waitEvent(t, cb, "bob", "userRenamed", func(d string) bool { return strings.Contains(d, `"userName":"Alicia"`) })
	// The node alice is connected to hears of it shortly: wait for her
	// messages through n3 to carry the new name.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		text := fmt.Sprintf("hello %d", i)
		mustSend(t, ca, "general", text)
		if m := waitChat(t, cb, "bob", "general", text); m.FromUserName == "Alicia" {
			t.Logf("stamped with the new name on n3 from message %d", i)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("n3 still stamps alice's messages with her old name")
		}
	}
}

// mustSend sends a chat message and waits for its ack.
func mustSend(t *testing.T, c *wsclient.Conn, chatID, text string) {
	t.Helper()
	f, err := c.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json", "data": map[string]any{"message": text}})
	if err != nil || !f.Success {
		t.Fatalf("send %q: %+v %v", text, f, err)
	}
}

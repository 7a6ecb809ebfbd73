package cluster_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/wsclient"
)

// offlineBound is how soon the users of a dead node must show as offline:
// the Redis presence's node timeout (10 s) plus its reaping period (1 s),
// with some slack for a loaded CI machine.
const offlineBound = 15 * time.Second

func contains(s string) func(string) bool {
	return func(d string) bool { return strings.Contains(d, s) }
}
func equals(s string) func(string) bool { return func(d string) bool { return d == s } }

// TestCluster runs three chatr processes on one PostgreSQL schema and one
// Redis prefix, with clients spread over them. They chat in a group and in
// private, and see each other's presence, typing and idle changes across
// nodes. Then one node is killed with SIGKILL while messages flow: its
// clients move to the others, every acknowledged message reaches every
// member exactly once and is stored exactly once, and the dead node's users
// go offline within the bound, announced once.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three chatr processes")
	}
	pgURL, redisURL, prefix := services(t)
	bin := buildChatr(t)
	nodes := startNodes(t, bin, pgURL, redisURL, prefix, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	// Sessions are shared: a user signed in on one node is known to all.
	alice, bob := signIn(t, n1, "Alice"), signIn(t, n2, "Bob")
	carol, dave := signIn(t, n3, "Carol"), signIn(t, n3, "Dave")
	ca, _ := alice.connect(n1)
	cb, _ := bob.connect(n2)
	cc, helloC := carol.connect(n3)
	cd, helloD := dave.connect(n3)
	type member struct {
		u *user
		c *wsclient.Conn
	}
	all := []member{{alice, ca}, {bob, cb}, {carol, cc}, {dave, cd}}

	t.Run("presence", func(t *testing.T) {
		// They share no chat yet: a client shows them by asking, and is
		// told at once who of them is online, wherever they are connected.
		mustEvent(t, ca, "watchPresence", map[string][]string{"userIds": {bob.ID, carol.ID}})
		mustEvent(t, cb, "watchPresence", map[string][]string{"userIds": {dave.ID}})
		waitEvent(t, ca, "alice", "userOnline", contains(bob.ID))
		waitEvent(t, ca, "alice", "userOnline", contains(carol.ID))
		waitEvent(t, cb, "bob", "userOnline", contains(dave.ID))
		for _, n := range nodes {
			online := bob.online(n)
			for _, m := range all {
				if !online[m.u.ID] {
					t.Errorf("/api/users on %s: %s missing from %v", n.id, m.u.Name, online)
				}
			}
		}
	})

	room := "room-" + randomHex(4)
	t.Run("group chat", func(t *testing.T) {
		mustEvent(t, ca, "createChat", map[string]string{"name": "Room", "id": room})
		for _, m := range all[1:] {
			waitEvent(t, m.c, m.u.Name, "chatCreated", contains(room))
		}
		for _, m := range all {
			mustEvent(t, m.c, "joinChat", room)
		}
		for _, m := range all {
			say(t, m.c, room, "hello from "+m.u.Name)
		}
		for _, to := range all {
			for _, from := range all {
				if got := waitChat(t, to.c, to.u.Name, room, "hello from "+from.u.Name); got.FromUserID != from.u.ID {
					t.Errorf("%s: message of %s stamped %q", to.u.Name, from.u.Name, got.FromUserID)
				}
			}
		}
	})

	t.Run("typing and idle", func(t *testing.T) {
		mustEvent(t, cc, "typing", map[string]string{"chatId": room})
		waitEvent(t, ca, "alice", "typing", contains(carol.ID))
		waitEvent(t, cb, "bob", "typing", contains(carol.ID))
		mustEvent(t, cb, "userEnterIdle", map[string]any{})
		waitEvent(t, ca, "alice", "userIsIdle", equals(bob.ID))
		waitEvent(t, cd, "dave", "userIsIdle", equals(bob.ID))
		var users struct {
			Users map[string]struct{ Idle bool }
		}
		if st := carol.do(n3, "GET", "/api/users", nil, &users); st != 200 || !users.Users[bob.ID].Idle {
			t.Errorf("/api/users on n3 while bob (n2) is idle: status %d, %+v", st, users.Users[bob.ID])
		}
		mustEvent(t, cb, "userExitIdle", map[string]any{})
		waitEvent(t, ca, "alice", "userNotIdle", equals(bob.ID))
		waitEvent(t, cc, "carol", "userNotIdle", equals(bob.ID))
	})

	var private string
	t.Run("private chat", func(t *testing.T) {
		mustEvent(t, ca, "createPrivateChat", map[string]string{"targetUserId": carol.ID})
		var pc struct{ ID string }
		json.Unmarshal([]byte(waitEvent(t, cc, "carol", "joinPrivateChat", nil)), &pc)
		waitEvent(t, ca, "alice", "joinPrivateChat", contains(pc.ID))
		if private = pc.ID; private == "" {
			t.Fatal("joinPrivateChat without an id")
		}
		say(t, ca, private, "psst, Carol")
		waitChat(t, cc, "carol", private, "psst, Carol")
		say(t, cc, private, "hi Alice")
		waitChat(t, ca, "alice", private, "hi Alice")
		if st := bob.do(n2, "GET", "/api/chats/"+private+"/messages", nil, nil); st != 403 && st != 404 {
			t.Errorf("bob reads the private chat's history: status %d", st)
		}
	})
	t.Run("drop-in hub", func(t *testing.T) {
		// A drop-in Web PubSub hub spans the cluster too: a client's group
		// message on one node reaches the group's members on the others.
		dial := func(n *node, user string) *wsclient.Conn {
			tok, err := hub.MintToken([]byte(dropInKey), hub.Claims{UserID: user,
				Roles:    []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"},
				Audience: n.base + "/client/hubs/Sensors", IssuedAt: time.Now(), Expires: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			c, err := wsclient.Dial(t.Context(), "ws://"+n.addr+"/client/hubs/Sensors?access_token="+tok, wsclient.JSON, nil)
			if err != nil {
				t.Fatalf("dial drop-in hub on %s: %v", n.id, err)
			}
			t.Cleanup(func() { c.Close() })
			if f, err := c.Next(5 * time.Second); err != nil || f.Event != "connected" {
				t.Fatalf("first frame %s, %v", f.Raw, err)
			}
			if f, err := c.Call(map[string]any{"type": "joinGroup", "group": "g"}); err != nil || !f.Success {
				t.Fatalf("joinGroup: %s %v", f.Raw, err)
			}
			return c
		}
		x, y, z := dial(n1, "x"), dial(n2, "y"), dial(n3, "z")
		if f, err := x.Call(map[string]any{"type": "sendToGroup", "group": "g", "dataType": "text", "data": "21.5"}); err != nil || !f.Success {
			t.Fatalf("sendToGroup: %s %v", f.Raw, err)
		}
		for name, c := range map[string]*wsclient.Conn{"y": y, "z": z} {
			f, err := c.WaitFor(5*time.Second, func(f wsclient.Frame) bool { return f.Type == "message" && f.Group == "g" })
			if err != nil || string(f.Data) != `"21.5"` || f.FromUserID != "x" {
				t.Errorf("%s: got %s, %v; want 21.5 from x", name, f.Raw, err)
			}
		}
	})

	t.Run("recovery on the same node", func(t *testing.T) {
		// Dave's socket drops; what the other nodes publish meanwhile
		// waits in his session and is replayed when he recovers it.
		cd.Drop()
		say(t, ca, room, "while you were away")
		u := dave.token(n3) + "&awps_connection_id=" + url.QueryEscape(helloD.ConnectionID) +
			"&awps_reconnection_token=" + url.QueryEscape(helloD.ReconnToken)
		c, err := wsclient.Dial(t.Context(), u, wsclient.Reliable, nil)
		if err != nil {
			t.Fatalf("recover: %v", err)
		}
		t.Cleanup(func() { c.Drop() })
		waitChat(t, c, "dave", room, "while you were away")
		all[3].c, cd = c, c
	})
	if t.Failed() {
		t.FailNow()
	}

	// Kill n3 (Carol and Dave) with SIGKILL while Alice, Bob and Carol send.
	for _, m := range all {
		m.c.Skip()
	}
	recA, recB, recC, recD := record(ca), record(cb), record(cc), record(cd)
	_ = recD
	const perSender = 150
	var (
		wg                  sync.WaitGroup
		sentA, sentB, sentC map[uint64]string
		carolStopped        int
	)
	wg.Add(3)
	go func() { defer wg.Done(); sentA, _ = send(ca, nil, "alice", room, 0, perSender) }()
	go func() { defer wg.Done(); sentB, _ = send(cb, nil, "bob", room, 0, perSender) }()
	go func() { defer wg.Done(); sentC, carolStopped = send(cc, recC.done, "carol", room, 0, perSender) }()
	time.Sleep(250 * time.Millisecond)
	if err := n3.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	n3.cmd.Wait()
	wg.Wait()
	<-recC.done
	<-recD.done
	carolOld := recC.snapshot()

	// Carol's client reconnects through the load balancer to another node.
	// Her session lived on n3: recovery is refused with 1008, never faked.
	recURL := carol.token(n1) + "&awps_connection_id=" + url.QueryEscape(helloC.ConnectionID) +
		"&awps_reconnection_token=" + url.QueryEscape(helloC.ReconnToken)
	rc, err := wsclient.Dial(t.Context(), recURL, wsclient.Reliable, nil)
	if err != nil {
		t.Fatalf("recovery dial: %v", err)
	}
	if code, err := rc.WaitClosed(5 * time.Second); err != nil || code != 1008 {
		t.Fatalf("recovery on another node: close %d (%v), want 1008", code, err)
	}
	// So the client starts afresh there and re-syncs from history.
	cc2, _ := carol.connect(n1)
	recC2 := record(cc2)
	resync := carol.history(n1, room)
	sentC2, _ := send(cc2, nil, "carol", room, carolStopped, perSender)

	// Wait for the acks of Carol's new messages, and for Dave's offline.
	deadline := time.Now().Add(offlineBound + 10*time.Second)
	var offlineAfter time.Duration
	for time.Now().Before(deadline) {
		if offlineAfter == 0 {
			for _, f := range recA.snapshot() {
				if n, d, ok := f.ServerEvent(); ok && n == "userOffline" && d == dave.ID {
					offlineAfter = f.at.Sub(killedAt)
				}
			}
		}
		if offlineAfter != 0 && len(acked(recC2.snapshot(), sentC2)) == len(sentC2) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // room for a duplicate announcement to show up
	framesA, framesB, framesC2 := recA.finish(), recB.finish(), recC2.finish()

	if offlineAfter == 0 {
		t.Fatalf("Dave (only on the killed node) not announced offline within %v", offlineBound+10*time.Second)
	}
	t.Logf("Dave announced offline %v after SIGKILL (bound %v)", offlineAfter.Round(10*time.Millisecond), offlineBound)
	if offlineAfter > offlineBound {
		t.Errorf("Dave went offline %v after the kill, want within %v", offlineAfter, offlineBound)
	}
	for who, frames := range map[string][]stamped{"alice": framesA, "bob": framesB} {
		if n := countEvent(frames, "userOffline", dave.ID); n != 1 {
			t.Errorf("%s got userOffline for Dave %d times, want once", who, n)
		}
		if n := countEvent(frames, "userOffline", carol.ID); n != 0 {
			t.Errorf("%s got userOffline for Carol, who moved to another node", who)
		}
		for _, f := range frames {
			if f.Group == private {
				t.Errorf("%s received a message of the private chat", who)
			}
		}
	}
	online := alice.online(n2)
	if online[dave.ID] || !online[carol.ID] || !online[alice.ID] || !online[bob.ID] {
		t.Errorf("/api/users after the reaping: %v; want alice, bob, carol, not dave", online)
	}

	// Every acknowledged message: delivered once to each member, stored once.
	ackedTexts := map[string]bool{}
	for _, s := range []struct {
		frames []stamped
		sent   map[uint64]string
	}{{framesA, sentA}, {framesB, sentB}, {carolOld, sentC}, {framesC2, sentC2}} {
		for _, text := range acked(s.frames, s.sent) {
			ackedTexts[text] = true
		}
	}
	if len(acked(framesA, sentA)) != len(sentA) || len(acked(framesB, sentB)) != len(sentB) {
		t.Errorf("messages sent to live nodes not all acked: alice %d/%d, bob %d/%d",
			len(acked(framesA, sentA)), len(sentA), len(acked(framesB, sentB)), len(sentB))
	}
	carolAckedBefore := len(acked(carolOld, sentC))
	for who, frames := range map[string][]stamped{"alice": framesA, "bob": framesB} {
		got := live(t, who, frames, room)
		for text := range ackedTexts {
			if got[text] != 1 {
				t.Errorf("%s received acked message %q %d times, want 1", who, text, got[text])
			}
		}
	}
	// Carol's client: what she saw live before the kill, the history she
	// re-synced and what she saw live since, merged by message id.
	byID := map[int64]string{}
	for _, m := range resync {
		byID[m.ID] = m.Message
	}
	for _, frames := range [][]stamped{carolOld, framesC2} {
		for _, f := range frames {
			var m chatMsg
			if f.Type == "message" && f.Group == room && json.Unmarshal(f.Data, &m) == nil && m.ID != 0 {
				byID[m.ID] = m.Message
			}
		}
	}
	carolSees := map[string]int{}
	for _, text := range byID {
		carolSees[text]++
	}
	stored := map[string]int{}
	history := bob.history(n2, room)
	for _, m := range history {
		stored[m.Message]++
	}
	for text := range ackedTexts {
		if carolSees[text] != 1 {
			t.Errorf("carol's client shows acked message %q %d times, want 1", text, carolSees[text])
		}
	}
	for text, n := range stored {
		if n != 1 {
			t.Errorf("message %q stored %d times", text, n)
		}
	}
	for text := range ackedTexts {
		if stored[text] != 1 {
			t.Errorf("acked message %q stored %d times, want 1", text, stored[text])
		}
	}
	t.Logf("sent: alice %d, bob %d, carol %d before the kill (%d acked) + %d after on n1; %d acked in all, %d stored; lost 0 of the acked",
		len(sentA), len(sentB), len(sentC), carolAckedBefore, len(sentC2), len(ackedTexts), len(history))

	// A node shut down gracefully (SIGTERM): its users who do not come back
	// elsewhere are announced offline on the other nodes after the offline
	// grace, before the node leaves the cluster.
	ca.Skip()
	stopAt := time.Now()
	if err := n2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ca, "alice", "userOffline", equals(bob.ID))
	t.Logf("Bob announced offline %v after his node got SIGTERM (offline grace 300ms)", time.Since(stopAt).Round(10*time.Millisecond))
	if err := n2.cmd.Wait(); err != nil {
		t.Errorf("n2 after SIGTERM: %v", err)
	}
	if online := alice.online(n1); online[bob.ID] {
		t.Errorf("/api/users after n2 stopped: bob still online")
	}
}

// say sends a chat message and waits for its ack.
func say(t *testing.T, c *wsclient.Conn, chatID, text string) {
	t.Helper()
	f, err := c.Call(map[string]any{"type": "sendToGroup", "group": chatID, "dataType": "json", "data": map[string]any{"message": text}})
	if err != nil || !f.Success {
		t.Fatalf("say %q: %+v %v", text, f.Error, err)
	}
}

// send sends messages name-from ... name-(to-1) to chatID without waiting
// for acks, a few milliseconds apart, until done is closed or a write
// fails. It returns ackId -> text of what it sent and the next index.
func send(c *wsclient.Conn, done <-chan struct{}, name, chatID string, from, to int) (map[uint64]string, int) {
	sent := map[uint64]string{}
	for i := from; i < to; i++ {
		select {
		case <-done:
			return sent, i
		default:
		}
		id, text := c.NextAckID(), fmt.Sprintf("%s-%03d", name, i)
		if c.Send(map[string]any{"type": "sendToGroup", "ackId": id, "group": chatID, "dataType": "json",
			"data": map[string]any{"message": text}}) != nil {
			return sent, i
		}
		sent[id] = text
		time.Sleep(3 * time.Millisecond)
	}
	return sent, to
}

// acked returns the texts of sent whose successful ack is among frames.
func acked(frames []stamped, sent map[uint64]string) []string {
	var texts []string
	for _, f := range frames {
		if f.Type == "ack" && f.Success {
			if text, ok := sent[f.AckID]; ok {
				texts = append(texts, text)
			}
		}
	}
	return texts
}

// live counts the chat messages received in chatID by text, and fails the
// test on a message id received twice.
func live(t *testing.T, who string, frames []stamped, chatID string) map[string]int {
	t.Helper()
	ids := map[int64]bool{}
	texts := map[string]int{}
	for _, f := range frames {
		var m chatMsg
		if f.Type != "message" || f.From != "group" || f.Group != chatID || json.Unmarshal(f.Data, &m) != nil {
			continue
		}
		if ids[m.ID] {
			t.Errorf("%s received message %d (%q) twice", who, m.ID, m.Message)
		}
		ids[m.ID] = true
		texts[m.Message]++
	}
	return texts
}

func countEvent(frames []stamped, name, data string) int {
	n := 0
	for _, f := range frames {
		if ev, d, ok := f.ServerEvent(); ok && ev == name && d == data {
			n++
		}
	}
	return n
}

package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
)

// Presence and membership changes go to those who show the user or belong
// to the chat (the chat's Hub has no way to reach every connection).
func TestNothingAboutPeopleGoesToAll(t *testing.T) {
	w := newWorld(t, chat.Config{})
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSON, nil)
	w.connect("c-bob", "guest:bob", hub.ProtocolJSON, map[string]string{"batch": "1"})
	carol := w.connect("c-carol", "guest:carol", hub.ProtocolJSON, nil)
	for _, ev := range []struct {
		conn       *hub.ConnInfo
		name, data string
	}{
		{alice, "userEnterIdle", `null`},
		{alice, "userExitIdle", `null`},
		{carol, "joinChat", `"room"`},
		{carol, "leaveChat", `"room"`},
	} {
		if got := w.event(ev.conn, ev.name, ev.data); got != "" {
			t.Fatalf("%s: %s", ev.name, got)
		}
	}
	w.app.Disconnected(context.Background(), carol, "closed")
	targets := map[string]string{}
	for _, c := range w.hub.calls() {
		var ev struct{ ChatEvent string }
		if json.Unmarshal(c.Msg.Data, &ev) == nil && c.Kind == "group" {
			targets[ev.ChatEvent] = c.Target
			if c.Msg.Batch == nil || !c.Msg.AsServer {
				t.Errorf("%s to %s: batch %v, asServer %v, want both", ev.ChatEvent, c.Target, c.Msg.Batch, c.Msg.AsServer)
			}
		}
	}
	for name, want := range map[string]string{
		"userIsIdle": "~presence:guest:alice", "userOffline": "~presence:guest:carol",
		"memberJoined": "room", "memberLeft": "room",
	} {
		if targets[name] != want {
			t.Errorf("%s went to %q, want %q", name, targets[name], want)
		}
	}
}

// A connection watches its DM partners and the members of its small
// chats from its connect, and a batching one is sent their presence.
func TestWatchersAndSnapshotAtConnect(t *testing.T) {
	w := newWorld(t, chat.Config{})
	w.connect("c-alice", "guest:alice", hub.ProtocolJSON, nil)
	bob := w.connect("c-bob", "guest:bob", hub.ProtocolJSON, map[string]string{"batch": "1"})
	if !bob.Batches {
		t.Fatal("batch=1 did not mark the connection Batches")
	}
	for _, g := range []string{"~presence:guest:alice", "~presence:guest:carol", "room"} {
		if !w.hub.InGroup("c-bob", g) {
			t.Errorf("bob's connection is not in %s", g)
		}
	}
	if w.hub.InGroup("c-bob", "~presence:guest:bob") {
		t.Error("bob watches himself")
	}
	var snapshot []string
	for _, c := range w.hub.calls() {
		if c.Kind == "conn" && c.Target == "c-bob" && c.Msg.Batch != nil {
			snapshot = append(snapshot, string(c.Msg.Data))
		}
	}
	if len(snapshot) != 1 || !strings.Contains(snapshot[0], `guest:alice`) {
		t.Errorf("bob's snapshot %q, want alice online only (carol is offline)", snapshot)
	}
}

// TestReconnectReads: a reconnecting client (batching, as after a restart)
// costs its user, its chats, its small chats' members and its online
// partners, one read each, and re-joining the chats its connection is in
// already costs none. A storm of 10,000 such reconnects paid about 69 reads
// each before (cmd/chatr-bench reconnect, BENCHMARKS.md).
func TestReconnectReads(t *testing.T) {
	w := newWorld(t, chat.Config{})
	w.connect("c-alice", "guest:alice", hub.ProtocolJSON, nil)
	w.connect("c-carol", "guest:carol", hub.ProtocolJSON, nil)
	before := w.store.reads.Load()
	bob := w.connect("c-bob", "guest:bob", hub.ProtocolJSONReliable, map[string]string{"batch": "1"})
	for _, id := range []string{"room", chatr.PrivateChatID("guest:bob", "guest:carol")} {
		if got := w.event(bob, "joinChat", `"`+id+`"`); got != "" {
			t.Fatalf("joinChat %s: %s", id, got)
		}
	}
	if n := w.store.reads.Load() - before; n > 4 {
		t.Errorf("a reconnect and two re-joins cost %d store reads, want at most 4", n)
	}
	if bob.Handoff != nil {
		t.Error("the connection keeps what Connect handed Connected")
	}
	var snapshot string
	for _, c := range w.hub.calls() {
		if c.Kind == "conn" && c.Target == "c-bob" && c.Msg.Batch != nil {
			snapshot += string(c.Msg.Data)
		}
	}
	for _, id := range []string{"guest:alice", "guest:carol"} {
		if !strings.Contains(snapshot, id) {
			t.Errorf("bob's presence snapshot %q does not show %s online", snapshot, id)
		}
	}
}

// Clients cannot put themselves in the server's hidden groups, and
// watchPresence is bounded per connection.
func TestWatchPresenceBounds(t *testing.T) {
	w := newWorld(t, chat.Config{})
	alice := w.connect("c-alice", "guest:alice", hub.ProtocolJSONReliable, nil)
	if got := ackName(t, w.app.Join(context.Background(), alice, "~presence:guest:bob")); got != "Forbidden" {
		t.Errorf("joining a presence group: %q, want Forbidden", got)
	}
	ids := func(from, n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("%q", fmt.Sprintf("u%d", from+i)))
		}
		return `{"userIds":[` + strings.Join(s, ",") + `]}`
	}
	if got := w.event(alice, "watchPresence", ids(0, chat.MaxWatched+1)); got != "BadRequest" {
		t.Errorf("watching %d at once: %q, want BadRequest", chat.MaxWatched+1, got)
	}
	if got := w.event(alice, "watchPresence", ids(0, chat.MaxWatched)); got != "" {
		t.Errorf("watching %d: %q", chat.MaxWatched, got)
	}
	if !w.hub.InGroup("c-alice", "~presence:u7") {
		t.Error("watchPresence did not add the connection to the presence group")
	}
	if got := w.event(alice, "watchPresence", ids(chat.MaxWatched, 1)); got != "TooManyRequests" {
		t.Errorf("watching one more: %q, want TooManyRequests", got)
	}
}

// The list of public chats: a connection that does not batch (the original
// client, the SDK) hears public chats come and go; Chatr's batching client
// only while it asks (watchChats, while it shows "Browse chats"). A public
// chat's deletion also reaches its members.
func TestChatListGoesToWhoShowsIt(t *testing.T) {
	w := newWorld(t, chat.Config{})
	orig := w.connect("c-orig", "guest:alice", hub.ProtocolJSON, nil)
	own := w.connect("c-own", "guest:bob", hub.ProtocolJSONReliable, map[string]string{"batch": "1"})
	if !w.hub.InGroup(orig.ID, "~chats") || w.hub.InGroup(own.ID, "~chats") {
		t.Fatalf("in the chat list at connect: original %v, batching %v; want true, false",
			w.hub.InGroup(orig.ID, "~chats"), w.hub.InGroup(own.ID, "~chats"))
	}
	if got := w.event(own, "watchChats", `{"on":true}`); got != "" || !w.hub.InGroup(own.ID, "~chats") {
		t.Fatalf("watchChats on: %q, in the list %v", got, w.hub.InGroup(own.ID, "~chats"))
	}
	if got := w.event(own, "watchChats", `{"on":false}`); got != "" || w.hub.InGroup(own.ID, "~chats") {
		t.Fatalf("watchChats off: %q, in the list %v", got, w.hub.InGroup(own.ID, "~chats"))
	}
	if got := w.event(own, "watchChats", `"yes"`); got != "BadRequest" {
		t.Errorf("watchChats with a string: %q, want BadRequest", got)
	}
	if got := w.event(orig, "createChat", `{"name":"Town","id":"town"}`); got != "" {
		t.Fatal(got)
	}
	if got := w.hub.serverEventsTo("group", "~chats", "chatCreated"); len(got) != 1 {
		t.Errorf("chatCreated to the chat list: %q", got)
	}
	if got := w.event(orig, "joinChat", `"town"`); got != "" {
		t.Fatal(got)
	}
	if got := w.event(orig, "deleteChat", `"town"`); got != "" {
		t.Fatal(got)
	}
	if got := w.hub.serverEventsTo("group", "~chats", "chatDeleted"); len(got) != 1 || got[0] != "town" {
		t.Errorf("chatDeleted to the chat list: %q", got)
	}
	if got := w.hub.serverEventsTo("group", "town", "chatDeleted"); len(got) != 1 {
		t.Errorf("chatDeleted to the members: %q", got)
	}
}

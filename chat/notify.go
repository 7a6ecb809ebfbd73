package chat

import (
	"context"
	"strings"
	"sync"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// Who hears what. Membership changes go to the chat's members (its group);
// presence and idle changes go to the connections that show the user: those
// in the user's hidden presence group. A connection is put in the presence
// groups of its DM partners and of the members of its small chats when it
// connects (and when it joins a small chat), and in those of the users it
// names with the watchPresence event. Nothing about people goes to every
// connection: N users arriving cost O(N) frames, not N².
const (
	// SmallChat is the largest chat whose members watch each other's
	// presence without asking and hear "X has joined the chat".
	SmallChat = 50
	// MaxWatched bounds the users one connection watches with
	// watchPresence.
	MaxWatched = 300
	// maxUserIDBytes bounds an id named in watchPresence.
	maxUserIDBytes = 256
	// presencePrefix starts the hidden presence groups. Client joins of
	// these groups are refused (see Join): only the server puts a
	// connection in one.
	presencePrefix = "~presence:"
	// Batch names (see hub.Batch).
	batchPresence = "presence"
	batchMembers  = "members"
)

// presenceGroup is the hidden group of the connections that show userID.
func presenceGroup(userID string) string { return presencePrefix + userID }

// chatsGroup holds the connections that show the list of public chats and
// hear their creation and deletion (chatCreated, chatDeleted): those of
// clients that do not batch (the original client lists every group chat;
// the SDK and other clients keep its behaviour), and Chatr's own client's
// while it shows "Browse chats" (watchChats). No event goes to every
// connection.
const chatsGroup = "~chats"

// hiddenGroup reports whether group is one of the server's own.
func hiddenGroup(group string) bool { return strings.HasPrefix(group, "~") }

// toMembers sends a server event to the chat's members, coalesced under key
// within the chat for connections that take batches (a connection in two
// chats keeps one item per chat).
func (a *App) toMembers(ctx context.Context, chatID, key string, m hub.Message) error {
	m.AsServer = true
	m.Batch = &hub.Batch{Name: batchMembers, Key: chatID + "\x00" + key}
	return a.hub.SendToGroup(ctx, chatID, m)
}

// toWatchers sends a presence or idle event about userID to the connections
// that show the user. Items of one user share a key per kind, so a burst of
// changes costs a batched connection the latest state only.
func (a *App) toWatchers(ctx context.Context, userID, kind string, m hub.Message) error {
	m.AsServer = true
	m.Batch = &hub.Batch{Name: batchPresence, Key: kind + ":" + userID}
	return a.hub.SendToGroup(ctx, presenceGroup(userID), m)
}

// largeChats remembers the chats seen with more than SmallChat members, so
// that a join storm into one chat does not list its members at every join.
// A chat that shrinks back stays large on this node until it restarts.
type largeChats struct{ m sync.Map }

func (l *largeChats) is(id string) bool { _, ok := l.m.Load(id); return ok }
func (l *largeChats) mark(id string)    { l.m.Store(id, struct{}{}) }

// smallChatMembers returns the members of a chat when it has at most
// SmallChat of them; nil, false for a large chat.
func (a *App) smallChatMembers(ctx context.Context, c chatr.Chat) ([]chatr.Member, bool, error) {
	if a.large.is(c.ID) {
		return nil, false, nil
	}
	ms, err := a.store.ListMembers(ctx, c.ID)
	if err != nil {
		return nil, false, err
	}
	if len(ms) > SmallChat {
		a.large.mark(c.ID)
		return nil, false, nil
	}
	return ms, true, nil
}

// watchedAtConnect returns the users a new connection of userID watches
// without asking: its DM partners and the members of its small chats, at
// most MaxWatched. The members of its chats are read together, a few dozen
// chats per read: a storm of reconnecting users costs a read or two each,
// not one per chat.
func (a *App) watchedAtConnect(ctx context.Context, userID string, chats []chatr.Chat) ([]string, error) {
	seen := map[string]bool{userID: true}
	var ids []string
	add := func(id string) {
		if !seen[id] && len(ids) < MaxWatched {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var groups []string
	for _, c := range chats {
		if c.Kind() == chatr.KindDirect {
			if p := partner(c.ID, userID); p != "" {
				add(p)
			}
		} else if !a.large.is(c.ID) {
			groups = append(groups, c.ID)
		}
	}
	for len(groups) > 0 && len(ids) < MaxWatched {
		part := groups[:min(len(groups), watchedReadChats)]
		groups = groups[len(part):]
		members, err := a.store.ListMembersOf(ctx, part)
		if err != nil {
			return nil, err
		}
		for _, id := range part {
			ms := members[id]
			if len(ms) > SmallChat {
				a.large.mark(id)
				continue
			}
			for _, m := range ms {
				add(m.UserID)
			}
		}
	}
	return ids, nil
}

// watchedReadChats is how many chats' members watchedAtConnect reads at a
// time: enough for most users in one read, few enough that a user in
// hundreds of chats stops reading once MaxWatched are found.
const watchedReadChats = 32

// partner returns the other user of a private chat id ("private_a_b").
func partner(chatID, userID string) string {
	rest, ok := strings.CutPrefix(chatID, "private_")
	if !ok {
		return ""
	}
	if p, ok := strings.CutPrefix(rest, userID+"_"); ok {
		return p
	}
	if p, ok := strings.CutSuffix(rest, "_"+userID); ok {
		return p
	}
	return ""
}

// watchEachOther makes the live connections of a user and of the members of
// a small chat show each other's presence, after the user joined it. The
// caller tells the members that the user is online; the newcomer reads the
// members' presence with the member list or watchPresence: sending it here
// would cost each of a small chat's first joins a read and a frame per
// member.
func (a *App) watchEachOther(ctx context.Context, userID string, members []chatr.Member) error {
	for _, m := range members {
		if m.UserID == userID {
			continue
		}
		if err := a.hub.AddUserToGroup(ctx, userID, presenceGroup(m.UserID)); err != nil {
			return err
		}
		if err := a.hub.AddUserToGroup(ctx, m.UserID, presenceGroup(userID)); err != nil {
			return err
		}
	}
	return nil
}

// announceOnline tells the user's watchers that the user is online, if so.
// Those who watched already hear it again, which changes nothing: one
// send, rather than one per new watcher.
func (a *App) announceOnline(ctx context.Context, userID string) error {
	return a.snapshot(ctx, []string{userID}, func(m hub.Message) error {
		m.AsServer = true
		return a.hub.SendToGroup(ctx, presenceGroup(userID), m)
	})
}

// watchPresence handles {"userIds":[...]}: the connection is put in the
// presence groups of those users (at most MaxWatched per connection, over
// all its calls) and is sent their current presence at once.
func (a *App) watchPresence(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		UserIDs []string `json:"userIds"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if len(in.UserIDs) > MaxWatched {
		return chatr.Errorf(chatr.EINVALID, "watchPresence takes at most %d user ids", MaxWatched)
	}
	for _, id := range in.UserIDs {
		if len(id) > maxUserIDBytes {
			return chatr.Errorf(chatr.EINVALID, "a user id is at most %d bytes", maxUserIDBytes)
		}
	}
	ids := a.watching.add(conn.ID, in.UserIDs)
	if ids == nil && len(in.UserIDs) > 0 {
		return chatr.Errorf(chatr.ELIMIT, "a connection watches at most %d users", MaxWatched)
	}
	for _, id := range ids {
		if err := a.hub.AddConnectionToGroup(ctx, conn.ID, presenceGroup(id)); err != nil {
			return err
		}
	}
	return a.sendSnapshot(ctx, conn, ids)
}

// sendSnapshot tells one connection which of users are online now (one
// userOnline each, batched into one frame for a connection that takes
// batches). Offline users are not mentioned: the client starts from nobody
// online, as the original does.
func (a *App) sendSnapshot(ctx context.Context, conn *hub.ConnInfo, users []string) error {
	return a.snapshot(ctx, users, func(m hub.Message) error { return a.hub.SendToConnection(ctx, conn.ID, m) })
}

// snapshot hands send a userOnline for each of users online now, in the
// order of users. The online ones are read from the store together.
func (a *App) snapshot(ctx context.Context, users []string, send func(hub.Message) error) error {
	var online []string
	for _, id := range users {
		n, err := a.presence.Count(ctx, id)
		if err != nil {
			return err
		}
		if n > 0 {
			online = append(online, id)
		}
	}
	found, err := a.usersOf(ctx, online)
	if err != nil {
		return err
	}
	for _, u := range found {
		m := onlineEvent(u)
		m.Batch = &hub.Batch{Name: batchPresence, Key: "online:" + u.ID}
		if err := send(m); err != nil {
			return err
		}
	}
	return nil
}

// onlineEvent is the userOnline server event for u.
func onlineEvent(u chatr.User) hub.Message {
	return userEvent("userOnline", func(esc func(string) string) any { return userOnline{u.ID, esc(u.Name), u.Provider, u.Idle} })
}

// watchSets keeps the users each connection asked to watch, to bound them.
type watchSets struct {
	mu   sync.Mutex
	sets map[string]map[string]bool // connID -> userIDs
}

// add records ids for connID and returns those it did not watch yet, or nil
// when the total would pass MaxWatched.
func (w *watchSets) add(connID string, ids []string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sets == nil {
		w.sets = make(map[string]map[string]bool)
	}
	set := w.sets[connID]
	if set == nil {
		set = make(map[string]bool)
	}
	var fresh []string
	for _, id := range ids {
		if id != "" && !set[id] && !contains(fresh, id) {
			fresh = append(fresh, id)
		}
	}
	if len(set)+len(fresh) > MaxWatched {
		return nil
	}
	for _, id := range fresh {
		set[id] = true
	}
	w.sets[connID] = set
	return fresh
}

func (w *watchSets) forget(connID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sets, connID)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// toChatList sends m to the connections that list public chats.
func (a *App) toChatList(ctx context.Context, m hub.Message) error {
	m.AsServer = true
	return a.hub.SendToGroup(ctx, chatsGroup, m)
}

// watchChats: {"on": true} while Chatr's client shows "Browse chats" (it
// reads the list from /api/chats when it starts to), {"on": false} after.
func (a *App) watchChats(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		On bool `json:"on"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if in.On {
		return a.hub.AddConnectionToGroup(ctx, conn.ID, chatsGroup)
	}
	return a.hub.RemoveConnectionFromGroup(ctx, conn.ID, chatsGroup)
}

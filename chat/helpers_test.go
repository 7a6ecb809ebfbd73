package chat_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/memstore"
	"github.com/chatr/chatr/sqlite"
)

// sent is one call the application made on the hub.
type sent struct {
	Kind   string // "group", "user", "conn"
	Target string
	Msg    hub.Message
}

// recHub records what the application sends and keeps group membership per
// connection, as the hub's InGroup reports it.
type recHub struct {
	mu     sync.Mutex
	sent   []sent
	groups map[string]map[string]bool // connID -> groups
	users  map[string][]string        // userID -> connIDs
	// fail, when set, is returned by SendToGroup (a broker that fails).
	fail atomic.Pointer[error]
}

func newRecHub() *recHub {
	return &recHub{groups: make(map[string]map[string]bool), users: make(map[string][]string)}
}

func (h *recHub) record(kind, target string, m hub.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, sent{kind, target, m})
}

// connect registers a connection of the user in groups.
func (h *recHub) connect(connID, userID string, groups ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users[userID] = append(h.users[userID], connID)
	h.groups[connID] = make(map[string]bool)
	for _, g := range groups {
		h.groups[connID][g] = true
	}
}

func (h *recHub) SendToGroup(_ context.Context, g string, m hub.Message) error {
	if err := h.fail.Load(); err != nil {
		return *err
	}
	h.record("group", g, m)
	return nil
}

func (h *recHub) SendToUser(_ context.Context, u string, m hub.Message) error {
	h.record("user", u, m)
	return nil
}

func (h *recHub) SendToConnection(_ context.Context, c string, m hub.Message) error {
	h.record("conn", c, m)
	return nil
}

func (h *recHub) AddUserToGroup(_ context.Context, userID, group string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.users[userID] {
		h.groups[c][group] = true
	}
	return nil
}

func (h *recHub) RemoveUserFromGroup(_ context.Context, userID, group string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.users[userID] {
		delete(h.groups[c], group)
	}
	return nil
}

func (h *recHub) RemoveGroup(_ context.Context, group string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, gs := range h.groups {
		delete(gs, group)
	}
	return nil
}

func (h *recHub) InGroup(connID, group string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.groups[connID][group]
}

// calls returns a copy of what was sent so far.
func (h *recHub) calls() []sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sent(nil), h.sent...)
}

// serverEvents returns the payloads of server events named name sent with
// kind ("group", "conn", ...).
func (h *recHub) serverEvents(kind, name string) []string { return h.serverEventsTo(kind, "", name) }

// serverEventsTo is serverEvents for one target ("" for any).
func (h *recHub) serverEventsTo(kind, target, name string) []string {
	var out []string
	for _, c := range h.calls() {
		if c.Kind != kind || (target != "" && c.Target != target) {
			continue
		}
		var ev struct{ ChatEvent, Data string }
		if json.Unmarshal(c.Msg.Data, &ev) == nil && ev.ChatEvent == name {
			out = append(out, ev.Data)
		}
	}
	return out
}

// waitFor polls cond until it holds; the test fails after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countingStore counts the store calls the application makes.
type countingStore struct {
	chatr.Store
	reads atomic.Int64
}

func (s *countingStore) GetUser(ctx context.Context, id string) (chatr.User, error) {
	s.reads.Add(1)
	return s.Store.GetUser(ctx, id)
}

func (s *countingStore) GetChat(ctx context.Context, id string) (chatr.Chat, error) {
	s.reads.Add(1)
	return s.Store.GetChat(ctx, id)
}

func (s *countingStore) IsMember(ctx context.Context, chatID, userID string) (bool, error) {
	s.reads.Add(1)
	return s.Store.IsMember(ctx, chatID, userID)
}

func (s *countingStore) ListUserChats(ctx context.Context, userID string) ([]chatr.Chat, error) {
	s.reads.Add(1)
	return s.Store.ListUserChats(ctx, userID)
}

func (s *countingStore) GetUsers(ctx context.Context, ids []string) ([]chatr.User, error) {
	s.reads.Add(1)
	return s.Store.GetUsers(ctx, ids)
}

func (s *countingStore) ListMembers(ctx context.Context, chatID string) ([]chatr.Member, error) {
	s.reads.Add(1)
	return s.Store.ListMembers(ctx, chatID)
}

func (s *countingStore) ListMembersOf(ctx context.Context, chatIDs []string) (map[string][]chatr.Member, error) {
	s.reads.Add(1)
	return s.Store.ListMembersOf(ctx, chatIDs)
}

// world is an application on an in-memory store with users alice, bob and
// carol; alice owns the group chat "room" with bob as a member, and bob
// and carol talk privately.
type world struct {
	t     *testing.T
	app   *chat.App
	store *countingStore
	hub   *recHub
}

func newWorld(t *testing.T, cfg chat.Config) *world {
	t.Helper()
	return newWorldOn(t, memstore.New(), cfg)
}

// newSQLiteWorld is a world on a SQLite file, whose error texts are the
// ones a client of a real server sees.
func newSQLiteWorld(t *testing.T, cfg chat.Config) *world {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "chatr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newWorldOn(t, db, cfg)
}

func newWorldOn(t *testing.T, store chatr.Store, cfg chat.Config) *world {
	t.Helper()
	st := &countingStore{Store: store}
	ctx := context.Background()
	for _, u := range []chatr.User{
		{ID: "guest:alice", Name: "Alice", Provider: "guest"},
		{ID: "guest:bob", Name: "Bob", Provider: "guest"},
		{ID: "guest:carol", Name: "Carol", Provider: "guest"},
	} {
		if err := st.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateChat(ctx, chatr.Chat{ID: "room", Name: "Room", Owner: "guest:alice"}))
	must(st.AddMember(ctx, "room", chatr.Member{UserID: "guest:alice", UserName: "Alice"}))
	must(st.AddMember(ctx, "room", chatr.Member{UserID: "guest:bob", UserName: "Bob"}))
	pc := chatr.PrivateChatID("guest:bob", "guest:carol")
	must(st.CreateChat(ctx, chatr.Chat{ID: pc, Name: "private", Private: true}))
	must(st.AddMember(ctx, pc, chatr.Member{UserID: "guest:bob", UserName: "Bob"}))
	must(st.AddMember(ctx, pc, chatr.Member{UserID: "guest:carol", UserName: "Carol"}))
	if cfg.Store == nil {
		cfg.Store = st
	}
	if cfg.OfflineGrace == 0 {
		cfg.OfflineGrace = -1
	}
	a := chat.New(cfg)
	h := newRecHub()
	a.Attach(h)
	return &world{t: t, app: a, store: st, hub: h}
}

// connect runs the Connect and Connected hooks for a new connection of the
// user, as the hub does, and returns its ConnInfo.
func (w *world) connect(connID, userID string, protocol string, query map[string]string) *hub.ConnInfo {
	w.t.Helper()
	info := &hub.ConnInfo{ID: connID, UserID: userID, Protocol: protocol, Reliable: protocol == hub.ProtocolJSONReliable}
	req := &hub.ConnectRequest{Conn: info, Claims: hub.Claims{UserID: userID, IssuedAt: time.Now()}, Query: map[string][]string{}}
	for k, v := range query {
		req.Query.Set(k, v)
	}
	if err := w.app.Connect(context.Background(), req); err != nil {
		w.t.Fatalf("Connect %s: %v", connID, err)
	}
	w.hub.connect(connID, userID, req.Groups...)
	w.app.Connected(context.Background(), info)
	return info
}

// event sends an event and returns the ack error name ("" for success).
func (w *world) event(conn *hub.ConnInfo, name string, data string) string {
	w.t.Helper()
	_, err := w.app.Event(context.Background(), conn, &hub.Event{Name: name, DataType: "json", Data: []byte(data)})
	return ackName(w.t, err)
}

func ackName(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	ae, ok := err.(*hub.AckError)
	if !ok {
		t.Fatalf("unnamed error %v", err)
	}
	return ae.Name
}

func (h *recHub) RemoveConnectionFromGroup(_ context.Context, connID, g string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.groups[connID], g)
	return nil
}

func (h *recHub) AddConnectionToGroup(_ context.Context, connID, g string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.groups[connID] == nil {
		h.groups[connID] = make(map[string]bool)
	}
	h.groups[connID][g] = true
	return nil
}

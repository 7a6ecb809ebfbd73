package hub

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config; see the field comments.
const (
	defaultMaxFrameBytes   = 1 << 20
	defaultQueueFrames     = 4096
	defaultUnackedMessages = 1000
	defaultUnackedBytes    = 16 << 20
	defaultRecoveryWindow  = 60 * time.Second
	defaultWriteWait       = 10 * time.Second
	defaultPingInterval    = 30 * time.Second
	defaultFrameRate       = 500
	defaultFrameBurst      = 1000
	defaultUnfinishedBytes = 64 << 20
	defaultMessageWait     = 30 * time.Second
	defaultBatchWindow     = 150 * time.Millisecond
	defaultMaxQueuedBytes  = 16 << 20
	defaultNodeQueuedBytes = 256 << 20
	defaultFlushBytes      = 1 << 20
)

// Other limits and timings.
const (
	// maxFlushWindow bounds Config.FlushWindow: it adds to every delivery's
	// latency.
	maxFlushWindow = 20 * time.Millisecond
	// closeWait is how long a closing socket waits for the peer's close
	// frame (or for its last frames to be written) before it is torn down.
	closeWait = 2 * time.Second
	// maxGroupName bounds a group name (the service allows 1,024 chars).
	maxGroupName = 1024
	// ackRecordSize is how many recent ackIds a session remembers to
	// answer a repeated one with Duplicate.
	ackRecordSize = 128
)

// Subprotocols the hub speaks.
const (
	ProtocolJSON         = "json.webpubsub.azure.v1"
	ProtocolJSONReliable = "json.reliable.webpubsub.azure.v1"
)

// Hub serves Web PubSub client connections. Create it with New.
type Hub struct {
	cfg    Config
	app    Application
	broker Broker
	index  Index // nil unless the broker is one (index.go)
	log    *slog.Logger
	node   string

	ctx    context.Context // hooks' context; cancelled by Close
	cancel context.CancelFunc

	mu       sync.RWMutex
	sessions map[string]*session
	users    map[string]map[*session]struct{}
	groups   map[string]*group

	closing atomic.Bool
	live    tracker       // sessions and reader goroutines: Close waits for them
	done    chan struct{} // closed when the sweeper stops

	stats struct {
		connections, sessions, connects, in, out, slow, shed, writes atomic.Int64
	}
	unfinished atomic.Int64 // bytes held by messages being received (budget.go)

	queued     atomic.Int64 // bytes charged for frames queued to sockets (shed.go)
	nodeBudget int64        // Config.NodeQueuedBytes
	flushBytes atomic.Int64 // Config.FlushBytes
	shedding   atomic.Bool  // a shedding pass is running

	flush flushList // sockets with frames to write (flush.go)
	batch batchList // sessions with pending batches (batch.go)

	fanoutOrder [256]sync.Mutex // see groupOrder
}

// group is one group's members on this node. members is replaced, never
// modified, so fan-out reads it without holding h.mu.
type group struct {
	members []*session
}

// New returns a Hub serving cfg. It subscribes to cfg.Broker (a new
// LocalBroker when nil) at once.
func New(cfg Config) (*Hub, error) {
	if len(cfg.Key) == 0 {
		return nil, errors.New("hub: Config.Key is required")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxFrameBytes, defaultMaxFrameBytes)
	def(&cfg.QueueFrames, defaultQueueFrames)
	def(&cfg.UnackedMessages, defaultUnackedMessages)
	def(&cfg.UnackedBytes, defaultUnackedBytes)
	defd(&cfg.RecoveryWindow, defaultRecoveryWindow)
	defd(&cfg.WriteWait, defaultWriteWait)
	defd(&cfg.PingInterval, defaultPingInterval)
	def(&cfg.FrameBurst, defaultFrameBurst)
	def(&cfg.UnfinishedBytes, defaultUnfinishedBytes)
	defd(&cfg.MessageWait, defaultMessageWait)
	defd(&cfg.BatchWindow, defaultBatchWindow)
	def(&cfg.MaxQueuedBytes, defaultMaxQueuedBytes)
	def(&cfg.NodeQueuedBytes, defaultNodeQueuedBytes)
	def(&cfg.FlushBytes, defaultFlushBytes)
	cfg.FlushWindow = min(max(cfg.FlushWindow, 0), maxFlushWindow)
	if cfg.FrameRate <= 0 {
		cfg.FrameRate = defaultFrameRate
	}
	if cfg.NodeID == "" {
		cfg.NodeID = randomID(8)
	}
	h := &Hub{
		cfg:      cfg,
		app:      cfg.App,
		broker:   cfg.Broker,
		log:      cfg.Logger,
		node:     cfg.NodeID,
		sessions: make(map[string]*session),
		users:    make(map[string]map[*session]struct{}),
		groups:   make(map[string]*group),
		done:     make(chan struct{}),

		nodeBudget: int64(cfg.NodeQueuedBytes),
	}
	h.flushBytes.Store(int64(cfg.FlushBytes))
	h.flush.wake = make(chan struct{}, 1)
	if h.app == nil {
		h.app = allowAll{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.broker == nil {
		h.broker = NewLocalBroker()
	}
	h.index, _ = h.broker.(Index)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if err := h.broker.Subscribe(h.ctx, h.deliver); err != nil {
		h.cancel()
		return nil, fmt.Errorf("hub: subscribe: %w", err)
	}
	go h.sweep()
	return h, nil
}

// allowAll is the Application used when Config.App is nil.
type allowAll struct{}

func (allowAll) Connect(context.Context, *ConnectRequest) error          { return nil }
func (allowAll) Connected(context.Context, *ConnInfo)                    {}
func (allowAll) Disconnected(context.Context, *ConnInfo, string)         {}
func (allowAll) Join(context.Context, *ConnInfo, string) error           { return nil }
func (allowAll) Publish(context.Context, *ConnInfo, *GroupMessage) error { return nil }
func (allowAll) Event(context.Context, *ConnInfo, *Event) (*Payload, error) {
	return nil, nil
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return b64.EncodeToString(b)
}

// reconnectionToken is the unforgeable token that recovers connection id.
func (h *Hub) reconnectionToken(id string) string {
	m := hmac.New(sha256.New, h.cfg.Key)
	m.Write([]byte("awps-reconnect\x00"))
	m.Write([]byte(id))
	return b64.EncodeToString(m.Sum(nil))
}

func (h *Hub) validReconnectionToken(id, token string) bool {
	return hmac.Equal([]byte(token), []byte(h.reconnectionToken(id)))
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	return Stats{
		Connections:   h.stats.connections.Load(),
		Sessions:      h.stats.sessions.Load(),
		ConnectsTotal: h.stats.connects.Load(),
		MessagesIn:    h.stats.in.Load(),
		MessagesOut:   h.stats.out.Load(),
		SlowConsumers: h.stats.slow.Load(),
		Unfinished:    h.unfinished.Load(),
		QueuedBytes:   h.queued.Load(),
		Shed:          h.stats.shed.Load(),
		Writes:        h.stats.writes.Load(),
	}
}

// Close stops accepting connections, closes every socket with 1001 and ends
// every session, then stops the broker subscription. It returns when every
// session has ended and its Disconnected hook has returned (and every other
// hook too), or when ctx is done.
func (h *Hub) Close(ctx context.Context) error {
	if h.closing.Swap(true) {
		return nil
	}
	// From here no session starts: one that was counted before is either
	// in the list below or sees h.closing once registered, and kicks itself.
	h.live.stop()
	h.mu.RLock()
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.RUnlock()
	for _, s := range all {
		s.kick(closeGoingAway, "hub closed", "server shutting down")
	}
	var err error
	select {
	case <-h.live.idle():
	case <-ctx.Done():
		err = ctx.Err()
		// Out of time: tear down whatever sockets are left.
		h.mu.RLock()
		for _, s := range h.sessions {
			s.mu.Lock()
			if s.sock != nil {
				s.sock.nc.Close()
			}
			s.mu.Unlock()
		}
		h.mu.RUnlock()
	}
	h.cancel()
	<-h.done
	return err
}

// publish stamps cmd and hands it to the broker.
func (h *Hub) publish(ctx context.Context, cmd *Command) error {
	cmd.Node = h.node
	if cmd.At == 0 {
		cmd.At = time.Now().UnixNano()
	}
	return h.broker.Publish(ctx, cmd)
}

func (h *Hub) sendCmd(ctx context.Context, kind CommandKind, m *Message, cmd Command) error {
	if err := validatePayload(&m.Payload); err != nil {
		return err
	}
	if m.HTMLPayload != nil {
		if err := validatePayload(m.HTMLPayload); err != nil {
			return err
		}
	}
	if m.Batch != nil && (m.DataType != "" && m.DataType != DataJSON ||
		m.HTMLPayload != nil && m.HTMLPayload.DataType != "" && m.HTMLPayload.DataType != DataJSON) {
		return errors.New("hub: a batched message must carry JSON data")
	}
	cmd.Kind, cmd.Message = kind, m
	return h.publish(ctx, &cmd)
}

// SendToAll sends m as a from:"server" message to every connection.
func (h *Hub) SendToAll(ctx context.Context, m Message) error {
	return h.sendCmd(ctx, CmdSendToAll, &m, Command{})
}

// SendToGroup sends m to the group's connections: a from:"group" message
// (from:"server" when m.AsServer).
func (h *Hub) SendToGroup(ctx context.Context, group string, m Message) error {
	return h.sendCmd(ctx, CmdSendToGroup, &m, Command{Group: group})
}

// SendToUser sends m as a from:"server" message to the user's connections.
func (h *Hub) SendToUser(ctx context.Context, userID string, m Message) error {
	return h.sendCmd(ctx, CmdSendToUser, &m, Command{UserID: userID})
}

// SendToConnection sends m as a from:"server" message to one connection.
func (h *Hub) SendToConnection(ctx context.Context, connID string, m Message) error {
	return h.sendCmd(ctx, CmdSendToConnection, &m, Command{ConnID: connID})
}

// AddUserToGroup makes the user's live connections (and recoverable
// sessions) join group.
func (h *Hub) AddUserToGroup(ctx context.Context, userID, group string) error {
	return h.publish(ctx, &Command{Kind: CmdAddUserToGroup, UserID: userID, Group: group})
}

// RemoveUserFromGroup makes the user's connections leave group.
func (h *Hub) RemoveUserFromGroup(ctx context.Context, userID, group string) error {
	return h.publish(ctx, &Command{Kind: CmdRemoveUserFromGroup, UserID: userID, Group: group})
}

// AddConnectionToGroup makes one connection join group.
func (h *Hub) AddConnectionToGroup(ctx context.Context, connID, group string) error {
	return h.publish(ctx, &Command{Kind: CmdAddConnToGroup, ConnID: connID, Group: group})
}

// RemoveConnectionFromGroup makes one connection leave group.
func (h *Hub) RemoveConnectionFromGroup(ctx context.Context, connID, group string) error {
	return h.publish(ctx, &Command{Kind: CmdRemoveConnFromGroup, ConnID: connID, Group: group})
}

// RemoveGroup makes every connection leave group.
func (h *Hub) RemoveGroup(ctx context.Context, group string) error {
	return h.publish(ctx, &Command{Kind: CmdRemoveGroup, Group: group})
}

// CloseConnection closes one connection with 1008 (the SDK does not
// recover from it) after a disconnected system frame carrying reason.
func (h *Hub) CloseConnection(ctx context.Context, connID, reason string) error {
	return h.publish(ctx, &Command{Kind: CmdCloseConnection, ConnID: connID, Reason: reason})
}

// CloseUserConnections closes every connection of the user with 1008.
func (h *Hub) CloseUserConnections(ctx context.Context, userID, reason string) error {
	return h.publish(ctx, &Command{Kind: CmdCloseUser, UserID: userID, Reason: reason})
}

// DropConnection tears down the socket of a connection on this node without
// a close frame, as a network failure would. A reliable session stays
// recoverable. It reports whether the connection had a socket here. It is
// meant for operations and tests (the SDK recovery tests use it).
func (h *Hub) DropConnection(connID string) bool {
	h.mu.RLock()
	s := h.sessions[connID]
	h.mu.RUnlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	k := s.sock
	s.mu.Unlock()
	if k == nil {
		return false
	}
	k.nc.Close()
	return true
}

// deliver applies a command from the broker to this node's connections.
func (h *Hub) deliver(cmd *Command) {
	switch cmd.Kind {
	case CmdSendToAll, CmdSendToGroup, CmdSendToUser, CmdSendToConnection:
		if cmd.Message != nil {
			h.fanout(cmd)
		}
	case CmdAddUserToGroup:
		for _, s := range h.userSessions(cmd.UserID) {
			h.join(s, cmd.Group)
		}
	case CmdRemoveUserFromGroup:
		for _, s := range h.userSessions(cmd.UserID) {
			h.leave(s, cmd.Group)
		}
	case CmdAddConnToGroup:
		if s := h.session(cmd.ConnID); s != nil {
			h.join(s, cmd.Group)
		}
	case CmdRemoveConnFromGroup:
		if s := h.session(cmd.ConnID); s != nil {
			h.leave(s, cmd.Group)
		}
	case CmdRemoveGroup:
		h.removeGroup(cmd.Group)
	case CmdCloseConnection:
		if s := h.session(cmd.ConnID); s != nil {
			s.kick(closePolicy, "kicked: "+cmd.Reason, cmd.Reason)
		}
	case CmdCloseUser:
		for _, s := range h.userSessions(cmd.UserID) {
			s.kick(closePolicy, "kicked: "+cmd.Reason, cmd.Reason)
		}
	case CmdResync:
		h.resync(cmd.Reason)
	default:
		h.log.Warn("hub: unknown command", "kind", cmd.Kind)
	}
}

// fanout delivers a message command to its local recipients.
func (h *Hub) fanout(cmd *Command) {
	m := cmd.Message
	var targets []*session
	from, group := fromServer, ""
	switch cmd.Kind {
	case CmdSendToGroup:
		// Fan-outs to one group take turns, so that every member gets the
		// group's messages in one order, even when several publishers
		// deliver at once (LocalBroker calls deliver on each publisher's
		// goroutine). A fan-out only queues frames, so the turn is short.
		mu := h.groupOrder(cmd.Group)
		mu.Lock()
		defer mu.Unlock()
		h.mu.RLock()
		if g := h.groups[cmd.Group]; g != nil {
			targets = g.members
		}
		h.mu.RUnlock()
		if !m.AsServer {
			from, group = fromGroup, cmd.Group
		}
	case CmdSendToAll:
		h.mu.RLock()
		targets = make([]*session, 0, len(h.sessions))
		for _, s := range h.sessions {
			targets = append(targets, s)
		}
		h.mu.RUnlock()
	case CmdSendToUser:
		targets = h.userSessions(cmd.UserID)
	case CmdSendToConnection:
		if s := h.session(cmd.ConnID); s != nil {
			targets = []*session{s}
		}
	}
	if len(targets) == 0 {
		return
	}
	// Each variant is encoded once per fan-out, the HTML one only when a
	// recipient needs it.
	var enc, encHTML *encodedMessage
	var n int64
	for _, s := range targets {
		if m.ExcludeConn != "" && s.info.ID == m.ExcludeConn {
			continue
		}
		if m.Batch != nil && s.info.Batches {
			p := &m.Payload
			if s.info.HTMLText && m.HTMLPayload != nil {
				p = m.HTMLPayload
			}
			s.addToBatch(m.Batch, p.Data)
			continue
		}
		if enc == nil {
			enc = newEncodedMessage(from, group, m.FromUserID, &m.Payload)
		}
		e := enc
		if s.info.HTMLText && m.HTMLPayload != nil {
			if encHTML == nil {
				encHTML = newEncodedMessage(from, group, m.FromUserID, m.HTMLPayload)
			}
			e = encHTML
		}
		if s.sendMessage(e) {
			n++
		}
	}
	h.stats.out.Add(n)
	h.shedIfOver()
	if f := h.cfg.ObserveFanout; f != nil && cmd.At != 0 {
		f(time.Duration(time.Now().UnixNano() - cmd.At))
	}
}

// groupOrder returns the lock that orders fan-outs to group. Locks are
// striped by the name's hash: they outlive the groups, and two groups that
// share one merely take turns.
func (h *Hub) groupOrder(group string) *sync.Mutex {
	x := uint32(2166136261) // FNV-1a, inline: fan-out allocates nothing for it
	for i := 0; i < len(group); i++ {
		x = (x ^ uint32(group[i])) * 16777619
	}
	return &h.fanoutOrder[x%uint32(len(h.fanoutOrder))]
}

func (h *Hub) session(id string) *session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.sessions[id]
}

func (h *Hub) userSessions(userID string) []*session {
	if userID == "" {
		return nil
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	set := h.users[userID]
	l := make([]*session, 0, len(set))
	for s := range set {
		l = append(l, s)
	}
	return l
}

// join adds s to group (idempotent). A session that has ended is not added.
func (h *Hub) join(s *session, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.info.ID] != s {
		return
	}
	if _, ok := s.groups[name]; ok {
		return
	}
	if s.groups == nil {
		s.groups = make(map[string]struct{}, 1)
	}
	s.groups[name] = struct{}{}
	g := h.groups[name]
	if g == nil {
		g = &group{}
		h.groups[name] = g
	}
	// Appending in place is safe while there is room: readers hold slices
	// of the old length and never look past it. Only a full slice is copied
	// (doubling), so that a group of N members costs O(N) joins, not O(N²).
	if len(g.members) == cap(g.members) {
		members := make([]*session, len(g.members), max(4, 2*len(g.members)))
		copy(members, g.members)
		g.members = members
	}
	g.members = append(g.members, s)
	if h.index != nil {
		h.index.Joined(s.info, name)
	}
}

// InGroup reports whether the connection is in the group on this node.
func (h *Hub) InGroup(connID, group string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s := h.sessions[connID]
	if s == nil {
		return false
	}
	_, ok := s.groups[group]
	return ok
}

// leave removes s from group (idempotent).
func (h *Hub) leave(s *session, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.leaveLocked(s, name)
}

func (h *Hub) leaveLocked(s *session, name string) {
	if _, ok := s.groups[name]; !ok {
		return
	}
	delete(s.groups, name)
	if h.index != nil {
		h.index.Left(s.info, name)
	}
	g := h.groups[name]
	if g == nil {
		return
	}
	if len(g.members) == 1 {
		delete(h.groups, name)
		return
	}
	members := make([]*session, 0, len(g.members)-1)
	for _, m := range g.members {
		if m != s {
			members = append(members, m)
		}
	}
	g.members = members
}

func (h *Hub) removeGroup(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.groups[name]
	if g == nil {
		return
	}
	for _, s := range g.members {
		delete(s.groups, name)
		if h.index != nil {
			h.index.Left(s.info, name)
		}
	}
	delete(h.groups, name)
}

// register makes s reachable by id, user and its initial groups.
func (h *Hub) register(s *session, groups []string) {
	h.mu.Lock()
	h.sessions[s.info.ID] = s
	if h.index != nil {
		h.index.Connected(s.info)
	}
	if u := s.info.UserID; u != "" {
		set := h.users[u]
		if set == nil {
			set = make(map[*session]struct{}, 1)
			h.users[u] = set
		}
		set[s] = struct{}{}
	}
	h.mu.Unlock()
	h.stats.sessions.Add(1)
	for _, g := range groups {
		if g != "" {
			h.join(s, g)
		}
	}
}

// unregister removes s from every index.
func (h *Hub) unregister(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.info.ID] != s {
		return
	}
	delete(h.sessions, s.info.ID)
	if u := s.info.UserID; u != "" {
		if set := h.users[u]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(h.users, u)
			}
		}
	}
	for name := range s.groups {
		h.leaveLocked(s, name)
	}
	if h.index != nil {
		h.index.Disconnected(s.info)
	}
	h.stats.sessions.Add(-1)
}

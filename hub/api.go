package hub

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// This file is the hub's contract with the application layer (package chat)
// and with cross-node brokers (package redis). Signatures here are relied on
// by other packages: change them only together with their callers.

// Config configures a Hub. Zero values mean the defaults in the comments.
type Config struct {
	Key    []byte      // HS256 key that signs access tokens (required)
	Hub    string      // the hub name served at /client/hubs/{hub}, case-insensitive; "" serves any name
	App    Application // the application's hooks; nil accepts whatever the token's roles allow
	Broker Broker      // carries server-side calls between nodes; nil = in-process only
	NodeID string      // this node's name, unique in a cluster; default a random id
	Logger *slog.Logger
	// ObserveFanout, when set, is called with the time one message took from
	// arrival (or server-side call) to being queued on every local recipient.
	ObserveFanout func(d time.Duration)

	// CheckOrigin decides whether an upgrade from r's Origin is allowed;
	// nil allows every origin (the SDK in Node sends none).
	CheckOrigin func(r *http.Request) bool
	// StrictAudience rejects tokens whose aud does not name this host and hub
	// path exactly; by default only the path is compared (proxies rewrite Host).
	StrictAudience bool

	MaxFrameBytes int // largest inbound frame, default 1 MiB (close 1009 above it)
	QueueFrames   int // outbound frames queued per connection before it is cut off, default 4096
	// MaxQueuedBytes bounds the bytes queued for one connection (frames not
	// yet written, counted with their queue entries), default 16 MiB; past
	// it the connection is cut off as a slow consumer.
	MaxQueuedBytes int
	// NodeQueuedBytes bounds the bytes queued for all connections of this
	// node, default 256 MiB. Past it the connections holding the most are
	// cut off as slow consumers (Stats.Shed) until the node is back under
	// seven eighths of it; healthy readers, whose queues empty at every
	// flush, are not touched.
	NodeQueuedBytes int
	UnackedMessages int           // reliable protocol: unacked messages kept per session, default 1000
	UnackedBytes    int           // reliable protocol: unacked bytes kept per session, default 16 MiB
	RecoveryWindow  time.Duration // reliable protocol: how long a dropped session can be recovered, default 60 s
	WriteWait       time.Duration // time allowed for one write to a socket, default 10 s
	PingInterval    time.Duration // WebSocket-level ping to idle sockets, default 30 s

	// FrameRate and FrameBurst are each connection's budget of client
	// frames (every type), a token bucket checked before any hook runs:
	// FrameRate frames per second on average, FrameBurst at once. Defaults
	// 500/s and 1000: far above what a person or the SDK sends.
	FrameRate  float64
	FrameBurst int
	// UnfinishedBytes bounds the bytes that all sockets of this node hold in
	// messages they are still receiving (a fragmented message, or one big
	// frame arriving slowly), default 64 MiB; one connection holds at most
	// one such message of at most MaxFrameBytes.
	UnfinishedBytes int
	// FlushWindow, when set, makes the flusher wait up to this long after
	// the first frame of a burst before writing, so that the frames of
	// messages close together share one writev per socket: fewer system
	// calls per delivery at moderate rates, at the price of up to the
	// window in latency. 0 (the default) writes as soon as the publishers
	// running at once have queued; at most 20 ms. The window ends early
	// once FlushBytes (default 1 MiB) are queued on the node.
	FlushWindow time.Duration
	FlushBytes  int
	// BatchWindow is how long a connection's batches (see Batch) gather
	// items, from the first, before they go out; default 150 ms.
	BatchWindow time.Duration
	// MessageWait is the time a message may take to arrive, from its first
	// frame to its last, default 30 s (close 1008 after it).
	MessageWait time.Duration
}

// ConnInfo describes one connection (for reliable connections: one session,
// which outlives the sockets that recover it). It is immutable once the
// connection is accepted; the hub passes the same pointer to every hook.
type ConnInfo struct {
	ID         string   // connection id, unique across the cluster
	UserID     string   // "" for anonymous connections
	Hub        string   // hub name as the client sent it, lowercased
	Roles      []string // permissions from the token, possibly amended by Connect
	Protocol   string   // negotiated subprotocol
	Reliable   bool     // Protocol is json.reliable.webpubsub.azure.v1
	RemoteAddr string
	// Batches marks a connection whose client understands batch frames
	// (see Batch). Connect may set it; such a connection gets a Message
	// with Batch set inside one frame per window with the others of its
	// batch, other connections get it at once.
	Batches bool
	// HTMLText marks a connection whose client renders message text as HTML
	// (the original Chatr client). Connect may set it; such a connection is
	// sent a Message's HTMLPayload instead of its Payload when one is set.
	HTMLText bool
	// Handoff is the application's own: what Connect learned that Connected
	// needs too, so that a connection costs its store reads once. The hub
	// never reads it; the application clears it in Connected, so that an
	// idle connection keeps nothing.
	Handoff any
}

// ConnectRequest is what the application sees of a new connection before it
// is accepted. Connect may amend UserID, Roles and Groups in place.
type ConnectRequest struct {
	Conn         *ConnInfo
	Groups       []string // groups to join at connect (from the token's webpubsub.group)
	Claims       Claims
	Query        url.Values
	Header       http.Header
	Subprotocols []string
}

// Event is a user event sent by a client with {"type":"event"}.
type Event struct {
	Name     string
	DataType string // "json", "text" or "binary"
	Data     []byte // raw JSON value for json, the text for text, decoded bytes for binary
}

// Payload is data the hub delivers to clients.
type Payload struct {
	DataType string `json:"t,omitempty"` // "json", "text" or "binary"; "" means json
	Data     []byte `json:"d"`           // raw JSON value for json, the text for text, raw bytes for binary
}

// GroupMessage is a client's sendToGroup on its way through the hub. Publish
// may rewrite Data and DataType (to stamp the sender, say) before fan-out.
type GroupMessage struct {
	Group  string
	NoEcho bool
	// AckID is the frame's ackId when HasAck: with the connection id it names
	// a send uniquely, so the application can make a retry idempotent.
	AckID  uint64
	HasAck bool
	Payload
	// HTMLPayload, when Publish sets it, is what connections marked HTMLText
	// receive instead of Payload (the same message with its text escaped).
	HTMLPayload *Payload
	// Sent, when Publish sets it, says that Publish delivered the message
	// itself (through SendToGroup, in an order of its choosing): the hub
	// then only acks.
	Sent bool
}

// AckError is an error the application returns from a hook to choose the ack
// error name the client sees (Forbidden, NotFound, BadRequest, ...). Any
// other error is acked as InternalServerError with the message "internal error".
type AckError struct {
	Name    string
	Message string
}

func (e *AckError) Error() string { return e.Name + ": " + e.Message }

// Application is the seam where the chat logic plugs into the hub. The hub
// calls the hooks of one connection one at a time, in the order of that
// connection's frames; hooks of different connections run concurrently.
type Application interface {
	// Connect is called before a new connection is accepted (not for a
	// recovered session). A non-nil error rejects the upgrade: with an
	// *AckError named "Forbidden" as 403, "Unauthorized" as 401, else 500.
	Connect(ctx context.Context, req *ConnectRequest) error
	// Connected is called once the connection is accepted and its
	// connected frame queued.
	Connected(ctx context.Context, conn *ConnInfo)
	// Disconnected is called once when the connection is gone for good: a
	// closed non-reliable socket, a reliable session whose client closed
	// with 1000, 1001 or no code (it left), expired without recovery,
	// dropped on overflow, over budget or kicked. Close waits for it.
	Disconnected(ctx context.Context, conn *ConnInfo, reason string)
	// Event handles a user event. A non-nil reply goes to the caller as a
	// {"type":"message","from":"server"} frame before the ack.
	Event(ctx context.Context, conn *ConnInfo, ev *Event) (reply *Payload, err error)
	// Join decides whether the connection may join the group (after the
	// token's roles allowed it).
	Join(ctx context.Context, conn *ConnInfo, group string) error
	// Publish decides whether the connection may send msg to its group (after
	// the roles allowed it), and may rewrite it. The hub fans the message out
	// and acks only after Publish returned nil.
	Publish(ctx context.Context, conn *ConnInfo, msg *GroupMessage) error
}

// Claims are the access token's claims (see PROTOCOL.md). MintToken signs
// them, ParseToken checks signature and expiry:
//
//	func MintToken(key []byte, c Claims) (string, error)
//	func ParseToken(key []byte, token string, now time.Time) (Claims, error)
type Claims struct {
	UserID   string    // "sub"; "" for anonymous
	Roles    []string  // "role"
	Groups   []string  // "webpubsub.group"
	Audience string    // "aud": the http(s) URL of the hub
	IssuedAt time.Time // "iat", to the millisecond
	Expires  time.Time // "exp"
}

// Stats are the hub's running counters, read by (*Hub).Stats for /metrics.
type Stats struct {
	Connections   int64 // open sockets now
	Sessions      int64 // sessions now, including dropped ones awaiting recovery
	ConnectsTotal int64
	MessagesIn    int64 // client frames processed
	MessagesOut   int64 // message frames queued to sockets
	SlowConsumers int64 // connections cut off for not reading (Shed included)
	Shed          int64 // of those, cut off because the node was over Config.NodeQueuedBytes
	QueuedBytes   int64 // bytes queued for sockets now, counted against Config.NodeQueuedBytes
	Writes        int64 // write system calls to sockets (each may carry many frames)
	Unfinished    int64 // bytes counted against Config.UnfinishedBytes now
}

// Message is what a server-side call delivers: a {"type":"message"} frame
// from the server (SendToAll, SendToUser, SendToConnection) or from a group
// (SendToGroup: the frame carries "group" and, when set, "fromUserId").
type Message struct {
	// AsServer makes SendToGroup deliver a {"from":"server"} frame (no
	// group field) to the group's connections, for application events that
	// only the group should see (typing indicators, say).
	AsServer   bool   `json:"s,omitempty"`
	FromUserID string `json:"f,omitempty"` // for group messages: the sender, "" for announcements
	Payload
	// HTMLPayload, when set, goes to connections marked HTMLText instead of
	// Payload.
	HTMLPayload *Payload `json:"h,omitempty"`
	ExcludeConn string   `json:"x,omitempty"` // a connection that must not receive it (noEcho)
	// Batch, when set, gathers the message (its Payload must be JSON) on
	// connections marked ConnInfo.Batches with the others of the same
	// batch name, into one from:"server" frame per connection per
	// Config.BatchWindow. It suits events whose order against other
	// messages does not matter (presence, membership changes).
	Batch *Batch `json:"b,omitempty"`
}

// Batch names the batch a Message goes into. A connection marked
// ConnInfo.Batches receives, once per Config.BatchWindow at most, for each
// batch name with pending items, one message from the server:
//
//	{"type":"message","from":"server","dataType":"json",
//	 "data":{"batch":"<Name>","items":[<data>,<data>,...]}}
//
// where each item is one Message's Payload.Data (HTMLPayload.Data on
// connections marked HTMLText, when set), in the order they were sent. An
// item whose Key is not "" replaces, in its place, the pending item of the
// same batch and key: a burst of changes to one thing costs one item, the
// latest. A batch of 1,000 items or 256 KiB goes out at once. The hub does
// not look inside items: what a name and a key mean is the application's.
type Batch struct {
	Name string `json:"n"`
	Key  string `json:"k,omitempty"`
}

// Server-side calls. Each goes through the Broker, so in a cluster it reaches
// the connections of every node; each returns once the call is handed to the
// broker (delivery to sockets is asynchronous, in call order per hub).
//
//	func (h *Hub) SendToAll(ctx context.Context, m Message) error
//	func (h *Hub) SendToGroup(ctx context.Context, group string, m Message) error
//	func (h *Hub) SendToUser(ctx context.Context, userID string, m Message) error
//	func (h *Hub) SendToConnection(ctx context.Context, connID string, m Message) error
//	func (h *Hub) AddUserToGroup(ctx context.Context, userID, group string) error      // the user's live connections join
//	func (h *Hub) RemoveUserFromGroup(ctx context.Context, userID, group string) error
//	func (h *Hub) AddConnectionToGroup(ctx context.Context, connID, group string) error
//	func (h *Hub) RemoveConnectionFromGroup(ctx context.Context, connID, group string) error
//	func (h *Hub) RemoveGroup(ctx context.Context, group string) error                  // every connection leaves it
//	func (h *Hub) CloseConnection(ctx context.Context, connID, reason string) error      // close 1008, no recovery
//	func (h *Hub) CloseUserConnections(ctx context.Context, userID, reason string) error // close 1008, no recovery
//
// And for the process: New(Config) (*Hub, error), (*Hub).ServeHTTP serving
// GET /client/hubs/{hub}, and (*Hub).Close(ctx) closing every socket with
// 1001 (reliable clients may then recover elsewhere).

// Broker carries commands between the nodes of a cluster. The in-process
// implementation (LocalBroker) just hands them back to this node.
type Broker interface {
	// Publish hands cmd to every node, this one included. Commands published
	// by one node are delivered to each node in publish order; delivery is at
	// most once, and a broker that finds it lost commands delivers a
	// CmdResync. It returns once the broker has accepted the command.
	Publish(ctx context.Context, cmd *Command) error
	// Subscribe calls deliver for every command published by any node, one
	// at a time, until ctx is done or the broker is closed. It returns after
	// the subscription is established; deliver must not block for long.
	Subscribe(ctx context.Context, deliver func(*Command)) error
}

// CommandKind names a server-side call carried by a Broker.
type CommandKind string

// The kinds of Command.
const (
	CmdSendToAll           CommandKind = "all"
	CmdSendToGroup         CommandKind = "group"
	CmdSendToUser          CommandKind = "user"
	CmdSendToConnection    CommandKind = "conn"
	CmdAddUserToGroup      CommandKind = "addUser"
	CmdRemoveUserFromGroup CommandKind = "removeUser"
	CmdAddConnToGroup      CommandKind = "addConn"
	CmdRemoveConnFromGroup CommandKind = "removeConn"
	CmdRemoveGroup         CommandKind = "removeGroup"
	CmdCloseConnection     CommandKind = "closeConn"
	CmdCloseUser           CommandKind = "closeUser"
)

// Command is one server-side call in transit between nodes. It is plain data
// and JSON-serialisable so that any broker can carry it.
type Command struct {
	Kind    CommandKind `json:"k"`
	Node    string      `json:"n,omitempty"` // the publishing node
	Group   string      `json:"g,omitempty"`
	UserID  string      `json:"u,omitempty"`
	ConnID  string      `json:"c,omitempty"`
	Reason  string      `json:"r,omitempty"`
	Message *Message    `json:"m,omitempty"`
	// At is when the call was made or the client frame arrived (unix
	// nanoseconds), for Config.ObserveFanout; 0 if unknown.
	At int64 `json:"at,omitempty"`
}

// Package chat is Chatr's application: the events and server messages of the
// original Chatr, presence and idle, and the policy that decides who may
// join, read and write which chat. It plugs into the hub through
// hub.Application and keeps its state in a chatr.Store.
//
// It knows nothing of HTTP, sockets or SQL: identity arrives with each
// connection (the hub checked the token the server signed for a session), and
// every change is written to the store before it is announced.
package chat

import (
	"context"
	"encoding/json"
	"html"
	"log/slog"
	"sync"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
	"github.com/chatr/chatr/internal/ratelimit"
)

// Defaults for Limits.
const (
	DefaultMaxMessageBytes    = 4096 // bytes of one chat message's text
	DefaultMaxChatNameLength  = 64   // characters of a chat name
	DefaultMessagesPerSecond  = 10   // sustained chat messages per user
	DefaultMessageBurst       = 30   // messages a user may send at once
	DefaultConnectionsPerUser = 32   // live connections of one user on one node
	DefaultEventsPerSecond    = 10   // sustained state-changing events (createChat, joinChat, ...) per user
	DefaultEventBurst         = 30   // such events a user may send at once
	DefaultMentionAllMax      = 50   // members of the largest chat in which anyone may mention @all
	DefaultIdleTimeout        = 60 * time.Second
	DefaultOfflineGrace       = 3 * time.Second // a user's last connection must stay gone this long before userOffline
	typingInterval            = 2 * time.Second // at most one typing event per user and chat
	typingPerSecond           = 5               // typing frames accepted per user (most are then throttled)
	typingBurst               = 20
	DefaultStoreTimeout       = 10 * time.Second
)

// Limits bound what a client controls. Zero values mean the defaults.
type Limits struct {
	MaxMessageBytes    int
	MaxChatNameLength  int
	MessagesPerSecond  float64
	MessageBurst       int
	ConnectionsPerUser int
	// EventsPerSecond and EventBurst limit each user's state-changing
	// events: each writes to the store and most are broadcast to everyone.
	EventsPerSecond float64
	EventBurst      int
	// MentionAllMax is the largest chat in which every member may mention
	// @all; in larger ones only the owner and moderators may.
	MentionAllMax int
}

// Hub is the part of *hub.Hub the chat logic calls.
type Hub interface {
	SendToGroup(ctx context.Context, group string, m hub.Message) error
	SendToUser(ctx context.Context, userID string, m hub.Message) error
	SendToConnection(ctx context.Context, connID string, m hub.Message) error
	AddUserToGroup(ctx context.Context, userID, group string) error
	RemoveUserFromGroup(ctx context.Context, userID, group string) error
	AddConnectionToGroup(ctx context.Context, connID, group string) error
	RemoveConnectionFromGroup(ctx context.Context, connID, group string) error
	RemoveGroup(ctx context.Context, group string) error
}

// Presence tracks which users have live connections. Implementations for
// one node (LocalPresence) and for a cluster satisfy the same contract.
type Presence interface {
	// Add records a live connection of the user and reports whether it is
	// the user's only one (the user has just come online).
	Add(ctx context.Context, userID, connID string) (first bool, err error)
	// Remove forgets a connection and reports whether the user has no live
	// connection left (the user has just gone offline). Removing an unknown
	// connection reports false.
	Remove(ctx context.Context, userID, connID string) (last bool, err error)
	// Online returns the ids of users with at least one live connection.
	Online(ctx context.Context) ([]string, error)
	// Count returns the number of live connections of the user.
	Count(ctx context.Context, userID string) (int, error)
}

// Config configures the application. Store is required.
type Config struct {
	Store    chatr.Store
	Presence Presence // default a LocalPresence
	Limits   Limits
	// OfflineGrace delays userOffline after a user's last connection closes,
	// so that a reload does not flash the user offline. Default
	// DefaultOfflineGrace; negative announces at once.
	OfflineGrace time.Duration
	// StoreTimeout bounds the storage work of one hook (a message, an
	// event, a connect): past it the client gets a Timeout ack. Default
	// DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Admins are the server's administrators: they moderate every chat
	// and may ban users.
	Admins chatr.Admins
	// Files keeps uploaded files' metadata, for messages that carry
	// files; nil refuses such messages.
	Files  chatr.FileStore
	Logger *slog.Logger
	Now    func() time.Time

	// MessageStored, when set, is told of every message a send stored
	// (not of retries), before its delivery; it must not block. Outgoing
	// webhooks queue their work there.
	MessageStored func(chatr.Message)
}

// App is the chat application. Create it with New, then Attach the hub it
// serves before the hub accepts connections.
type App struct {
	store    chatr.Store
	files    chatr.FileStore
	presence Presence
	limits   Limits
	log      *slog.Logger
	now      func() time.Time
	hub      Hub

	offlineGrace time.Duration
	storeTimeout time.Duration
	admins       chatr.Admins

	messageStored func(chatr.Message) // Config.MessageStored

	names userNames // names of the users connected here, for stamping messages
	order sequencer // hands each chat's messages to the hub in id order
	// unsettled keeps the key of each connection's last send whose outcome
	// the client could not know, for its retry.
	unsettled unsettledSends
	rate      *ratelimit.Limiter // chat messages per user
	events    *ratelimit.Limiter // state-changing events per user
	reads     *ratelimit.Limiter // markRead per user: a busy chat must not starve the other events
	reactions *ratelimit.Limiter // react per user
	// typingBudget bounds typing frames per user before any other work.
	typingBudget *ratelimit.Limiter
	mu           sync.Mutex
	typing       map[string]time.Time // userID+"\x00"+chatID -> last typing event sent
	large        largeChats           // chats known to have more than SmallChat members
	crowd        crowds               // large chats' membership changes waiting for their window
	watching     watchSets            // users each connection asked to watch
}

var _ hub.Application = (*App)(nil)

// New returns the application on cfg.Store.
func New(cfg Config) *App {
	l := cfg.Limits
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.MaxChatNameLength <= 0 {
		l.MaxChatNameLength = DefaultMaxChatNameLength
	}
	if l.MessagesPerSecond <= 0 {
		l.MessagesPerSecond = DefaultMessagesPerSecond
	}
	if l.MessageBurst <= 0 {
		l.MessageBurst = DefaultMessageBurst
	}
	if l.ConnectionsPerUser <= 0 {
		l.ConnectionsPerUser = DefaultConnectionsPerUser
	}
	if l.EventsPerSecond <= 0 {
		l.EventsPerSecond = DefaultEventsPerSecond
	}
	if l.EventBurst <= 0 {
		l.EventBurst = DefaultEventBurst
	}
	if l.MentionAllMax <= 0 {
		l.MentionAllMax = DefaultMentionAllMax
	}
	if cfg.Presence == nil {
		cfg.Presence = NewLocalPresence()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OfflineGrace == 0 {
		cfg.OfflineGrace = DefaultOfflineGrace
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	// A cluster's Presence also holds rate-limit buckets shared by every
	// node; nil keeps them in this process.
	shared, _ := cfg.Presence.(ratelimit.Backend)
	return &App{offlineGrace: cfg.OfflineGrace, storeTimeout: cfg.StoreTimeout, admins: cfg.Admins,
		store: cfg.Store, files: cfg.Files, presence: cfg.Presence, limits: l, log: cfg.Logger, now: cfg.Now, messageStored: cfg.MessageStored,
		rate:         ratelimit.NewShared(shared, "messages", l.MessagesPerSecond, l.MessageBurst),
		events:       ratelimit.NewShared(shared, "events", l.EventsPerSecond, l.EventBurst),
		reads:        ratelimit.NewShared(shared, "reads", l.EventsPerSecond, l.EventBurst),
		reactions:    ratelimit.NewShared(shared, "reactions", reactionsPerSecond, reactionBurst),
		typingBudget: ratelimit.NewShared(shared, "typing", typingPerSecond, typingBurst),
		typing:       make(map[string]time.Time),
	}
}

// Attach sets the hub the application sends through.
func (a *App) Attach(h Hub) { a.hub = h }

// Limits returns the limits in force (defaults filled in).
func (a *App) Limits() Limits { return a.limits }

// Online returns the users online now, for GET /api/users.
func (a *App) Online(ctx context.Context) ([]chatr.User, error) {
	ids, err := a.presence.Online(ctx)
	if err != nil {
		return nil, err
	}
	return a.usersOf(ctx, ids)
}

// usersOf returns the users of ids that exist, in the order of ids, read
// from the store MaxLookupIDs at a time.
func (a *App) usersOf(ctx context.Context, ids []string) ([]chatr.User, error) {
	users := make([]chatr.User, 0, len(ids))
	for len(ids) > 0 {
		part := ids[:min(len(ids), chatr.MaxLookupIDs)]
		ids = ids[len(part):]
		found, err := a.store.GetUsers(ctx, part)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]chatr.User, len(found))
		for _, u := range found {
			byID[u.ID] = u
		}
		for _, id := range part {
			if u, ok := byID[id]; ok {
				users = append(users, u)
			}
		}
	}
	return users, nil
}

// serverEvent encodes the original's server message {chatEvent, data} with
// data a string: JSON-encoded when payload is not a string already.
func serverEvent(name string, payload any) hub.Message {
	var data string
	switch p := payload.(type) {
	case string:
		data = p
	default:
		b, err := json.Marshal(p)
		if err != nil {
			panic(err) // payloads are the package's own structs
		}
		data = string(b)
	}
	b, _ := json.Marshal(struct {
		ChatEvent string `json:"chatEvent"`
		Data      string `json:"data"`
	}{name, data})
	return hub.Message{Payload: hub.Payload{DataType: "json", Data: b}}
}

// userEvent is a server event that carries user-written text (names): its
// payload is built with every such text HTML-escaped by esc and, when that
// changed anything, as written too: the escaped variant goes to connections
// of clients that render text as HTML (hub.ConnInfo.HTMLText).
func userEvent(name string, payload func(esc func(string) string) any) hub.Message {
	escaped := false
	h := payload(func(s string) string {
		e := html.EscapeString(s)
		escaped = escaped || e != s
		return e
	})
	if !escaped { // no markup in what users wrote: one encoding serves both
		return serverEvent(name, h)
	}
	m := serverEvent(name, payload(func(s string) string { return s }))
	hp := serverEvent(name, h).Payload
	m.HTMLPayload = &hp
	return m
}

// announcement is a text message to a chat's group, as the original sends
// ("💬 Alice has joined the chat"). The original client renders it as HTML,
// so every user-written part must be escaped by the caller.
func announcement(text string) hub.Message {
	return hub.Message{Payload: hub.Payload{DataType: "text", Data: []byte(text)}}
}

// IsAdmin reports whether u is one of the server's administrators.
func (a *App) IsAdmin(u chatr.User) bool { return a.admins.Has(u) }

package chatr

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Store keeps Chatr's state. Every implementation (sqlite, postgres) passes
// the conformance suite in package storetest, which is the executable form
// of the contract written here.
//
// General rules: methods are safe for concurrent use; a method that returns
// nil has made its change durable (it survives a crash of the process right
// after); "not found" is an *Error with code ENOTFOUND, "exists already" one
// with ECONFLICT, bad arguments EINVALID. Times are stored with at least
// millisecond precision and returned in UTC; a zero Created, Joined or
// message Time means "now". Text must be valid UTF-8 without NUL bytes
// (EINVALID otherwise on writes; lookups by such a key find nothing). Close
// is idempotent.
type Store interface {
	RoomStore    // rooms, people and moderation: rooms.go
	MessageStore // edits, deletions, reactions, mentions, read markers: messages.go
	UnreadStore  // one chat's read marker and counts: unread.go

	// API tokens and incoming webhooks: integrations.go
	IntegrationStore

	OutgoingWebhookStore // outgoing webhooks: outgoing.go

	// UpsertUser creates the user or updates its Name and Provider (Idle and
	// LastSeen are kept for an existing user and taken from u on first
	// insert). Created is set on first insert.
	UpsertUser(ctx context.Context, u User) error
	// GetUser returns the user, or ENOTFOUND.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUsers returns the users of ids that exist, in no particular order:
	// an id of no user (or one no user could have) is left out. At most
	// MaxLookupIDs ids, EINVALID past that. One read for many users (the
	// presence a connection is sent when it connects).
	GetUsers(ctx context.Context, ids []string) ([]User, error)
	// ListUsers returns every user, ordered by ID.
	ListUsers(ctx context.Context) ([]User, error)
	// SetIdle records the user's idle flag and last-seen time. ENOTFOUND for
	// an unknown user.
	SetIdle(ctx context.Context, userID string, idle bool, at time.Time) error
	// RevokeTokens records that the user's access tokens issued before
	// before are refused; GetUser returns it as User.TokensRevoked. The
	// moment only moves forward (an earlier one is ignored) and is kept with
	// at least millisecond precision. ENOTFOUND for an unknown user.
	RevokeTokens(ctx context.Context, userID string, before time.Time) error

	// CreateSession stores a new session. ECONFLICT if the hash exists.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with that token hash if it has not
	// expired at now (a session has expired when Expires <= now); ENOTFOUND
	// otherwise.
	GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error)
	// ExtendSession moves a session's expiry to expires (sliding renewal;
	// callers extend only sessions GetSession just returned). ENOTFOUND if
	// there is no such session.
	ExtendSession(ctx context.Context, tokenHash string, expires time.Time) error
	// DeleteSession removes the session; deleting a missing session is not an error.
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteUserSessions removes every session of the user (sign out everywhere).
	DeleteUserSessions(ctx context.Context, userID string) error
	// DeleteExpiredSessions removes sessions expired at now and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// CreateChat stores a new chat and never overwrites one: ECONFLICT if the
	// ID exists. EINVALID for an empty ID or name.
	CreateChat(ctx context.Context, c Chat) error
	// GetChat returns the chat, or ENOTFOUND.
	GetChat(ctx context.Context, id string) (Chat, error)
	// ListGroupChats returns every non-private chat, ordered by creation time then ID.
	ListGroupChats(ctx context.Context) ([]Chat, error)
	// ListUserChats returns every chat (group or private) the user is a member
	// of, ordered by creation time then ID.
	ListUserChats(ctx context.Context, userID string) ([]Chat, error)
	// DeleteChat removes the chat with its members, messages and read markers.
	// ENOTFOUND if it does not exist. A chat created again with the same ID
	// starts its message IDs at 1.
	DeleteChat(ctx context.Context, id string) error

	// AddMember makes the user a member of the chat; adding an existing member
	// succeeds and changes nothing. ENOTFOUND if the chat does not exist.
	AddMember(ctx context.Context, chatID string, m Member) error
	// RemoveMember removes the membership; removing a non-member, or from a
	// missing chat, is not an error.
	RemoveMember(ctx context.Context, chatID, userID string) error
	// ListMembers returns the chat's members ordered by join time then user ID.
	// ENOTFOUND if the chat does not exist.
	ListMembers(ctx context.Context, chatID string) ([]Member, error)
	// ListMembersOf returns the members of each of chatIDs, keyed by chat
	// ID and ordered as ListMembers orders them; a missing chat, or one
	// without members, has no key. At most MaxLookupIDs ids, EINVALID past
	// that. One read for many chats (a connection's small chats).
	ListMembersOf(ctx context.Context, chatIDs []string) (map[string][]Member, error)
	// IsMember reports whether the user is a member of the chat (false for a
	// missing chat).
	IsMember(ctx context.Context, chatID, userID string) (bool, error)

	// AddMessage stores m (with its ReplyTo and Mentions) in chat m.ChatID,
	// assigns it the next ID of that chat and returns the stored message. When it returns nil the message is
	// durable. Concurrent calls may be committed together (group commit), but
	// each message's ID is greater than that of every message of the same
	// chat whose AddMessage returned before this call began. ENOTFOUND if
	// the chat does not exist; EINVALID for a ReplyTo that is not the id of
	// a message of the chat, or bad Mentions (see CheckMessageExtras).
	//
	// Files, when m has any, name uploaded files by ID (the rest of each
	// Attachment is ignored) that become the message's attachments in the
	// transaction that stores it, checked as FileStore.AttachFiles checks
	// them with the sender as uploader; when one fails, the message is not
	// stored and AddMessage returns AttachFiles's error. So a stored
	// message always has its files (Table Storage, whose transactions
	// cannot span the two tables, links them before AddMessage returns: a
	// crash in between leaves the message without them until the send is
	// retried). The returned message has no Files.
	//
	// Idempotency: if m.ClientID is not empty and the sender (m.FromUserID)
	// already has a stored message with that ClientID in chat m.ChatID,
	// nothing is stored and the first stored message is returned with
	// Duplicate set and a nil error. (sqlite and postgres keep a ClientID
	// unique per sender across all chats; Table Storage per sender and chat,
	// since one of its transactions cannot span chats. Callers make keys
	// unique per sender, so both scopes answer the same.) A caller whose call failed with a timeout or
	// cancellation (the message may or may not be stored) retries with the
	// same ClientID to learn which: it gets the first result, never a copy.
	// Without a ClientID a failed call may have stored the message.
	// ELIMIT when the store's write queue is full.
	AddMessage(ctx context.Context, m Message) (Message, error)
	// ListMessages returns messages of the chat in ascending ID order: those
	// with After < ID < Before (a zero bound is no bound), at most Limit of
	// them; with Before set (or no bound at all) the newest that qualify,
	// with only After set the oldest that qualify. Limit <= 0 means 50;
	// callers bound Limit (the HTTP API caps it at 200). ENOTFOUND for a
	// missing chat. Messages carry their ClientID. With Around set, the
	// page of ListAround.
	ListMessages(ctx context.Context, chatID string, q MessageQuery) ([]Message, error)

	// MarkRead records that the user has read the chat up to messageID. The
	// marker only moves forward: a lower id than the stored one is ignored.
	// ENOTFOUND for a missing chat.
	MarkRead(ctx context.Context, userID, chatID string, messageID int64) error
	// UnreadCounts returns, for every chat the user is a member of, how many
	// messages have an ID above the user's read marker and were neither sent
	// by the user nor deleted. Chats with no unread messages may be left out.
	UnreadCounts(ctx context.Context, userID string) (map[string]int, error)

	// Ping checks that the store can serve requests (for /readyz).
	Ping(ctx context.Context) error
	// Close flushes pending writes and releases the store.
	Close() error
}

// MessageQuery selects a page of a chat's history; see Store.ListMessages.
// Around, when set, asks for the page centred on that id instead (Before
// and After are then ignored): see ListAround.
type MessageQuery struct {
	Before int64
	After  int64
	Limit  int
	Around int64
}

// StorableText reports whether every string is text every Store keeps byte
// for byte: valid UTF-8 without NUL bytes (PostgreSQL refuses the rest).
func StorableText(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return false
		}
	}
	return true
}

// CheckText is StorableText as the error a Store returns on a write:
// EINVALID.
func CheckText(ss ...string) error {
	if !StorableText(ss...) {
		return Errorf(EINVALID, "text must be UTF-8 without NUL")
	}
	return nil
}

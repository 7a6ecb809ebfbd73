// Package chatr holds Chatr's domain: users, chats, messages and sessions, the
// Store contract every storage backend honours, and the application error codes
// that the HTTP API and the hub's acks map to their own vocabularies.
//
// It imports nothing of the project and no third-party package: the hub, the
// chat logic, the storage backends and the HTTP layer all depend on it, never
// the other way round.
package chatr

import "time"

// User is a person who signed in once. ID is prefixed by the provider that
// vouched for it ("github:583231", "aad:<oid>", "guest:<random>") and never
// changes; Name is the display name the provider gave.
type User struct {
	ID       string    `json:"userId"`
	Name     string    `json:"userName"`
	Provider string    `json:"userProvider"`
	Idle     bool      `json:"idle"`
	LastSeen time.Time `json:"lastSeen"`
	Created  time.Time `json:"created"`
	// TokensRevoked is the moment before which the user's access tokens
	// were issued are refused (sign-out everywhere); zero when never.
	TokensRevoked time.Time `json:"-"`

	// Handle is the user's unique @handle (see RoomStore).
	Handle string `json:"handle,omitempty"`
	// Banned users may not sign in; BannedBy and BannedAt say who and when.
	Banned   bool      `json:"banned,omitempty"`
	BannedBy string    `json:"-"`
	BannedAt time.Time `json:"-"`
}

// Chat is a group chat or a private chat. Private chats are direct
// messages, with IDs of the form "private_<lo>_<hi>" (see PrivateChatID) and
// two members, or group DMs (see GroupDMID); group chats have an owner and
// are public or private (Visibility). Kind tells them apart.
type Chat struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Private bool      `json:"private"`
	Created time.Time `json:"created"`

	// Topic is a line shown in the room's header.
	Topic string `json:"topic,omitempty"`
	// Visibility is VisibilityPublic or VisibilityPrivate (see RoomStore).
	Visibility string `json:"visibility,omitempty"`
	// InvitePolicy says who may invite: InviteByMembers or InviteByModerators.
	InvitePolicy string `json:"invitePolicy,omitempty"`
	// LastMessageAt is the time of the newest message, set by ListUserChats.
	LastMessageAt time.Time `json:"lastMessageAt,omitzero"`
}

// Member is one user's membership of a chat.
type Member struct {
	UserID   string    `json:"userId"`
	UserName string    `json:"userName"`
	Joined   time.Time `json:"joined"`
	// Role is RoleOwner, RoleModerator or RoleMember. AddMember stores an
	// empty Role as RoleOwner for the chat's Owner, RoleMember otherwise.
	Role string `json:"role,omitempty"`
}

// Message is one chat message as stored. ID increases strictly within a chat
// (1, 2, 3, ...) in the order the store accepted the messages.
//
// ClientID is the sender's idempotency key: a store keeps at most one
// message per (FromUserID, ClientID) when ClientID is not empty, so a retried
// send answers with the first result instead of storing a copy.
type Message struct {
	ChatID       string    `json:"chatId"`
	ID           int64     `json:"id"`
	FromUserID   string    `json:"fromUserId"`
	FromUserName string    `json:"fromUserName"`
	Text         string    `json:"message"`
	Time         time.Time `json:"time"`
	ClientID     string    `json:"clientId,omitempty"`
	// ReplyTo is the id of the message of the same chat this one answers
	// (0 for none); Mentions are who it mentions. AddMessage stores both.
	ReplyTo  int64    `json:"replyTo,omitempty"`
	Mentions Mentions `json:"mentions,omitzero"`
	// Edited is the time of the last edit (zero if never), Deleted whether
	// the message was deleted and DeletedAt when; a deleted message has no
	// text, mentions or reactions. Reactions are ordered by the earliest
	// reaction with each emoji still there. See MessageStore.
	Edited    time.Time  `json:"edited,omitzero"`
	Deleted   bool       `json:"deleted,omitempty"`
	DeletedAt time.Time  `json:"deletedAt,omitzero"`
	Reactions []Reaction `json:"reactions,omitempty"`
	// Files are the message's attachments; the chat layer sets them from
	// FileStore.MessageFiles (stores leave them empty). To AddMessage they
	// name, by ID, the uploaded files the new message carries.
	Files []Attachment `json:"files,omitempty"`
	// Duplicate is set by AddMessage on a message it did not store because
	// the sender had already stored one with the same ClientID.
	Duplicate bool `json:"-"`
}

// MaxClientID bounds Message.ClientID in bytes; stores refuse a longer one
// with EINVALID.
const MaxClientID = 128

// MaxLookupIDs bounds the ids of one GetUsers or ListMembersOf call.
const MaxLookupIDs = 500

// Session is a signed-in browser. Only the hash of the secret token that the
// cookie carries is stored, so a leaked database does not leak sessions.
type Session struct {
	TokenHash string
	UserID    string
	Created   time.Time
	Expires   time.Time
}

// PrivateChatID returns the id of the private chat between two users: the
// same whichever of the two starts it.
func PrivateChatID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "private_" + a + "_" + b
}

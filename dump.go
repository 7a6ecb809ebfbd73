package chatr

import (
	"context"
	"time"
)

// Dump kinds: the name of each row stream a Dumper reads and writes, in the
// order a copy must write them (a member needs its chat, a message its
// chat, ...). A capability that adds a table adds its kind here, a row type
// below, and a case in every store's Dump and Load.
const (
	KindUsers       = "users"        // UserRow
	KindSessions    = "sessions"     // Session
	KindChats       = "chats"        // ChatRow
	KindMembers     = "members"      // MemberRow
	KindMessages    = "messages"     // Message, with its replyTo, mentions, edit and deletion (Reactions empty)
	KindReactions   = "reactions"    // ReactionDump, in the order they were made
	KindReadMarkers = "read_markers" // ReadMarker
	KindInvites     = "invites"      // Invite
	KindModEvents   = "mod_events"   // ModEvent
	KindFiles       = "files"        // FileRow: uploaded files' metadata (their bytes are Blobs')
)

// DumpKinds lists every kind in write order.
var DumpKinds = []string{KindUsers, KindSessions, KindChats, KindMembers, KindMessages, KindReactions, KindReadMarkers, KindInvites, KindModEvents, KindFiles}

// UserRow is a user as stored, with what User does not show.
type UserRow struct {
	User
	// NameChosen is set once the user picked their display name (see
	// RoomStore.SetUserName), so that sign-ins no longer overwrite it.
	NameChosen bool `json:"nameChosen,omitempty"`
}

// ChatRow is a chat as stored, with its message counter.
type ChatRow struct {
	Chat
	// LastMessageID is the highest message ID the chat has given; the next
	// message gets LastMessageID+1 even when the newest were removed.
	LastMessageID int64 `json:"lastMessageId"`
}

// MemberRow is one membership.
type MemberRow struct {
	ChatID string `json:"chatId"`
	Member
}

// ReactionDump is one user's reaction to a message. A dump lists each
// message's in the order they were made, which orders its Reactions.
type ReactionDump struct {
	ChatID    string `json:"chatId"`
	MessageID int64  `json:"messageId"`
	Emoji     string `json:"emoji"`
	UserID    string `json:"userId"`
}

// ReadMarker is how far a user has read a chat.
type ReadMarker struct {
	UserID    string `json:"userId"`
	ChatID    string `json:"chatId"`
	MessageID int64  `json:"messageId"`
}

// FileRow is an uploaded file as stored, with its place among its
// message's files.
type FileRow struct {
	File
	Position int `json:"position"`
}

// Row is one row of a dump: Value is the row type its Kind names above
// (a value, not a pointer).
type Row struct {
	Kind  string
	Value any
}

// Dumper reads and writes every row a store holds, for backups, exports and
// copies between stores. It bypasses the Store's rules (ids are kept, not
// given; counters and flags are written as they are), so only operator
// commands use it, on stores no server is writing to (Dump may run while one
// is).
type Dumper interface {
	// Dump calls fn with every row of kind, in a stable order (the kind's
	// key), and stops at fn's first error, which it returns. A kind the
	// store does not know is EINVALID.
	Dump(ctx context.Context, kind string, fn func(Row) error) error
	// Load writes rows, all of one kind, idempotently: a row whose key is
	// stored already is overwritten, so loading the same rows again (a
	// resumed copy) changes nothing and doubles nothing. Message IDs,
	// moderation event IDs and chat counters are kept as given. Rows of a
	// kind that needs a chat (members, messages, read markers, invites)
	// whose chat is missing are EINVALID.
	Load(ctx context.Context, rows []Row) error
}

// DumpTime normalises a time for comparing rows across stores: UTC, to the
// millisecond every store keeps.
func DumpTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

// DeletedUserName is the author shown on messages kept after their sender
// deleted their account.
const DeletedUserName = "deleted user"

// DeletedUserID is the sender id such messages carry.
const DeletedUserID = "deleted"

// UserDeleter removes an account (an operator's "delete user" or the user's
// own request). DeleteUser removes, in one step, the user row (and so its
// handle), their sessions, memberships and read markers. With keepMessages
// their messages stay, with FromUserID DeletedUserID, FromUserName
// DeletedUserName and no ClientID; otherwise they are removed. Chats the user
// owned keep their owner field (moderators take over). ENOTFOUND for an
// unknown user.
type UserDeleter interface {
	DeleteUser(ctx context.Context, userID string, keepMessages bool) error
}

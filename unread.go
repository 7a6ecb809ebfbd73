package chatr

import "context"

// ChatUnread is what a user has not read of one chat.
type ChatUnread struct {
	ReadUpTo int64 // the user's read marker, 0 when never marked
	Unread   int   // messages above it neither sent by the user nor deleted (as UnreadCounts counts)
	Mentions int   // of those, the ones that mention the user (as MentionCounts counts)
}

// UnreadStore answers, after a read marker moved, what is left to read of
// that chat, without counting every chat of the user.
type UnreadStore interface {
	// ChatUnread returns the user's read marker of the chat and the counts
	// that UnreadCounts and MentionCounts give for that chat. A user who is
	// not a member, a missing chat and text no store keeps get the zero
	// ChatUnread, not an error.
	ChatUnread(ctx context.Context, userID, chatID string) (ChatUnread, error)
}

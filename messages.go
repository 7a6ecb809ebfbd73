package chatr

import (
	"context"
	"slices"
	"time"
)

// Limits of what a message carries beside its text. A store refuses more
// with the code named.
const (
	// MaxEmoji bounds one reaction's emoji in bytes (EINVALID beyond).
	MaxEmoji = 64
	// MaxReactionKinds bounds the distinct emoji on one message: a reaction
	// with a new emoji beyond it is ELIMIT.
	MaxReactionKinds = 50
	// MaxReactionUsers bounds the user ids a Reaction lists; Count still
	// counts everyone.
	MaxReactionUsers = 50
	// MaxMentionUsers bounds Mentions.Users (EINVALID beyond).
	MaxMentionUsers = 1000
)

// Reaction is one emoji on a message: how many users reacted with it and
// the first MaxReactionUsers of them, in the order they reacted (a user who
// takes theirs back and reacts again goes last).
type Reaction struct {
	Emoji string   `json:"emoji"`
	Count int      `json:"count"`
	Users []string `json:"users"`
}

// Mentions are who a message mentions, as the chat layer resolved them
// from its text when it was sent or edited: the ids of the mentioned users,
// and whether it said @here or @all. A store counts a message as a mention
// of a user when the user is in Users or All is set; Here alone counts for
// nobody, so the chat layer lists in Users the online members it notified.
type Mentions struct {
	Users []string `json:"users,omitempty"`
	Here  bool     `json:"here,omitempty"`
	All   bool     `json:"all,omitempty"`
}

// The words that mention many: @here (the members online) and @all (every
// member). No user gets them as a handle.
const (
	MentionHere = "here"
	MentionAll  = "all"
)

// IsZero reports whether the message mentions nobody.
func (m Mentions) IsZero() bool { return len(m.Users) == 0 && !m.Here && !m.All }

// MessageEdit is a new text for a stored message; see MessageStore.EditMessage.
type MessageEdit struct {
	ChatID   string
	ID       int64
	EditorID string // the user editing: only the author may
	Text     string
	Mentions Mentions // replace the message's mentions
	At       time.Time
}

// MessageStore is the part of Store that edits, deletions, reactions,
// replies, mentions and exact read markers need. The fields it adds to
// Message (ReplyTo, Mentions) are stored by AddMessage, under its group
// commit and idempotency key; the others (Edited, Deleted, DeletedAt,
// Reactions) are set by the methods below and returned by every method that
// returns messages, ListMessages included.
type MessageStore interface {
	// GetMessage returns one message of the chat as ListMessages would.
	// ENOTFOUND for a missing chat or message.
	GetMessage(ctx context.Context, chatID string, id int64) (Message, error)
	// EditMessage replaces the text and mentions of a message and sets its
	// Edited time (zero At means now), returning the message as stored.
	// EFORBIDDEN unless e.EditorID is its author; ECONFLICT for a deleted
	// message; ENOTFOUND for a missing chat or message; EINVALID for an
	// empty text or bad mentions. Editing twice keeps the latest.
	EditMessage(ctx context.Context, e MessageEdit) (Message, error)
	// DeleteMessage removes the message's text (overwritten in storage, not
	// hidden), mentions and reactions, and marks it Deleted at at (zero means
	// now); the message keeps its ID, author, time, ReplyTo and ClientID, so
	// history shows where it was and a retried send still finds it. It
	// returns the message as stored. Deleting a deleted message changes
	// nothing and returns it (with the first DeletedAt). ENOTFOUND for a
	// missing chat or message. Who may delete is the caller's decision.
	DeleteMessage(ctx context.Context, chatID string, id int64, at time.Time) (Message, error)
	// ToggleReaction adds the user's reaction with emoji to the message, or
	// removes it if the user had it, and returns whether it is now on and
	// the message's reactions after the change. Concurrent toggles are
	// serialised per message: two users adding the same emoji at once both
	// count. EINVALID for an empty emoji, one over MaxEmoji bytes or bad
	// text; ELIMIT for a new emoji on a message that has MaxReactionKinds;
	// ECONFLICT on a deleted message; ENOTFOUND for a missing chat or
	// message.
	ToggleReaction(ctx context.Context, chatID string, id int64, userID, emoji string) (on bool, reactions []Reaction, err error)
	// MentionCounts returns, for every chat the user is a member of, how many
	// messages above the user's read marker mention the user (see Mentions)
	// and were not sent by the user nor deleted. Chats with none may be left
	// out.
	MentionCounts(ctx context.Context, userID string) (map[string]int, error)
	// ReadMarkers returns, for every chat the user is a member of and has
	// marked read, the id of the last message read (see Store.MarkRead).
	// Chats never marked are left out.
	ReadMarkers(ctx context.Context, userID string) (map[string]int64, error)
}

// CheckEmoji is the EINVALID a store returns for a bad reaction emoji.
func CheckEmoji(emoji string) error {
	if emoji == "" || len(emoji) > MaxEmoji {
		return Errorf(EINVALID, "an emoji is 1 to %d bytes", MaxEmoji)
	}
	return CheckText(emoji)
}

// CheckMentions is the EINVALID a store returns for bad mentions.
func CheckMentions(m Mentions) error {
	if len(m.Users) > MaxMentionUsers {
		return Errorf(EINVALID, "a message mentions at most %d users", MaxMentionUsers)
	}
	for _, u := range m.Users {
		if u == "" {
			return Errorf(EINVALID, "a mentioned user id is empty")
		}
	}
	return CheckText(m.Users...)
}

// NormalMentions returns m with its users sorted and without repeats, the
// form in which stores keep and return them; nil Users when none.
func NormalMentions(m Mentions) Mentions {
	if len(m.Users) == 0 {
		m.Users = nil
		return m
	}
	m.Users = slices.Compact(slices.Sorted(slices.Values(m.Users)))
	return m
}

// CheckMessageExtras checks what AddMessage stores beside the text: a
// ReplyTo that is not negative and the mentions.
func CheckMessageExtras(m Message) error {
	if m.ReplyTo < 0 {
		return Errorf(EINVALID, "replyTo must be a message id")
	}
	return CheckMentions(m.Mentions)
}

// ReactionRow is one user's reaction as stores keep it; CollectReactions
// turns a message's rows into its Reactions.
type ReactionRow struct {
	MessageID int64
	Emoji     string
	UserID    string
}

// CollectReactions groups rows, given in the order the reactions were made,
// by message: emoji in the order of their first reaction, users in the order
// they reacted, at most MaxReactionUsers listed per emoji.
func CollectReactions(rows []ReactionRow) map[int64][]Reaction {
	out := map[int64][]Reaction{}
	for _, r := range rows {
		rs := out[r.MessageID]
		i := slices.IndexFunc(rs, func(x Reaction) bool { return x.Emoji == r.Emoji })
		if i < 0 {
			rs = append(rs, Reaction{Emoji: r.Emoji})
			i = len(rs) - 1
		}
		rs[i].Count++
		if len(rs[i].Users) < MaxReactionUsers {
			rs[i].Users = append(rs[i].Users, r.UserID)
		}
		out[r.MessageID] = rs
	}
	return out
}

// ListAround answers a MessageQuery with Around set through list, a
// store's listing of Before/After pages (see Store.ListMessages): up to
// Limit/2 messages below Around (the newest of them), then from Around
// upwards the oldest, as many as fill Limit.
func ListAround(q MessageQuery, list func(MessageQuery) ([]Message, error)) ([]Message, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	var older []Message
	if limit/2 > 0 && q.Around > 1 {
		var err error
		if older, err = list(MessageQuery{Before: q.Around, Limit: limit / 2}); err != nil {
			return nil, err
		}
	}
	// Both bounds, since After 0 alone would mean "the newest"; ids are
	// dense, so the range holds no more than the page.
	rest := limit - len(older)
	newer, err := list(MessageQuery{After: q.Around - 1, Before: q.Around + int64(rest), Limit: rest})
	if err != nil {
		return nil, err
	}
	return append(older, newer...), nil
}

package chatr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Chat visibility. A public group chat is listed in "Browse chats" and may
// be joined by anyone; a private one is visible to its members only. Direct
// messages and group DMs (Private chats) are always "private".
const (
	VisibilityPublic  = "public"
	VisibilityPrivate = "private"
)

// Who may invite people into a group chat.
const (
	InviteByMembers    = "members"    // any member (the default)
	InviteByModerators = "moderators" // only the owner and moderators
)

// Member roles. A chat has one owner (Chat.Owner); moderators moderate it.
const (
	RoleOwner     = "owner"
	RoleModerator = "moderator"
	RoleMember    = "member"
)

// Chat kinds, as Chat.Kind tells them from the chat's id.
const (
	KindGroup   = "group"   // a named room, public or private
	KindDirect  = "direct"  // a DM between two users: PrivateChatID
	KindGroupDM = "groupdm" // a DM of 3 to 9 users: GroupDMID
)

// Group DMs have between MinGroupDM and MaxGroupDM members.
const (
	MinGroupDM = 3
	MaxGroupDM = 9
)

// Limits of the people directory's handles.
const (
	handleMaxBase = 24 // characters of the part derived from a name
)

// EGONE is the code of an invite that existed but can no longer be used
// (410, ack "Gone"); the sentinel errors below tell why.
const EGONE = "gone"

// Why UseInvite refused a token that exists. They are returned as they are,
// so callers may compare them with errors.Is.
var (
	ErrInviteRevoked = &Error{Code: EGONE, Message: "this invite link has been revoked"}
	ErrInviteExpired = &Error{Code: EGONE, Message: "this invite link has expired"}
	ErrInviteUsedUp  = &Error{Code: EGONE, Message: "this invite link has been used up"}
)

// ErrChatNameTaken is the ECONFLICT of CreateChat and UpdateChat when
// another public group chat holds the name (an existing ID is another
// ECONFLICT); it is returned as it is, for errors.Is.
var ErrChatNameTaken = &Error{Code: ECONFLICT, Message: "a public chat with this name exists"}

// Kind tells a group chat from a direct message and a group DM.
func (c Chat) Kind() string {
	switch {
	case c.Private && strings.HasPrefix(c.ID, "dm_"):
		return KindGroupDM
	case c.Private:
		return KindDirect
	default:
		return KindGroup
	}
}

// IsPublic reports whether the chat is a public group chat (listed by
// ListGroupChats, its name unique among public chats).
func (c Chat) IsPublic() bool {
	return !c.Private && c.Visibility != VisibilityPrivate
}

// GroupDMID returns the id of the group DM between userIDs: the same for
// the same set of users in any order. EINVALID unless the set has between
// MinGroupDM and MaxGroupDM distinct users.
func GroupDMID(userIDs []string) (string, error) {
	set := slices.Clone(userIDs)
	slices.Sort(set)
	set = slices.Compact(set)
	if len(set) < MinGroupDM || len(set) > MaxGroupDM || slices.Contains(set, "") {
		return "", Errorf(EINVALID, "a group DM has %d to %d people", MinGroupDM, MaxGroupDM)
	}
	// NUL cannot occur in a stored id, so the joined form is unambiguous.
	sum := sha256.Sum256([]byte(strings.Join(set, "\x00")))
	return "dm_" + hex.EncodeToString(sum[:16]), nil
}

// NameKey is the form under which public chat names are unique:
// "General" and "general" are the same name.
func NameKey(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

// HandleBase derives the part of a handle that comes from a login or a
// display name: lower-case ASCII letters, digits, "_" and "-", at most
// handleMaxBase characters; runs of other characters become one "_".
// It returns "user" when nothing usable is left. A store appends a number
// to make the handle unique ("bob", "bob2", "bob3", ...).
func HandleBase(s string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			gap = false
			b.WriteRune(r)
		case unicode.IsMark(r):
			// accents of a decomposed letter vanish with it
		default:
			gap = true
		}
		if b.Len() >= handleMaxBase {
			break
		}
	}
	h := strings.Trim(b.String(), "_-")
	if len(h) > handleMaxBase {
		h = strings.Trim(h[:handleMaxBase], "_-")
	}
	if h == "" {
		return "user"
	}
	return h
}

// HandleCandidate returns the n-th handle tried for base: base itself for
// n <= 1 (but "here1" and "all1" for the words that mention many), then
// base followed by n.
func HandleCandidate(base string, n int) string {
	if n <= 1 {
		if base == MentionHere || base == MentionAll {
			return base + "1"
		}
		return base
	}
	return base + strconv.Itoa(n)
}

// FreeHandle returns the first candidate for base that is not in taken.
// Stores pass it the handles that already start with base.
func FreeHandle(base string, taken map[string]bool) string {
	for n := 1; ; n++ {
		if h := HandleCandidate(base, n); !taken[h] {
			return h
		}
	}
}

// ChatUpdate lists the attributes UpdateChat changes; nil leaves one as it is.
type ChatUpdate struct {
	Name         *string
	Topic        *string
	Visibility   *string // VisibilityPublic or VisibilityPrivate; group chats only
	InvitePolicy *string // InviteByMembers or InviteByModerators
}

// UserQuery selects a page of the people directory; see RoomStore.SearchUsers.
type UserQuery struct {
	// Search keeps the users whose display name or handle contains it,
	// ignoring case ("" keeps everyone). A leading "@" is ignored.
	Search string
	// After is the cursor: the handle of the last user of the previous page.
	After string
	// Limit <= 0 means 50; stores cap it at 1000.
	Limit int
}

// Invite is an invite link to a chat. Only the hash of the link's secret
// token is stored, as for sessions.
type Invite struct {
	TokenHash string    `json:"-"`
	ChatID    string    `json:"chatId"`
	CreatedBy string    `json:"createdBy"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`  // zero: never
	MaxUses   int       `json:"maxUses,omitempty"` // 0: unlimited
	Uses      int       `json:"uses"`
	Revoked   bool      `json:"revoked,omitempty"`
}

// ModEvent is one entry of the moderation log: who did what to whom, where
// and when. Action names are the chat layer's ("deleteMessage",
// "removeMember", "ban", "unban", "deleteChat", "setRole", ...).
type ModEvent struct {
	ID         int64     `json:"id"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	TargetUser string    `json:"targetUser,omitempty"`
	ChatID     string    `json:"chatId,omitempty"`
	MessageID  int64     `json:"messageId,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	At         time.Time `json:"at"`
}

// ModEventQuery selects a page of the moderation log, newest first: the
// events with ID < Before (0: no bound), at most Limit (<= 0 means 50;
// stores cap it at 1000).
type ModEventQuery struct {
	Before int64
	Limit  int
}

// RoomStore is the part of Store that rooms, people and moderation need.
// The general rules of Store apply.
//
// Chats: CreateChat fills a zero Visibility ("public" for group chats,
// "private" for Private ones) and a zero InvitePolicy ("members"); a
// Private chat with Visibility "public", or an unknown value, is EINVALID.
// A public group chat's name must be unique under NameKey: CreateChat and
// UpdateChat answer ECONFLICT when another public group chat holds it.
// Chats of a database from before this rule that share a name keep it (the
// oldest holds the name; the others may keep it and change anything else,
// but cannot take it back after a rename). ListGroupChats lists public group
// chats only. ListUserChats fills LastMessageAt (the time of the chat's
// newest message, zero if none) so that callers can order direct messages
// most recent first; other methods leave it zero.
//
// Users: UpsertUser gives a new user a unique Handle: HandleBase of u.Handle
// (the provider's login, when it has one) or else of u.Name, with the
// smallest number appended that makes it unique; an existing user keeps
// theirs. Users stored by a previous release get one when the store opens.
// Once a user has chosen a display name with SetUserName, UpsertUser no
// longer changes Name. DeleteChat also deletes the chat's invites; the
// moderation log keeps its entries (it is an audit trail).
type RoomStore interface {
	// UpdateChat applies the non-nil fields of u and returns the chat as
	// stored. ENOTFOUND for a missing chat; EINVALID for an empty name,
	// an unknown visibility or policy, or a visibility change of a Private
	// chat; ECONFLICT when the chat would be public under a name another
	// public group chat holds (concurrent renames to one name: one wins).
	UpdateChat(ctx context.Context, id string, u ChatUpdate) (Chat, error)

	// GetMember returns the user's membership of the chat, with its Role.
	// ENOTFOUND for a missing chat or a non-member.
	GetMember(ctx context.Context, chatID, userID string) (Member, error)
	// SetMemberRole changes a member's role. Making a member RoleOwner makes
	// them the chat's Owner and the previous owner (if a member) a
	// moderator, in one step. The owner's own role cannot be lowered
	// (EINVALID: give the chat another owner instead). ENOTFOUND for a
	// missing chat or a non-member; EINVALID for an unknown role.
	SetMemberRole(ctx context.Context, chatID, userID, role string) error

	// GetUserByHandle returns the user with that handle (compared in lower
	// case, a leading "@" ignored), or ENOTFOUND.
	GetUserByHandle(ctx context.Context, handle string) (User, error)
	// SetUserName sets the user's display name, which sign-ins no longer
	// overwrite, and the name shown on their memberships. ENOTFOUND for an
	// unknown user, EINVALID for an empty name.
	SetUserName(ctx context.Context, userID, name string) error
	// SearchUsers returns a page of users ordered by handle, those after
	// q.After that match q.Search, and the cursor of the next page ("" on
	// the last page).
	SearchUsers(ctx context.Context, q UserQuery) (users []User, next string, err error)
	// SetBanned bans or un-bans the user: Banned, BannedBy and BannedAt are
	// set (cleared when banned is false). ENOTFOUND for an unknown user.
	SetBanned(ctx context.Context, userID string, banned bool, by string, at time.Time) error

	// CreateInvite stores a new invite with Uses 0 and not revoked (a zero
	// Created means now). EINVALID for an empty hash or a negative MaxUses;
	// ENOTFOUND for a missing chat; ECONFLICT if the hash exists.
	CreateInvite(ctx context.Context, inv Invite) error
	// ListInvites returns the chat's invites, revoked and expired ones
	// included, ordered by Created then hash. ENOTFOUND for a missing chat.
	ListInvites(ctx context.Context, chatID string) ([]Invite, error)
	// GetInvite returns the invite with that hash, or ENOTFOUND.
	GetInvite(ctx context.Context, tokenHash string) (Invite, error)
	// RevokeInvite revokes the invite for good (again: no error). ENOTFOUND
	// for an unknown hash.
	RevokeInvite(ctx context.Context, tokenHash string) error
	// UseInvite makes m a member (m.Role is ignored: an invite never makes
	// a moderator) of the invite's chat and returns the chat,
	// atomically with the checks and the count: ENOTFOUND for an unknown
	// hash, else ErrInviteRevoked, ErrInviteExpired (Expires <= now) or
	// ErrInviteUsedUp (Uses == MaxUses), in that order of precedence.
	// Otherwise Uses grows by one, unless m is a member already (then
	// nothing changes). Of users racing for the last use, exactly one wins.
	UseInvite(ctx context.Context, tokenHash string, m Member, now time.Time) (Chat, error)

	// AddModEvent appends e to the moderation log (a zero At means now) and
	// returns it with its ID, which grows with every event. EINVALID for an
	// empty Actor or Action.
	AddModEvent(ctx context.Context, e ModEvent) (ModEvent, error)
	// ListModEvents returns a page of the log, newest first.
	ListModEvents(ctx context.Context, q ModEventQuery) ([]ModEvent, error)
}

// CheckChatSettings fills the defaults of a new chat's visibility and
// invite policy and checks them; stores call it in CreateChat.
func CheckChatSettings(c *Chat) error {
	if c.Visibility == "" {
		c.Visibility = VisibilityPublic
		if c.Private {
			c.Visibility = VisibilityPrivate
		}
	}
	if c.InvitePolicy == "" {
		c.InvitePolicy = InviteByMembers
	}
	return checkSettings(*c)
}

// ApplyChatUpdate applies u to c and checks the result; stores call it in
// UpdateChat. It reports whether the name or the visibility changed (the
// two things that decide the chat's hold on its name).
func ApplyChatUpdate(c *Chat, u ChatUpdate) (nameChanged bool, err error) {
	before := *c
	if u.Name != nil {
		c.Name = *u.Name
	}
	if u.Topic != nil {
		c.Topic = *u.Topic
	}
	if u.Visibility != nil {
		if c.Private && *u.Visibility != c.Visibility {
			return false, Errorf(EINVALID, "a direct message cannot change visibility")
		}
		c.Visibility = *u.Visibility
	}
	if u.InvitePolicy != nil {
		c.InvitePolicy = *u.InvitePolicy
	}
	if c.Name == "" {
		return false, Errorf(EINVALID, "chat name must not be empty")
	}
	if err := CheckText(c.Name, c.Topic); err != nil {
		return false, err
	}
	if err := checkSettings(*c); err != nil {
		return false, err
	}
	return c.Name != before.Name || c.Visibility != before.Visibility, nil
}

func checkSettings(c Chat) error {
	switch {
	case c.Visibility != VisibilityPublic && c.Visibility != VisibilityPrivate:
		return Errorf(EINVALID, "visibility must be %q or %q", VisibilityPublic, VisibilityPrivate)
	case c.Private && c.Visibility != VisibilityPrivate:
		return Errorf(EINVALID, "a direct message is private")
	case c.InvitePolicy != InviteByMembers && c.InvitePolicy != InviteByModerators:
		return Errorf(EINVALID, "invite policy must be %q or %q", InviteByMembers, InviteByModerators)
	}
	return nil
}

// InviteUsable applies UseInvite's checks, in their order of precedence,
// to an invite as stored; stores call it inside their atomic step.
func InviteUsable(inv Invite, now time.Time) error {
	switch {
	case inv.Revoked:
		return ErrInviteRevoked
	case !inv.Expires.IsZero() && !now.Before(inv.Expires):
		return ErrInviteExpired
	case inv.MaxUses > 0 && inv.Uses >= inv.MaxUses:
		return ErrInviteUsedUp
	}
	return nil
}

// ValidRole reports whether role is one of the member roles.
func ValidRole(role string) bool {
	return role == RoleOwner || role == RoleModerator || role == RoleMember
}

// NormalHandle is a handle as looked up: lower case, without a leading "@".
func NormalHandle(h string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(h), "@"))
}

// SearchKey is the lower-case form of a display name that SearchUsers
// matches against.
func SearchKey(name string) string { return strings.ToLower(name) }

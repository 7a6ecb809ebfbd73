package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/chatr/chatr"
)

// Invite link bounds.
const (
	DefaultInviteLifetime = 7 * 24 * time.Hour
	MaxInviteLifetime     = 365 * 24 * time.Hour
	MinInviteLifetime     = time.Minute
	MaxInviteUses         = 10000
	// MaxLiveInvites bounds the usable invites of one chat: each is a row
	// a member's client made.
	MaxLiveInvites = 100
	// maxTokenBytes bounds what is hashed of a token a client presents.
	maxTokenBytes = 128
)

// errNoInvite is the answer for an invite token or id that does not exist
// (or belongs to another chat): a forged token learns nothing.
var errNoInvite = chatr.Errorf(chatr.ENOTFOUND, "no such invite")

// InviteOptions are the settings of a new invite link. A zero Lifetime is
// DefaultInviteLifetime; a zero MaxUses is unlimited.
type InviteOptions struct {
	Lifetime time.Duration
	MaxUses  int
}

// HashInviteToken is the form under which an invite token is stored and
// named (the invite's id): its SHA-256, in hex.
func HashInviteToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// allowEvent spends one of the user's state-changing events, as the
// WebSocket events do: the HTTP actions share the budget.
func (a *App) allowEvent(userID string) error {
	if !a.events.Allow(userID, a.now()) {
		return chatr.Errorf(chatr.ELIMIT, "slow down: too many requests")
	}
	return nil
}

// CreateInvite makes an invite link to the chat for the user, who must be
// allowed to invite (as inviteMembers). It returns the secret token, which
// only the caller ever sees, and the invite as stored.
func (a *App) CreateInvite(ctx context.Context, userID, chatID string, o InviteOptions) (string, chatr.Invite, error) {
	if err := a.allowEvent(userID); err != nil {
		return "", chatr.Invite{}, err
	}
	switch {
	case o.Lifetime == 0:
		o.Lifetime = DefaultInviteLifetime
	case o.Lifetime < MinInviteLifetime || o.Lifetime > MaxInviteLifetime:
		return "", chatr.Invite{}, chatr.Errorf(chatr.EINVALID, "an invite lasts from %v to %v", MinInviteLifetime, MaxInviteLifetime)
	}
	if o.MaxUses < 0 || o.MaxUses > MaxInviteUses {
		return "", chatr.Invite{}, chatr.Errorf(chatr.EINVALID, "maxUses must be 0 (unlimited) to %d", MaxInviteUses)
	}
	if _, err := a.roomAccess(ctx, userID, chatID, toInvite); err != nil {
		return "", chatr.Invite{}, err
	}
	now := a.now().UTC()
	all, err := a.store.ListInvites(ctx, chatID)
	if err != nil {
		return "", chatr.Invite{}, err
	}
	live := 0
	for _, inv := range all {
		if chatr.InviteUsable(inv, now) == nil {
			live++
		}
	}
	if live >= MaxLiveInvites {
		return "", chatr.Invite{}, chatr.Errorf(chatr.ELIMIT, "a chat has at most %d usable invites: revoke some", MaxLiveInvites)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", chatr.Invite{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	inv := chatr.Invite{
		TokenHash: HashInviteToken(token), ChatID: chatID, CreatedBy: userID,
		Created: now, Expires: now.Add(o.Lifetime), MaxUses: o.MaxUses,
	}
	if err := a.store.CreateInvite(ctx, inv); err != nil {
		return "", chatr.Invite{}, err
	}
	return token, inv, nil
}

// Invites lists the chat's invites: all of them to the owner, moderators
// and admins; to another member allowed to invite, their own.
func (a *App) Invites(ctx context.Context, userID, chatID string) ([]chatr.Invite, error) {
	x, err := a.access(ctx, userID, chatID)
	if err != nil {
		return nil, err
	}
	if !x.mayInvite() {
		return nil, forbidden(inviters(x.chat))
	}
	all, err := a.store.ListInvites(ctx, chatID)
	if err != nil || x.moderates() {
		return all, err
	}
	own := []chatr.Invite{}
	for _, inv := range all {
		if inv.CreatedBy == userID {
			own = append(own, inv)
		}
	}
	return own, nil
}

// RevokeInvite revokes one of the chat's invites, named by its id (the
// token's hash). The owner, moderators and admins may revoke any; others
// their own.
func (a *App) RevokeInvite(ctx context.Context, userID, chatID, inviteID string) error {
	if err := a.allowEvent(userID); err != nil {
		return err
	}
	x, err := a.access(ctx, userID, chatID)
	if err != nil {
		return err
	}
	inv, err := a.store.GetInvite(ctx, inviteID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND || (err == nil && inv.ChatID != chatID) {
		return errNoInvite
	} else if err != nil {
		return err
	}
	if !x.moderates() && !(x.member() && inv.CreatedBy == userID) {
		return forbidden("the invite's creator, the chat's owner, its moderators and admins")
	}
	if err := a.store.RevokeInvite(ctx, inviteID); err != nil {
		return err
	}
	if inv.CreatedBy != userID {
		a.logMod(ctx, chatr.ModEvent{Actor: userID, Action: "revokeInvite", TargetUser: inv.CreatedBy, ChatID: chatID})
	}
	return nil
}

// UseInvite makes the user a member of the invite's chat and returns the
// chat as the user now sees it. An unknown token is errNoInvite; one that
// expired, was used up or revoked a chatr.EGONE error saying which. The
// chat's members hear memberJoined and the user's connections addedToChat.
func (a *App) UseInvite(ctx context.Context, userID, token string) (ChatView, error) {
	if err := a.allowEvent(userID); err != nil {
		return ChatView{}, err
	}
	if token == "" || len(token) > maxTokenBytes {
		return ChatView{}, errNoInvite
	}
	u, err := a.store.GetUser(ctx, userID)
	if err != nil {
		return ChatView{}, err
	}
	hash := HashInviteToken(token)
	inv, err := a.store.GetInvite(ctx, hash)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return ChatView{}, errNoInvite
	} else if err != nil {
		return ChatView{}, err
	}
	member, err := a.store.IsMember(ctx, inv.ChatID, userID)
	if err != nil {
		return ChatView{}, err
	}
	c, err := a.store.UseInvite(ctx, hash, chatr.Member{UserID: u.ID, UserName: u.Name, Role: chatr.RoleMember, Joined: a.now().UTC()}, a.now())
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return ChatView{}, errNoInvite
	} else if err != nil {
		return ChatView{}, err
	}
	if !member {
		if err := a.announceJoined(ctx, c, u); err != nil {
			return ChatView{}, err
		}
	}
	return a.View(ctx, c, userID)
}

// Chat returns the chat as the user sees it: errNoSuchChat for a chat that
// does not exist or that the user may not see.
func (a *App) Chat(ctx context.Context, userID, chatID string) (ChatView, error) {
	x, err := a.access(ctx, userID, chatID)
	if err != nil {
		return ChatView{}, err
	}
	return a.View(ctx, x.chat, userID)
}

// MemberInfo is one member of a chat with the user's presence, as
// GET /api/chats/{id}/members lists them.
type MemberInfo struct {
	UserID   string    `json:"userId"`
	UserName string    `json:"userName"`
	Handle   string    `json:"handle,omitempty"`
	Role     string    `json:"role"`
	Online   bool      `json:"online"`
	Idle     bool      `json:"idle"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// Members lists the chat's members, in join order, with their presence;
// errNoSuchChat as for Chat.
func (a *App) Members(ctx context.Context, userID, chatID string) ([]MemberInfo, error) {
	x, err := a.access(ctx, userID, chatID)
	if err != nil {
		return nil, err
	}
	ms, err := a.store.ListMembers(ctx, chatID)
	if err != nil {
		return nil, err
	}
	ids, err := a.presence.Online(ctx)
	if err != nil {
		return nil, err
	}
	online := make(map[string]bool, len(ids))
	for _, id := range ids {
		online[id] = true
	}
	out := make([]MemberInfo, 0, len(ms))
	for _, m := range ms {
		info := MemberInfo{UserID: m.UserID, UserName: m.UserName, Role: memberRole(x.chat, m), Online: online[m.UserID]}
		u, err := a.store.GetUser(ctx, m.UserID)
		switch {
		case err == nil:
			info.Handle, info.Idle, info.LastSeen = u.Handle, u.Idle && info.Online, u.LastSeen
		case chatr.ErrorCode(err) != chatr.ENOTFOUND:
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

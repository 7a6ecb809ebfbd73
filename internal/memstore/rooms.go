package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/chatr/chatr"
)

// rooms is the state of the RoomStore methods, beside the maps of memstore.go.
type rooms struct {
	handles    map[string]string // handle -> user id
	nameKeys   map[string]string // NameKey of a public chat's name -> chat id
	nameChosen map[string]bool   // users who set their display name
	invites    map[string]chatr.Invite
	modLog     []chatr.ModEvent
}

func newRooms() rooms {
	return rooms{handles: map[string]string{}, nameKeys: map[string]string{}, nameChosen: map[string]bool{}, invites: map[string]chatr.Invite{}}
}

// assignHandle gives a new user the first free handle (callers hold mu).
func (s *Store) assignHandle(u *chatr.User) {
	base := u.Handle
	if base == "" {
		base = u.Name
	}
	base = chatr.HandleBase(base)
	for n := 1; ; n++ {
		h := chatr.HandleCandidate(base, n)
		if _, taken := s.r.handles[h]; !taken {
			u.Handle = h
			s.r.handles[h] = u.ID
			return
		}
	}
}

// claimName makes c hold its name if it is a public group chat (callers hold mu).
func (s *Store) claimName(c chatr.Chat) error {
	if !c.IsPublic() {
		return nil
	}
	k := chatr.NameKey(c.Name)
	if holder, taken := s.r.nameKeys[k]; taken && holder != c.ID {
		return chatr.ErrChatNameTaken
	}
	s.r.nameKeys[k] = c.ID
	return nil
}

func (s *Store) releaseName(c chatr.Chat) {
	if k := chatr.NameKey(c.Name); s.r.nameKeys[k] == c.ID {
		delete(s.r.nameKeys, k)
	}
}

func (s *Store) UpdateChat(_ context.Context, id string, u chatr.ChatUpdate) (chatr.Chat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	if !ok {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	old := c
	changed, err := chatr.ApplyChatUpdate(&c, u)
	if err != nil {
		return chatr.Chat{}, err
	}
	if changed {
		s.releaseName(old)
		if err := s.claimName(c); err != nil {
			s.claimName(old)
			return chatr.Chat{}, err
		}
	}
	s.chats[id] = c
	return c, nil
}

func (s *Store) GetMember(_ context.Context, chatID, userID string) (chatr.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[chatID][userID]
	if !ok {
		return chatr.Member{}, chatr.Errorf(chatr.ENOTFOUND, "no such member")
	}
	return m, nil
}

func (s *Store) SetMemberRole(_ context.Context, chatID, userID, role string) error {
	if !chatr.ValidRole(role) {
		return chatr.Errorf(chatr.EINVALID, "unknown role %q", role)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[chatID][userID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such member")
	}
	c := s.chats[chatID]
	switch {
	case c.Owner == userID && role != chatr.RoleOwner:
		return chatr.Errorf(chatr.EINVALID, "the owner's role changes only with a new owner")
	case role == chatr.RoleOwner && c.Owner != userID:
		if prev, ok := s.members[chatID][c.Owner]; ok {
			prev.Role = chatr.RoleModerator
			s.members[chatID][c.Owner] = prev
		}
		c.Owner = userID
		s.chats[chatID] = c
	}
	m.Role = role
	s.members[chatID][userID] = m
	return nil
}

func (s *Store) GetUserByHandle(_ context.Context, handle string) (chatr.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.r.handles[chatr.NormalHandle(handle)]
	if !ok {
		return chatr.User{}, chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	return s.users[id], nil
}

func (s *Store) SetUserName(_ context.Context, userID, name string) error {
	if name == "" {
		return chatr.Errorf(chatr.EINVALID, "name must not be empty")
	}
	if err := badText(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	u.Name = name
	s.users[userID] = u
	s.r.nameChosen[userID] = true
	for _, ms := range s.members {
		if m, ok := ms[userID]; ok {
			m.UserName = name
			ms[userID] = m
		}
	}
	return nil
}

func (s *Store) SearchUsers(_ context.Context, q chatr.UserQuery) ([]chatr.User, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	needle := chatr.NormalHandle(q.Search)
	s.mu.Lock()
	defer s.mu.Unlock()
	var l []chatr.User
	for _, u := range s.users {
		if u.Handle > q.After && (strings.Contains(chatr.SearchKey(u.Name), needle) || strings.Contains(u.Handle, needle)) {
			l = append(l, u)
		}
	}
	slices.SortFunc(l, func(a, b chatr.User) int { return strings.Compare(a.Handle, b.Handle) })
	if len(l) <= limit {
		return append([]chatr.User{}, l...), "", nil
	}
	return l[:limit], l[limit-1].Handle, nil
}

func (s *Store) SetBanned(_ context.Context, userID string, banned bool, by string, at time.Time) error {
	if err := badText(by); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	u.Banned, u.BannedBy, u.BannedAt = banned, by, now(at)
	if !banned {
		u.BannedBy, u.BannedAt = "", time.Time{}
	}
	s.users[userID] = u
	return nil
}

func (s *Store) CreateInvite(_ context.Context, inv chatr.Invite) error {
	if inv.TokenHash == "" || inv.MaxUses < 0 {
		return chatr.Errorf(chatr.EINVALID, "invite needs a token hash and MaxUses >= 0")
	}
	if err := badText(inv.TokenHash, inv.ChatID, inv.CreatedBy); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[inv.ChatID]; !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	if _, ok := s.r.invites[inv.TokenHash]; ok {
		return chatr.Errorf(chatr.ECONFLICT, "invite exists")
	}
	inv.Created, inv.Uses, inv.Revoked = now(inv.Created), 0, false
	if !inv.Expires.IsZero() {
		inv.Expires = inv.Expires.UTC()
	}
	s.r.invites[inv.TokenHash] = inv
	return nil
}

func (s *Store) ListInvites(_ context.Context, chatID string) ([]chatr.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[chatID]; !ok {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	l := []chatr.Invite{}
	for _, inv := range s.r.invites {
		if inv.ChatID == chatID {
			l = append(l, inv)
		}
	}
	slices.SortFunc(l, func(a, b chatr.Invite) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.TokenHash, b.TokenHash)
	})
	return l, nil
}

func (s *Store) GetInvite(_ context.Context, tokenHash string) (chatr.Invite, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.r.invites[tokenHash]
	if !ok {
		return chatr.Invite{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	return inv, nil
}

func (s *Store) RevokeInvite(_ context.Context, tokenHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.r.invites[tokenHash]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	inv.Revoked = true
	s.r.invites[tokenHash] = inv
	return nil
}

func (s *Store) UseInvite(_ context.Context, tokenHash string, m chatr.Member, at time.Time) (chatr.Chat, error) {
	if m.UserID == "" {
		return chatr.Chat{}, chatr.Errorf(chatr.EINVALID, "member user id is empty")
	}
	if err := badText(m.UserID, m.UserName); err != nil {
		return chatr.Chat{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.r.invites[tokenHash]
	if !ok {
		return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	if err := chatr.InviteUsable(inv, at); err != nil {
		return chatr.Chat{}, err
	}
	c := s.chats[inv.ChatID]
	if _, member := s.members[inv.ChatID][m.UserID]; member {
		return c, nil
	}
	inv.Uses++
	s.r.invites[tokenHash] = inv
	m.Joined, m.Role = now(m.Joined), ""
	m.Role = memberRole(c, m) // an invite makes members, never moderators
	s.members[inv.ChatID][m.UserID] = m
	return c, nil
}

// memberRole is the role AddMember stores for m: only the chat's Owner is
// an owner, whatever m says.
func memberRole(c chatr.Chat, m chatr.Member) string {
	switch {
	case m.UserID == c.Owner:
		return chatr.RoleOwner
	case m.Role == chatr.RoleModerator:
		return m.Role
	default:
		return chatr.RoleMember
	}
}

func (s *Store) AddModEvent(_ context.Context, e chatr.ModEvent) (chatr.ModEvent, error) {
	if e.Actor == "" || e.Action == "" {
		return chatr.ModEvent{}, chatr.Errorf(chatr.EINVALID, "a moderation event needs an actor and an action")
	}
	if err := badText(e.Actor, e.Action, e.TargetUser, e.ChatID, e.Detail); err != nil {
		return chatr.ModEvent{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.ID, e.At = int64(len(s.r.modLog)+1), now(e.At)
	s.r.modLog = append(s.r.modLog, e)
	return e, nil
}

func (s *Store) ListModEvents(_ context.Context, q chatr.ModEventQuery) ([]chatr.ModEvent, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := []chatr.ModEvent{}
	for i := len(s.r.modLog) - 1; i >= 0 && len(l) < limit; i-- {
		if e := s.r.modLog[i]; q.Before <= 0 || e.ID < q.Before {
			l = append(l, e)
		}
	}
	return l, nil
}

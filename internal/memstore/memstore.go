// Package memstore is an in-memory chatr.Store for fuzz targets and unit
// tests that must run thousands of requests a second without a disk. It
// keeps the contract's error codes and text rules (EINVALID for NUL or
// invalid UTF-8 on writes, ENOTFOUND on lookups of such keys) but makes
// nothing durable; it is not a storage backend.
package memstore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chatr/chatr"
)

// Store is the in-memory store. The zero value is not usable: call New.
type Store struct {
	mu       sync.Mutex
	users    map[string]chatr.User
	sessions map[string]chatr.Session
	chats    map[string]chatr.Chat
	members  map[string]map[string]chatr.Member
	messages map[string][]chatr.Message
	read     map[[2]string]int64
	keys     map[[2]string]chatr.Message // (sender, ClientID) -> first stored message
	r        rooms
	react    map[string]map[int64][]chatr.ReactionRow // chat -> message -> reactions in order
}

var _ chatr.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{users: map[string]chatr.User{}, sessions: map[string]chatr.Session{}, chats: map[string]chatr.Chat{},
		members: map[string]map[string]chatr.Member{}, messages: map[string][]chatr.Message{}, read: map[[2]string]int64{},
		keys: map[[2]string]chatr.Message{}, r: newRooms(), react: map[string]map[int64][]chatr.ReactionRow{}}
}

func badText(ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return chatr.Errorf(chatr.EINVALID, "text must be valid UTF-8 without NUL")
		}
	}
	return nil
}

func now(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

func (s *Store) UpsertUser(_ context.Context, u chatr.User) error {
	if u.ID == "" {
		return chatr.Errorf(chatr.EINVALID, "user id is required")
	}
	if err := badText(u.ID, u.Name, u.Provider); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.users[u.ID]; ok {
		if !s.r.nameChosen[u.ID] {
			old.Name = u.Name
		}
		old.Provider = u.Provider
		s.users[u.ID] = old
		return nil
	}
	u.Created, u.LastSeen = now(u.Created), u.LastSeen.UTC()
	u.Banned, u.BannedBy, u.BannedAt = false, "", time.Time{}
	s.assignHandle(&u)
	s.users[u.ID] = u
	return nil
}

func (s *Store) GetUser(_ context.Context, id string) (chatr.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return u, chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	return u, nil
}

func (s *Store) ListUsers(context.Context) ([]chatr.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l []chatr.User
	for _, u := range s.users {
		l = append(l, u)
	}
	slices.SortFunc(l, func(a, b chatr.User) int { return strings.Compare(a.ID, b.ID) })
	return l, nil
}

func (s *Store) SetIdle(_ context.Context, userID string, idle bool, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	u.Idle, u.LastSeen = idle, now(at)
	s.users[userID] = u
	return nil
}

func (s *Store) RevokeTokens(_ context.Context, userID string, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such user")
	}
	if before = before.UTC(); before.After(u.TokensRevoked) {
		u.TokensRevoked = before
		s.users[userID] = u
	}
	return nil
}

func (s *Store) CreateSession(_ context.Context, sess chatr.Session) error {
	if err := badText(sess.TokenHash, sess.UserID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[sess.TokenHash]; ok {
		return chatr.Errorf(chatr.ECONFLICT, "session exists")
	}
	sess.Created, sess.Expires = now(sess.Created), sess.Expires.UTC()
	s.sessions[sess.TokenHash] = sess
	return nil
}

func (s *Store) GetSession(_ context.Context, hash string, at time.Time) (chatr.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[hash]
	if !ok || !sess.Expires.After(at) {
		return chatr.Session{}, chatr.Errorf(chatr.ENOTFOUND, "no such session")
	}
	return sess, nil
}

func (s *Store) ExtendSession(_ context.Context, hash string, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[hash]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such session")
	}
	sess.Expires = expires.UTC()
	s.sessions[hash] = sess
	return nil
}

func (s *Store) DeleteSession(_ context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, hash)
	return nil
}

func (s *Store) DeleteUserSessions(_ context.Context, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, sess := range s.sessions {
		if sess.UserID == userID {
			delete(s.sessions, h)
		}
	}
	return nil
}

func (s *Store) DeleteExpiredSessions(_ context.Context, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, sess := range s.sessions {
		if !sess.Expires.After(at) {
			delete(s.sessions, h)
			n++
		}
	}
	return n, nil
}

func (s *Store) CreateChat(_ context.Context, c chatr.Chat) error {
	if c.ID == "" || c.Name == "" {
		return chatr.Errorf(chatr.EINVALID, "chat id and name are required")
	}
	if err := badText(c.ID, c.Name, c.Owner, c.Topic); err != nil {
		return err
	}
	if err := chatr.CheckChatSettings(&c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[c.ID]; ok {
		return chatr.Errorf(chatr.ECONFLICT, "chat exists")
	}
	if err := s.claimName(c); err != nil {
		return err
	}
	c.Created, c.LastMessageAt = now(c.Created), time.Time{}
	s.chats[c.ID] = c
	s.members[c.ID] = map[string]chatr.Member{}
	return nil
}

func (s *Store) GetChat(_ context.Context, id string) (chatr.Chat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	if !ok {
		return c, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	return c, nil
}

func (s *Store) sortedChats(keep func(chatr.Chat) bool) []chatr.Chat {
	var l []chatr.Chat
	for _, c := range s.chats {
		if keep(c) {
			l = append(l, c)
		}
	}
	slices.SortFunc(l, func(a, b chatr.Chat) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return l
}

func (s *Store) ListGroupChats(context.Context) ([]chatr.Chat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedChats(func(c chatr.Chat) bool { return c.IsPublic() }), nil
}

func (s *Store) ListUserChats(_ context.Context, userID string) ([]chatr.Chat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.sortedChats(func(c chatr.Chat) bool { _, ok := s.members[c.ID][userID]; return ok })
	for i, c := range l {
		if ms := s.messages[c.ID]; len(ms) > 0 {
			l[i].LastMessageAt = ms[len(ms)-1].Time
		}
	}
	return l, nil
}

func (s *Store) DeleteChat(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	s.releaseName(c)
	s.deleteOutgoing(id)
	for h, inv := range s.r.invites {
		if inv.ChatID == id {
			delete(s.r.invites, h)
		}
	}
	delete(s.chats, id)
	delete(s.members, id)
	delete(s.messages, id)
	delete(s.react, id)
	for k, m := range s.keys {
		if m.ChatID == id {
			delete(s.keys, k)
		}
	}
	for k := range s.read {
		if k[1] == id {
			delete(s.read, k)
		}
	}
	return nil
}

func (s *Store) AddMember(_ context.Context, chatID string, m chatr.Member) error {
	if err := badText(m.UserID, m.UserName); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, ok := s.members[chatID]
	if !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	if m.Role != "" && !chatr.ValidRole(m.Role) {
		return chatr.Errorf(chatr.EINVALID, "unknown role %q", m.Role)
	}
	if _, ok := ms[m.UserID]; !ok {
		m.Joined = now(m.Joined)
		m.Role = memberRole(s.chats[chatID], m)
		ms[m.UserID] = m
	}
	return nil
}

func (s *Store) RemoveMember(_ context.Context, chatID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members[chatID], userID)
	return nil
}

func (s *Store) ListMembers(_ context.Context, chatID string) ([]chatr.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, ok := s.members[chatID]
	if !ok {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	var l []chatr.Member
	for _, m := range ms {
		l = append(l, m)
	}
	slices.SortFunc(l, func(a, b chatr.Member) int {
		if c := a.Joined.Compare(b.Joined); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	return l, nil
}

func (s *Store) IsMember(_ context.Context, chatID, userID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.members[chatID][userID]
	return ok, nil
}

func (s *Store) AddMessage(ctx context.Context, m chatr.Message) (chatr.Message, error) {
	if err := ctx.Err(); err != nil {
		return chatr.Message{}, err
	}
	if err := badText(m.FromUserID, m.FromUserName, m.Text, m.ClientID); err != nil {
		return chatr.Message{}, err
	}
	if len(m.ClientID) > chatr.MaxClientID {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "client message id is too long")
	}
	if err := chatr.CheckMessageExtras(m); err != nil {
		return chatr.Message{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[m.ChatID]; !ok {
		return chatr.Message{}, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	key := [2]string{m.FromUserID, m.ClientID}
	if m.ClientID != "" {
		if first, ok := s.keys[key]; ok {
			first = s.withReactions(s.messages[first.ChatID][first.ID-1])
			first.Duplicate = true
			return first, nil
		}
	}
	if m.ReplyTo > int64(len(s.messages[m.ChatID])) {
		return chatr.Message{}, chatr.Errorf(chatr.EINVALID, "no message %d to reply to", m.ReplyTo)
	}
	fileIDs, err := s.claimFiles(m)
	if err != nil {
		return chatr.Message{}, err
	}
	m.Files = nil
	m.Mentions = chatr.NormalMentions(m.Mentions)
	m.Edited, m.Deleted, m.DeletedAt, m.Reactions = time.Time{}, false, time.Time{}, nil
	m.ID = int64(len(s.messages[m.ChatID]) + 1)
	m.Time = now(m.Time)
	m.Duplicate = false
	s.messages[m.ChatID] = append(s.messages[m.ChatID], m)
	if m.ClientID != "" {
		s.keys[key] = m
	}
	s.linkFiles(m, fileIDs)
	return m, nil
}

func (s *Store) ListMessages(_ context.Context, chatID string, q chatr.MessageQuery) ([]chatr.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[chatID]; !ok {
		return nil, chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	if q.Around > 0 {
		return chatr.ListAround(q, func(q chatr.MessageQuery) ([]chatr.Message, error) { return s.listMessages(chatID, q), nil })
	}
	return s.listMessages(chatID, q), nil
}

func (s *Store) listMessages(chatID string, q chatr.MessageQuery) []chatr.Message {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	var l []chatr.Message
	for _, m := range s.messages[chatID] {
		if m.ID > q.After && (q.Before == 0 || m.ID < q.Before) {
			l = append(l, m)
		}
	}
	if len(l) > q.Limit {
		if q.After != 0 && q.Before == 0 {
			l = l[:q.Limit]
		} else {
			l = l[len(l)-q.Limit:]
		}
	}
	l = slices.Clone(l)
	for i := range l {
		l[i] = s.withReactions(l[i])
	}
	return l
}

func (s *Store) MarkRead(_ context.Context, userID, chatID string, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[chatID]; !ok {
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat")
	}
	k := [2]string{userID, chatID}
	if id > s.read[k] {
		s.read[k] = id
	}
	return nil
}

func (s *Store) UnreadCounts(_ context.Context, userID string) (map[string]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for chatID, ms := range s.members {
		if _, ok := ms[userID]; !ok {
			continue
		}
		for _, m := range s.messages[chatID] {
			if m.ID > s.read[[2]string{userID, chatID}] && m.FromUserID != userID && !m.Deleted {
				out[chatID]++
			}
		}
	}
	return out, nil
}

func (s *Store) Ping(context.Context) error { return nil }
func (s *Store) Close() error               { return nil }

func (s *Store) GetUsers(ctx context.Context, ids []string) ([]chatr.User, error) {
	if len(ids) > chatr.MaxLookupIDs {
		return nil, chatr.Errorf(chatr.EINVALID, "GetUsers takes at most %d ids", chatr.MaxLookupIDs)
	}
	l := []chatr.User{}
	for _, id := range ids {
		if u, err := s.GetUser(ctx, id); err == nil {
			l = append(l, u)
		}
	}
	return l, nil
}

func (s *Store) ListMembersOf(ctx context.Context, chatIDs []string) (map[string][]chatr.Member, error) {
	if len(chatIDs) > chatr.MaxLookupIDs {
		return nil, chatr.Errorf(chatr.EINVALID, "ListMembersOf takes at most %d ids", chatr.MaxLookupIDs)
	}
	out := map[string][]chatr.Member{}
	for _, id := range chatIDs {
		if ms, err := s.ListMembers(ctx, id); err == nil && len(ms) > 0 {
			out[id] = ms
		}
	}
	return out, nil
}

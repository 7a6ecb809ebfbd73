package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

// Store wraps s so that every operation's latency is recorded under its name.
func (m *Metrics) Store(s chatr.Store) chatr.Store { return &store{s: s, m: m} }

type store struct {
	s chatr.Store
	m *Metrics
}

var _ chatr.Store = (*store)(nil)

// observe records an operation that began at start and ended with err.
func (st *store) observe(op string, start time.Time, err error) {
	st.m.storage.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if chatr.ErrorCode(err) == chatr.EINTERNAL {
		st.m.errors.WithLabelValues(op).Inc()
	}
}

func (st *store) UpsertUser(ctx context.Context, u chatr.User) (err error) {
	defer func(t time.Time) { st.observe("UpsertUser", t, err) }(time.Now())
	return st.s.UpsertUser(ctx, u)
}

func (st *store) GetUser(ctx context.Context, id string) (u chatr.User, err error) {
	defer func(t time.Time) { st.observe("GetUser", t, err) }(time.Now())
	return st.s.GetUser(ctx, id)
}

func (st *store) GetUsers(ctx context.Context, ids []string) (us []chatr.User, err error) {
	defer func(t time.Time) { st.observe("GetUsers", t, err) }(time.Now())
	return st.s.GetUsers(ctx, ids)
}

func (st *store) ListUsers(ctx context.Context) (us []chatr.User, err error) {
	defer func(t time.Time) { st.observe("ListUsers", t, err) }(time.Now())
	return st.s.ListUsers(ctx)
}

func (st *store) SetIdle(ctx context.Context, userID string, idle bool, at time.Time) (err error) {
	defer func(t time.Time) { st.observe("SetIdle", t, err) }(time.Now())
	return st.s.SetIdle(ctx, userID, idle, at)
}

func (st *store) RevokeTokens(ctx context.Context, userID string, before time.Time) (err error) {
	defer func(t time.Time) { st.observe("RevokeTokens", t, err) }(time.Now())
	return st.s.RevokeTokens(ctx, userID, before)
}

func (st *store) CreateSession(ctx context.Context, s chatr.Session) (err error) {
	defer func(t time.Time) { st.observe("CreateSession", t, err) }(time.Now())
	return st.s.CreateSession(ctx, s)
}

func (st *store) GetSession(ctx context.Context, h string, now time.Time) (s chatr.Session, err error) {
	defer func(t time.Time) { st.observe("GetSession", t, err) }(time.Now())
	return st.s.GetSession(ctx, h, now)
}

func (st *store) ExtendSession(ctx context.Context, h string, expires time.Time) (err error) {
	defer func(t time.Time) { st.observe("ExtendSession", t, err) }(time.Now())
	return st.s.ExtendSession(ctx, h, expires)
}

func (st *store) DeleteSession(ctx context.Context, h string) (err error) {
	defer func(t time.Time) { st.observe("DeleteSession", t, err) }(time.Now())
	return st.s.DeleteSession(ctx, h)
}

func (st *store) DeleteUserSessions(ctx context.Context, userID string) (err error) {
	defer func(t time.Time) { st.observe("DeleteUserSessions", t, err) }(time.Now())
	return st.s.DeleteUserSessions(ctx, userID)
}

func (st *store) DeleteExpiredSessions(ctx context.Context, now time.Time) (n int, err error) {
	defer func(t time.Time) { st.observe("DeleteExpiredSessions", t, err) }(time.Now())
	return st.s.DeleteExpiredSessions(ctx, now)
}

func (st *store) CreateChat(ctx context.Context, c chatr.Chat) (err error) {
	defer func(t time.Time) { st.observe("CreateChat", t, err) }(time.Now())
	return st.s.CreateChat(ctx, c)
}

func (st *store) GetChat(ctx context.Context, id string) (c chatr.Chat, err error) {
	defer func(t time.Time) { st.observe("GetChat", t, err) }(time.Now())
	return st.s.GetChat(ctx, id)
}

func (st *store) ListGroupChats(ctx context.Context) (cs []chatr.Chat, err error) {
	defer func(t time.Time) { st.observe("ListGroupChats", t, err) }(time.Now())
	return st.s.ListGroupChats(ctx)
}

func (st *store) ListUserChats(ctx context.Context, userID string) (cs []chatr.Chat, err error) {
	defer func(t time.Time) { st.observe("ListUserChats", t, err) }(time.Now())
	return st.s.ListUserChats(ctx, userID)
}

func (st *store) DeleteChat(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { st.observe("DeleteChat", t, err) }(time.Now())
	return st.s.DeleteChat(ctx, id)
}

func (st *store) AddMember(ctx context.Context, chatID string, mem chatr.Member) (err error) {
	defer func(t time.Time) { st.observe("AddMember", t, err) }(time.Now())
	return st.s.AddMember(ctx, chatID, mem)
}

func (st *store) RemoveMember(ctx context.Context, chatID, userID string) (err error) {
	defer func(t time.Time) { st.observe("RemoveMember", t, err) }(time.Now())
	return st.s.RemoveMember(ctx, chatID, userID)
}

func (st *store) ListMembers(ctx context.Context, chatID string) (ms []chatr.Member, err error) {
	defer func(t time.Time) { st.observe("ListMembers", t, err) }(time.Now())
	return st.s.ListMembers(ctx, chatID)
}

func (st *store) ListMembersOf(ctx context.Context, chatIDs []string) (ms map[string][]chatr.Member, err error) {
	defer func(t time.Time) { st.observe("ListMembersOf", t, err) }(time.Now())
	return st.s.ListMembersOf(ctx, chatIDs)
}

func (st *store) IsMember(ctx context.Context, chatID, userID string) (ok bool, err error) {
	defer func(t time.Time) { st.observe("IsMember", t, err) }(time.Now())
	return st.s.IsMember(ctx, chatID, userID)
}

func (st *store) AddMessage(ctx context.Context, msg chatr.Message) (out chatr.Message, err error) {
	defer func(t time.Time) { st.observe("AddMessage", t, err) }(time.Now())
	return st.s.AddMessage(ctx, msg)
}

func (st *store) ListMessages(ctx context.Context, chatID string, q chatr.MessageQuery) (ms []chatr.Message, err error) {
	defer func(t time.Time) { st.observe("ListMessages", t, err) }(time.Now())
	return st.s.ListMessages(ctx, chatID, q)
}

func (st *store) MarkRead(ctx context.Context, userID, chatID string, messageID int64) (err error) {
	defer func(t time.Time) { st.observe("MarkRead", t, err) }(time.Now())
	return st.s.MarkRead(ctx, userID, chatID, messageID)
}

func (st *store) UnreadCounts(ctx context.Context, userID string) (c map[string]int, err error) {
	defer func(t time.Time) { st.observe("UnreadCounts", t, err) }(time.Now())
	return st.s.UnreadCounts(ctx, userID)
}

func (st *store) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { st.observe("Ping", t, err) }(time.Now())
	return st.s.Ping(ctx)
}

func (st *store) Close() error { return st.s.Close() }

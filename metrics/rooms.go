package metrics

import (
	"context"
	"time"

	"github.com/chatr/chatr"
)

// The RoomStore methods, observed like the others.

func (st *store) UpdateChat(ctx context.Context, id string, u chatr.ChatUpdate) (c chatr.Chat, err error) {
	defer func(t time.Time) { st.observe("UpdateChat", t, err) }(time.Now())
	return st.s.UpdateChat(ctx, id, u)
}

func (st *store) GetMember(ctx context.Context, chatID, userID string) (m chatr.Member, err error) {
	defer func(t time.Time) { st.observe("GetMember", t, err) }(time.Now())
	return st.s.GetMember(ctx, chatID, userID)
}

func (st *store) SetMemberRole(ctx context.Context, chatID, userID, role string) (err error) {
	defer func(t time.Time) { st.observe("SetMemberRole", t, err) }(time.Now())
	return st.s.SetMemberRole(ctx, chatID, userID, role)
}

func (st *store) GetUserByHandle(ctx context.Context, handle string) (u chatr.User, err error) {
	defer func(t time.Time) { st.observe("GetUserByHandle", t, err) }(time.Now())
	return st.s.GetUserByHandle(ctx, handle)
}

func (st *store) SetUserName(ctx context.Context, userID, name string) (err error) {
	defer func(t time.Time) { st.observe("SetUserName", t, err) }(time.Now())
	return st.s.SetUserName(ctx, userID, name)
}

func (st *store) SearchUsers(ctx context.Context, q chatr.UserQuery) (us []chatr.User, next string, err error) {
	defer func(t time.Time) { st.observe("SearchUsers", t, err) }(time.Now())
	return st.s.SearchUsers(ctx, q)
}

func (st *store) SetBanned(ctx context.Context, userID string, banned bool, by string, at time.Time) (err error) {
	defer func(t time.Time) { st.observe("SetBanned", t, err) }(time.Now())
	return st.s.SetBanned(ctx, userID, banned, by, at)
}

func (st *store) CreateInvite(ctx context.Context, inv chatr.Invite) (err error) {
	defer func(t time.Time) { st.observe("CreateInvite", t, err) }(time.Now())
	return st.s.CreateInvite(ctx, inv)
}

func (st *store) ListInvites(ctx context.Context, chatID string) (l []chatr.Invite, err error) {
	defer func(t time.Time) { st.observe("ListInvites", t, err) }(time.Now())
	return st.s.ListInvites(ctx, chatID)
}

func (st *store) GetInvite(ctx context.Context, tokenHash string) (inv chatr.Invite, err error) {
	defer func(t time.Time) { st.observe("GetInvite", t, err) }(time.Now())
	return st.s.GetInvite(ctx, tokenHash)
}

func (st *store) RevokeInvite(ctx context.Context, tokenHash string) (err error) {
	defer func(t time.Time) { st.observe("RevokeInvite", t, err) }(time.Now())
	return st.s.RevokeInvite(ctx, tokenHash)
}

func (st *store) UseInvite(ctx context.Context, tokenHash string, m chatr.Member, now time.Time) (c chatr.Chat, err error) {
	defer func(t time.Time) { st.observe("UseInvite", t, err) }(time.Now())
	return st.s.UseInvite(ctx, tokenHash, m, now)
}

func (st *store) AddModEvent(ctx context.Context, e chatr.ModEvent) (out chatr.ModEvent, err error) {
	defer func(t time.Time) { st.observe("AddModEvent", t, err) }(time.Now())
	return st.s.AddModEvent(ctx, e)
}

func (st *store) ListModEvents(ctx context.Context, q chatr.ModEventQuery) (l []chatr.ModEvent, err error) {
	defer func(t time.Time) { st.observe("ListModEvents", t, err) }(time.Now())
	return st.s.ListModEvents(ctx, q)
}

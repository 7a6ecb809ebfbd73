package storetest

// The invites and moderation-log part of the Rooms group.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatr/chatr"
)

func invite(hash, chatID string, created time.Time) chatr.Invite {
	return chatr.Invite{TokenHash: hash, ChatID: chatID, CreatedBy: "guest:owner", Created: created}
}

func testInvites(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	mustChat(t, s, group("h", at(0)))
	b := invite("hash-b", "g", at(time.Minute))
	b.Expires, b.MaxUses = at(time.Hour), 5
	a := invite("hash-a", "g", at(time.Minute))
	c := invite("hash-c", "g", at(0))
	for _, inv := range []chatr.Invite{b, a, c, invite("hash-h", "h", at(0))} {
		ok(t, "CreateInvite "+inv.TokenHash, s.CreateInvite(ctx, inv))
	}
	l, err := s.ListInvites(ctx, "g")
	ok(t, "ListInvites", err)
	exact(t, "ListInvites", l, []chatr.Invite{c, a, b})
	got, err := s.GetInvite(ctx, "hash-b")
	ok(t, "GetInvite", err)
	exact(t, "GetInvite", got, b)

	code(t, "CreateInvite twice", s.CreateInvite(ctx, invite("hash-a", "h", at(0))), chatr.ECONFLICT)
	code(t, "CreateInvite to a missing chat", s.CreateInvite(ctx, invite("hash-x", "missing", at(0))), chatr.ENOTFOUND)
	code(t, "CreateInvite without hash", s.CreateInvite(ctx, invite("", "g", at(0))), chatr.EINVALID)
	neg := invite("hash-n", "g", at(0))
	neg.MaxUses = -1
	code(t, "CreateInvite with negative uses", s.CreateInvite(ctx, neg), chatr.EINVALID)
	_, err = s.ListInvites(ctx, "missing")
	code(t, "ListInvites of a missing chat", err, chatr.ENOTFOUND)
	_, err = s.GetInvite(ctx, "hash-x")
	code(t, "GetInvite of a missing hash", err, chatr.ENOTFOUND)

	ok(t, "RevokeInvite", s.RevokeInvite(ctx, "hash-a"))
	ok(t, "RevokeInvite again", s.RevokeInvite(ctx, "hash-a"))
	code(t, "RevokeInvite of a missing hash", s.RevokeInvite(ctx, "hash-x"), chatr.ENOTFOUND)
	got, err = s.GetInvite(ctx, "hash-a")
	ok(t, "GetInvite", err)
	a.Revoked = true
	exact(t, "revoked invite", got, a)
}

func testUseInvite(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	g := group("g", at(0))
	mustChat(t, s, g)
	inv := invite("h", "g", at(0))
	inv.Expires, inv.MaxUses = at(time.Hour), 2
	ok(t, "CreateInvite", s.CreateInvite(ctx, inv))

	c, err := s.UseInvite(ctx, "h", member("guest:a", at(time.Minute)), at(time.Minute))
	ok(t, "UseInvite", err)
	same(t, "the invite's chat", c.ID+" "+c.Name, g.ID+" "+g.Name)
	m, err := s.GetMember(ctx, "g", "guest:a")
	ok(t, "GetMember", err)
	want := member("guest:a", at(time.Minute))
	want.Role = chatr.RoleMember
	exact(t, "member by invite", m, want)
	_, err = s.UseInvite(ctx, "h", member("guest:a", at(time.Minute)), at(time.Minute))
	ok(t, "UseInvite by a member", err)
	got, err := s.GetInvite(ctx, "h")
	ok(t, "GetInvite", err)
	same(t, "uses after a member's second use", got.Uses, 1)

	_, err = s.UseInvite(ctx, "h", member("guest:b", at(0)), at(time.Hour))
	is(t, "UseInvite at expiry", err, chatr.ErrInviteExpired)
	code(t, "UseInvite at expiry", err, chatr.EGONE)
	_, err = s.UseInvite(ctx, "h", member("guest:b", at(0)), at(2*time.Minute))
	ok(t, "UseInvite of the last use", err)
	_, err = s.UseInvite(ctx, "h", member("guest:c", at(0)), at(3*time.Minute))
	is(t, "UseInvite used up", err, chatr.ErrInviteUsedUp)
	ok(t, "RevokeInvite", s.RevokeInvite(ctx, "h"))
	_, err = s.UseInvite(ctx, "h", member("guest:c", at(0)), at(2*time.Hour))
	is(t, "UseInvite revoked (and expired and used up)", err, chatr.ErrInviteRevoked)
	_, err = s.UseInvite(ctx, "forged", member("guest:c", at(0)), at(0))
	code(t, "UseInvite of a forged token", err, chatr.ENOTFOUND)
	ok(t, "IsMember", nil)
	if isM, _ := s.IsMember(ctx, "g", "guest:c"); isM {
		t.Fatal("a refused invite made a member")
	}
	got, err = s.GetInvite(ctx, "h")
	ok(t, "GetInvite", err)
	same(t, "uses at the end", got.Uses, 2)

	open := invite("open", "g", at(0)) // no expiry, no limit
	ok(t, "CreateInvite", s.CreateInvite(ctx, open))
	for i := range 5 {
		_, err = s.UseInvite(ctx, "open", member(fmt.Sprintf("guest:o%d", i), at(0)), at(1000*time.Hour))
		ok(t, "UseInvite of an unlimited invite", err)
	}
}

func testUseInviteRace(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	inv := invite("last", "g", at(0))
	inv.MaxUses = 1
	ok(t, "CreateInvite", s.CreateInvite(ctx, inv))
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.UseInvite(ctx, "last", member(fmt.Sprintf("guest:%d", i), at(0)), at(time.Minute))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			is(t, "a loser of the race", err, chatr.ErrInviteUsedUp)
		}
	}
	same(t, "winners of the last use", won, 1)
	ms, err := s.ListMembers(ctx, "g")
	ok(t, "ListMembers", err)
	same(t, "members", len(ms), 1)
	got, err := s.GetInvite(ctx, "last")
	ok(t, "GetInvite", err)
	same(t, "uses", got.Uses, 1)
}

func testDeleteChatInvites(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	mustChat(t, s, group("g", at(0)))
	ok(t, "CreateInvite", s.CreateInvite(ctx, invite("h", "g", at(0))))
	ok(t, "DeleteChat", s.DeleteChat(ctx, "g"))
	_, err := s.GetInvite(ctx, "h")
	code(t, "GetInvite after DeleteChat", err, chatr.ENOTFOUND)
	_, err = s.UseInvite(ctx, "h", member("guest:a", at(0)), at(0))
	code(t, "UseInvite after DeleteChat", err, chatr.ENOTFOUND)
	mustChat(t, s, group("g", at(0)))
	l, err := s.ListInvites(ctx, "g")
	ok(t, "ListInvites", err)
	same(t, "invites of a chat created again", len(l), 0)
}

func testModEvents(t *testing.T, s chatr.Store) {
	ctx := t.Context()
	l, err := s.ListModEvents(ctx, chatr.ModEventQuery{})
	ok(t, "ListModEvents of an empty log", err)
	same(t, "empty log", len(l), 0)
	mustChat(t, s, group("g", at(0)))
	var added []chatr.ModEvent
	for i := range 5 {
		e := chatr.ModEvent{Actor: "guest:admin", Action: "deleteMessage", TargetUser: "guest:a", ChatID: "g",
			MessageID: int64(i + 1), Detail: fmt.Sprintf("spam %d", i), At: at(time.Duration(i) * time.Minute)}
		got, err := s.AddModEvent(ctx, e)
		ok(t, "AddModEvent", err)
		if len(added) > 0 && got.ID <= added[len(added)-1].ID {
			t.Fatalf("event IDs do not grow: %d after %d", got.ID, added[len(added)-1].ID)
		}
		e.ID = got.ID
		exact(t, "AddModEvent's answer", got, e)
		added = append(added, got)
	}
	ok(t, "DeleteChat", s.DeleteChat(ctx, "g"))
	l, err = s.ListModEvents(ctx, chatr.ModEventQuery{Limit: 3})
	ok(t, "ListModEvents", err)
	exact(t, "newest page", l, []chatr.ModEvent{added[4], added[3], added[2]})
	l, err = s.ListModEvents(ctx, chatr.ModEventQuery{Before: added[2].ID, Limit: 3})
	ok(t, "ListModEvents", err)
	exact(t, "older page", l, []chatr.ModEvent{added[1], added[0]})
	_, err = s.AddModEvent(ctx, chatr.ModEvent{Actor: "guest:admin"})
	code(t, "AddModEvent without action", err, chatr.EINVALID)
	e, err := s.AddModEvent(ctx, chatr.ModEvent{Actor: "guest:admin", Action: "ban", TargetUser: "guest:a"})
	ok(t, "AddModEvent without time", err)
	recent(t, "At of an event added without one", e.At)
}

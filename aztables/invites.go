package aztables

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// Invites and the moderation log on Table Storage:
//
//   - chatrinvites: PartitionKey "chatr", RowKey the token hash; columns
//     chatId, createdBy, created, expires (absent: never), maxUses, uses,
//     revoked. UseInvite counts a use with the row's ETag, so of users
//     racing for the last use one wins, then adds the member.
//   - chatrmodlog: PartitionKey "log", one row per event keyed by
//     modKey(id) so that the newest sorts first, and a "~counter" row; the
//     counter's new value and the event are written in one transaction.

const (
	logPartition = "log"
	modKeyBase   = 1_000_000_000_000_000_000 // modKey(id) = base - id, 19 digits
)

func modKey(id int64) string { return rowID(modKeyBase - id) }

func inviteOf(e entity) chatr.Invite {
	inv := chatr.Invite{
		TokenHash: unkey(e.str("RowKey")), ChatID: e.str("chatId"), CreatedBy: e.str("createdBy"), Created: e.time("created"),
		MaxUses: int(e.int64v("maxUses")), Uses: int(e.int64v("uses")), Revoked: e.boolean("revoked"),
	}
	if e.str("expires") != "" {
		inv.Expires = e.time("expires")
	}
	return inv
}

func inviteEntity(inv chatr.Invite) map[string]any {
	e := map[string]any{"PartitionKey": partition, "RowKey": key(inv.TokenHash), "chatId": inv.ChatID, "createdBy": inv.CreatedBy,
		"revoked": inv.Revoked}
	setTime(e, "created", inv.Created)
	if !inv.Expires.IsZero() {
		setTime(e, "expires", inv.Expires)
	}
	setInt64(e, "maxUses", int64(inv.MaxUses))
	setInt64(e, "uses", int64(inv.Uses))
	return e
}

func (s *Store) CreateInvite(ctx context.Context, inv chatr.Invite) error {
	if inv.TokenHash == "" || inv.MaxUses < 0 {
		return chatr.Errorf(chatr.EINVALID, "an invite needs a token hash and MaxUses >= 0")
	}
	if !textOK(inv.TokenHash, inv.ChatID, inv.CreatedBy) {
		return errText()
	}
	if _, err := s.getChat(ctx, inv.ChatID); err != nil {
		return err
	}
	if inv.Created.IsZero() {
		inv.Created = time.Now()
	}
	inv.Uses, inv.Revoked = 0, false
	_, err := s.invites.AddEntity(ctx, marshal(inviteEntity(inv)), nil)
	if conflict(err) {
		return chatr.Errorf(chatr.ECONFLICT, "invite exists")
	}
	if err != nil {
		return fmt.Errorf("aztables: add invite: %w", err)
	}
	return nil
}

func (s *Store) ListInvites(ctx context.Context, chatID string) ([]chatr.Invite, error) {
	if _, err := s.getChat(ctx, chatID); err != nil {
		return nil, err
	}
	es, err := list(ctx, s.invites, "PartitionKey eq "+quote(partition)+" and chatId eq "+quote(chatID), "", 0)
	if err != nil {
		return nil, fmt.Errorf("aztables: list invites: %w", err)
	}
	invites := make([]chatr.Invite, 0, len(es))
	for _, e := range es {
		invites = append(invites, inviteOf(e))
	}
	sort.Slice(invites, func(i, j int) bool {
		a, b := invites[i], invites[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.TokenHash < b.TokenHash
	})
	return invites, nil
}

func (s *Store) getInvite(ctx context.Context, tokenHash string) (chatr.Invite, *aztables.GetEntityResponse, error) {
	if tokenHash == "" || !textOK(tokenHash) {
		return chatr.Invite{}, nil, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	r, err := s.invites.GetEntity(ctx, partition, key(tokenHash), nil)
	if notFound(err) {
		return chatr.Invite{}, nil, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	if err != nil {
		return chatr.Invite{}, nil, fmt.Errorf("aztables: get invite: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return chatr.Invite{}, nil, err
	}
	return inviteOf(e), &r, nil
}

func (s *Store) GetInvite(ctx context.Context, tokenHash string) (chatr.Invite, error) {
	inv, _, err := s.getInvite(ctx, tokenHash)
	return inv, err
}

func (s *Store) RevokeInvite(ctx context.Context, tokenHash string) error {
	if _, _, err := s.getInvite(ctx, tokenHash); err != nil {
		return err
	}
	upd := map[string]any{"PartitionKey": partition, "RowKey": key(tokenHash), "revoked": true}
	_, err := s.invites.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{UpdateMode: aztables.UpdateModeMerge})
	if notFound(err) {
		return chatr.Errorf(chatr.ENOTFOUND, "no such invite")
	}
	if err != nil {
		return fmt.Errorf("aztables: revoke invite: %w", err)
	}
	return nil
}

// UseInvite counts the use first (guarded by the invite's ETag), then adds
// the member: a crash in between costs one use and adds nobody.
func (s *Store) UseInvite(ctx context.Context, tokenHash string, m chatr.Member, now time.Time) (chatr.Chat, error) {
	if m.UserID == "" {
		return chatr.Chat{}, chatr.Errorf(chatr.EINVALID, "member user id is empty")
	}
	if !textOK(m.UserID, m.UserName) {
		return chatr.Chat{}, errText()
	}
	if m.Joined.IsZero() {
		m.Joined = time.Now()
	}
	m.Role = ""
	for range maxRetries {
		inv, r, err := s.getInvite(ctx, tokenHash)
		if err != nil {
			return chatr.Chat{}, err
		}
		if err := chatr.InviteUsable(inv, now); err != nil {
			return chatr.Chat{}, err
		}
		c, err := s.getChat(ctx, inv.ChatID)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
		}
		if err != nil {
			return chatr.Chat{}, err
		}
		if _, member := c.data.Members[m.UserID]; member {
			return c.chat, nil
		}
		upd := map[string]any{"PartitionKey": partition, "RowKey": key(tokenHash)}
		setInt64(upd, "uses", int64(inv.Uses+1))
		_, err = s.invites.UpdateEntity(ctx, marshal(upd), &aztables.UpdateEntityOptions{IfMatch: &r.ETag, UpdateMode: aztables.UpdateModeMerge})
		if stale(err) {
			continue
		}
		if notFound(err) {
			return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no such invite")
		}
		if err != nil {
			return chatr.Chat{}, fmt.Errorf("aztables: count invite use: %w", err)
		}
		if err := s.updateChat(ctx, inv.ChatID, func(c *chatRow) bool { return c.addMember(m) }); err != nil {
			return chatr.Chat{}, err
		}
		return c.chat, nil
	}
	return chatr.Chat{}, errors.New("aztables: use invite: too much contention")
}

// --- moderation log

func (s *Store) AddModEvent(ctx context.Context, ev chatr.ModEvent) (chatr.ModEvent, error) {
	if ev.Actor == "" || ev.Action == "" {
		return chatr.ModEvent{}, chatr.Errorf(chatr.EINVALID, "a moderation event needs an actor and an action")
	}
	if !textOK(ev.Actor, ev.Action, ev.TargetUser, ev.ChatID, ev.Detail) {
		return chatr.ModEvent{}, errText()
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.At = when(ev.At)
	for range maxRetries {
		var (
			last   int64
			action = aztables.TransactionTypeAdd
			opts   *aztables.TransactionAction
		)
		r, err := s.modLog.GetEntity(ctx, logPartition, counterRow, nil)
		switch {
		case err == nil:
			e, err := decode(r.Value)
			if err != nil {
				return chatr.ModEvent{}, err
			}
			last, action = e.int64v("lastId"), aztables.TransactionTypeUpdateReplace
		case !notFound(err):
			return chatr.ModEvent{}, fmt.Errorf("aztables: read log counter: %w", err)
		}
		ev.ID = last + 1
		counter := map[string]any{"PartitionKey": logPartition, "RowKey": counterRow}
		setInt64(counter, "lastId", ev.ID)
		opts = &aztables.TransactionAction{ActionType: action, Entity: marshal(counter)}
		if action == aztables.TransactionTypeUpdateReplace {
			opts.IfMatch = &r.ETag
		}
		row := map[string]any{"PartitionKey": logPartition, "RowKey": modKey(ev.ID), "actor": ev.Actor, "action": ev.Action,
			"targetUser": ev.TargetUser, "chatId": ev.ChatID, "detail": ev.Detail}
		setInt64(row, "messageId", ev.MessageID)
		setTime(row, "at", ev.At)
		_, err = s.modLog.SubmitTransaction(ctx, []aztables.TransactionAction{*opts, {ActionType: aztables.TransactionTypeAdd, Entity: marshal(row)}}, nil)
		if err == nil {
			return ev, nil
		}
		// A failed transaction does not say which operation failed: if the
		// counter moved, another writer won the race and we try again.
		r2, err2 := s.modLog.GetEntity(ctx, logPartition, counterRow, nil)
		if err2 == nil && (action == aztables.TransactionTypeAdd || r2.ETag != r.ETag) {
			continue
		}
		return chatr.ModEvent{}, fmt.Errorf("aztables: add mod event: %w", err)
	}
	return chatr.ModEvent{}, errors.New("aztables: add mod event: too much contention")
}

func (s *Store) ListModEvents(ctx context.Context, q chatr.ModEventQuery) ([]chatr.ModEvent, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	f := "PartitionKey eq " + quote(logPartition) + " and RowKey lt " + quote(counterRow)
	if q.Before > 0 {
		f += " and RowKey gt " + quote(modKey(q.Before))
	}
	es, err := list(ctx, s.modLog, f, "", int32(limit))
	if err != nil {
		return nil, fmt.Errorf("aztables: list mod events: %w", err)
	}
	events := make([]chatr.ModEvent, 0, len(es))
	for _, e := range es {
		k, _ := strconv.ParseInt(e.str("RowKey"), 10, 64)
		events = append(events, chatr.ModEvent{ID: modKeyBase - k, Actor: e.str("actor"), Action: e.str("action"),
			TargetUser: e.str("targetUser"), ChatID: e.str("chatId"), MessageID: e.int64v("messageId"), Detail: e.str("detail"), At: e.time("at")})
	}
	if len(events) > limit {
		events = events[:limit]
	}
	return events, nil
}

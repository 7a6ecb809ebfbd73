package aztables

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

var _ chatr.Dumper = (*Store)(nil)

// Dump reads every row of kind. Table Storage has no snapshot: a kind read
// while Chatr writes may show some rows before a write and some after.
// Messages are read a chat at a time; the other kinds are small enough to
// sort in memory.
func (s *Store) Dump(ctx context.Context, kind string, fn func(chatr.Row) error) error {
	var (
		vals []any
		err  error
	)
	switch kind {
	case chatr.KindUsers:
		vals, err = s.dumpEntities(ctx, s.users, "PartitionKey eq "+quote(partition), func(e entity) (string, any) {
			u := userOf(e)
			if u.Banned {
				u.BannedAt = e.time("bannedAt")
			}
			return u.ID, chatr.UserRow{User: u, NameChosen: e.boolean("nameChosen")}
		})
	case chatr.KindSessions:
		vals, err = s.dumpEntities(ctx, s.sessions, "PartitionKey eq "+quote(partition), func(e entity) (string, any) {
			ss := sessionOf(e)
			return ss.TokenHash, ss
		})
	case chatr.KindChats, chatr.KindMembers, chatr.KindMessages, chatr.KindReactions:
		return s.dumpChats(ctx, kind, fn)
	case chatr.KindReadMarkers:
		vals, err = s.dumpEntities(ctx, s.marker, "", func(e entity) (string, any) {
			r := chatr.ReadMarker{UserID: unkey(e.str("PartitionKey")), ChatID: unkey(e.str("RowKey")), MessageID: e.int64v("messageId")}
			return r.UserID + "\x00" + r.ChatID, r
		})
	case chatr.KindInvites:
		vals, err = s.dumpEntities(ctx, s.invites, "PartitionKey eq "+quote(partition), func(e entity) (string, any) {
			inv := inviteOf(e)
			return inv.TokenHash, inv
		})
	case chatr.KindModEvents:
		f := "PartitionKey eq " + quote(logPartition) + " and RowKey lt " + quote(counterRow)
		vals, err = s.dumpEntities(ctx, s.modLog, f, func(e entity) (string, any) {
			ev := chatr.ModEvent{ID: modKeyBase - e.int64RowKey(), Actor: e.str("actor"), Action: e.str("action"),
				TargetUser: e.str("targetUser"), ChatID: e.str("chatId"), MessageID: e.int64v("messageId"), Detail: e.str("detail"), At: e.time("at")}
			return rowID(ev.ID), ev
		})
	case chatr.KindFiles:
		vals, err = s.dumpFiles(ctx)
	default:
		return chatr.Errorf(chatr.EINVALID, "unknown dump kind %q", kind)
	}
	if err != nil {
		return fmt.Errorf("aztables: dump %s: %w", kind, err)
	}
	for _, v := range vals {
		if err := fn(chatr.Row{Kind: kind, Value: v}); err != nil {
			return err
		}
	}
	return nil
}

func (e entity) int64RowKey() int64 {
	n, _ := strconv.ParseInt(e.str("RowKey"), 10, 64)
	return n
}

// dumpEntities lists the table's entities that match filter, converted by
// conv to a sort key and a row value, in key order.
func (s *Store) dumpEntities(ctx context.Context, t *aztables.Client, filter string, conv func(entity) (string, any)) ([]any, error) {
	es, err := list(ctx, t, filter, "", 0)
	if err != nil {
		return nil, err
	}
	type keyed struct {
		k string
		v any
	}
	rows := make([]keyed, 0, len(es))
	for _, e := range es {
		k, v := conv(e)
		rows = append(rows, keyed{k, v})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].k < rows[j].k })
	vals := make([]any, len(rows))
	for i, r := range rows {
		vals[i] = r.v
	}
	return vals, nil
}

// dumpChats reads chats, their members (kept in the chat's entity) or
// their messages, in chat id order.
func (s *Store) dumpChats(ctx context.Context, kind string, fn func(chatr.Row) error) error {
	chats, err := s.allChats(ctx)
	if err != nil {
		return err
	}
	sort.Slice(chats, func(i, j int) bool { return chats[i].chat.ID < chats[j].chat.ID })
	for _, c := range chats {
		ck := key(c.chat.ID)
		switch kind {
		case chatr.KindChats:
			last, _, _, err := s.counter(ctx, ck)
			if err != nil {
				return err
			}
			if err := fn(chatr.Row{Kind: kind, Value: chatr.ChatRow{Chat: c.chat, LastMessageID: last}}); err != nil {
				return err
			}
		case chatr.KindMembers:
			ids := make([]string, 0, len(c.data.Members))
			for uid := range c.data.Members {
				ids = append(ids, uid)
			}
			sort.Strings(ids)
			for _, uid := range ids {
				m := chatr.Member{UserID: uid, UserName: c.data.Members[uid].UserName, Joined: c.joined[uid], Role: c.role(uid)}
				if m.Joined.IsZero() {
					m.Joined = c.chat.Created // the original kept no join time
				}
				if err := fn(chatr.Row{Kind: kind, Value: chatr.MemberRow{ChatID: c.chat.ID, Member: m}}); err != nil {
					return err
				}
			}
		case chatr.KindMessages:
			es, err := list(ctx, s.messages, "PartitionKey eq "+quote(ck)+" and RowKey lt "+quote("~"), "", 0)
			if err != nil {
				return fmt.Errorf("aztables: dump messages: %w", err)
			}
			for _, e := range es {
				m := messageOf(c.chat.ID, e)
				m.Reactions = nil // dumped as their own kind
				if err := fn(chatr.Row{Kind: kind, Value: m}); err != nil {
					return err
				}
			}
		case chatr.KindReactions:
			if err := s.dumpReactions(ctx, c.chat.ID, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// dumpReactions lists the chat's reaction rows by message, each message's
// in the order they were made (their seq).
func (s *Store) dumpReactions(ctx context.Context, chatID string, fn func(chatr.Row) error) error {
	ck := key(chatID)
	es, err := list(ctx, s.messages, "PartitionKey eq "+quote(ck)+" and RowKey ge "+quote(reactPrefix)+" and RowKey lt "+quote(reactPrefix+"\x7f"), "", 0)
	if err != nil {
		return fmt.Errorf("aztables: dump reactions: %w", err)
	}
	type row struct {
		r   chatr.ReactionDump
		seq int64
	}
	rows := make([]row, 0, len(es))
	for _, e := range es {
		parts := strings.Split(strings.TrimPrefix(e.str("RowKey"), reactPrefix), "~")
		if len(parts) != 3 {
			continue
		}
		id, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			continue
		}
		rows = append(rows, row{chatr.ReactionDump{ChatID: chatID, MessageID: id, Emoji: unkey(parts[1]), UserID: unkey(parts[2])}, e.int64v("seq")})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].r.MessageID != rows[j].r.MessageID {
			return rows[i].r.MessageID < rows[j].r.MessageID
		}
		return rows[i].seq < rows[j].seq
	})
	for _, r := range rows {
		if err := fn(chatr.Row{Kind: chatr.KindReactions, Value: r.r}); err != nil {
			return err
		}
	}
	return nil
}

// Load writes each row with an upsert of its entities. Rows are written
// one by one (a transaction cannot span tables or partitions); a load cut
// off midway leaves whole rows, and loading again completes it.
func (s *Store) Load(ctx context.Context, rows []chatr.Row) error {
	counters := map[string]int64{} // chat id -> highest message id loaded
	for _, r := range rows {
		var err error
		switch v := r.Value.(type) {
		case chatr.UserRow:
			err = s.loadUser(ctx, v)
		case chatr.Session:
			e := map[string]any{"PartitionKey": partition, "RowKey": key(v.TokenHash), "userId": v.UserID}
			setTime(e, "created", v.Created)
			setTime(e, "expires", v.Expires)
			err = upsert(ctx, s.sessions, e)
		case chatr.ChatRow:
			err = s.loadChat(ctx, v)
		case chatr.MemberRow:
			err = s.loadMember(ctx, v)
		case chatr.Message:
			if err = s.needChat(ctx, v.ChatID); err == nil {
				err = s.loadMessage(ctx, v)
				counters[v.ChatID] = max(counters[v.ChatID], v.ID)
			}
		case chatr.ReactionDump:
			if err = s.needChat(ctx, v.ChatID); err == nil {
				err = s.loadReaction(ctx, v)
			}
		case chatr.ReadMarker:
			if err = s.needChat(ctx, v.ChatID); err == nil {
				e := map[string]any{"PartitionKey": key(v.UserID), "RowKey": key(v.ChatID)}
				setInt64(e, "messageId", v.MessageID)
				err = upsert(ctx, s.marker, e)
			}
		case chatr.Invite:
			if err = s.needChat(ctx, v.ChatID); err == nil {
				err = upsert(ctx, s.invites, inviteEntity(v))
			}
		case chatr.ModEvent:
			row := map[string]any{"PartitionKey": logPartition, "RowKey": modKey(v.ID), "actor": v.Actor, "action": v.Action,
				"targetUser": v.TargetUser, "chatId": v.ChatID, "detail": v.Detail}
			setInt64(row, "messageId", v.MessageID)
			setTime(row, "at", v.At)
			if err = upsert(ctx, s.modLog, row); err == nil {
				err = s.raiseCounter(ctx, s.modLog, logPartition, v.ID)
			}
		case chatr.FileRow:
			err = s.loadFile(ctx, v)
		default:
			err = chatr.Errorf(chatr.EINVALID, "cannot load a %s row (%T)", r.Kind, r.Value)
		}
		if err != nil {
			return err
		}
	}
	for chatID, id := range counters {
		if err := s.raiseCounter(ctx, s.messages, key(chatID), id); err != nil {
			return err
		}
	}
	return nil
}

func upsert(ctx context.Context, t *aztables.Client, e map[string]any) error {
	if _, err := t.UpsertEntity(ctx, marshal(e), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		return fmt.Errorf("aztables: load: %w", err)
	}
	return nil
}

func (s *Store) needChat(ctx context.Context, chatID string) error {
	_, err := s.getChat(ctx, chatID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Errorf(chatr.EINVALID, "load: chat %s is missing", chatID)
	}
	return err
}

// raiseCounter moves a "~counter" row's lastId up to at least id.
func (s *Store) raiseCounter(ctx context.Context, t *aztables.Client, pk string, id int64) error {
	r, err := t.GetEntity(ctx, pk, counterRow, nil)
	if err == nil {
		e, err := decode(r.Value)
		if err != nil {
			return err
		}
		if e.int64v("lastId") >= id {
			return nil
		}
	} else if !notFound(err) {
		return fmt.Errorf("aztables: load counter: %w", err)
	}
	c := map[string]any{"PartitionKey": pk, "RowKey": counterRow}
	setInt64(c, "lastId", id)
	return upsert(ctx, t, c)
}

func (s *Store) loadUser(ctx context.Context, v chatr.UserRow) error {
	u := v.User
	e := map[string]any{"PartitionKey": partition, "RowKey": key(u.ID), "userName": u.Name, "userProvider": u.Provider,
		"idle": u.Idle, "nameChosen": v.NameChosen, "banned": u.Banned, "bannedBy": u.BannedBy, "handle": u.Handle}
	setTime(e, "lastSeen", u.LastSeen)
	setTime(e, "created", u.Created)
	if !u.TokensRevoked.IsZero() {
		setTime(e, "tokensRevoked", u.TokensRevoked)
	}
	if !u.BannedAt.IsZero() {
		setTime(e, "bannedAt", u.BannedAt)
	}
	if u.Handle != "" {
		if err := upsert(ctx, s.handles, map[string]any{"PartitionKey": partition, "RowKey": u.Handle, "userId": u.ID}); err != nil {
			return err
		}
	}
	return upsert(ctx, s.users, e)
}

// loadChat writes the chat's own columns and keeps the members a previous
// load gave it.
func (s *Store) loadChat(ctx context.Context, v chatr.ChatRow) error {
	c := v.Chat
	row, err := s.getChat(ctx, c.ID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		row = &chatRow{data: chatData{Members: map[string]memberData{}}, joined: map[string]time.Time{}, roles: map[string]string{}}
	} else if err != nil {
		return err
	}
	row.chat = c
	row.data.ID, row.data.Name, row.data.Owner = c.ID, c.Name, c.Owner
	// A database from before names were unique may hold two public chats
	// with one name: the first loaded keeps the claim.
	if err := s.claimName(ctx, c); err != nil && chatr.ErrorCode(err) != chatr.ECONFLICT {
		return err
	}
	if err := upsert(ctx, s.chats, row.entity()); err != nil {
		return err
	}
	if v.LastMessageID > 0 {
		return s.raiseCounter(ctx, s.messages, key(c.ID), v.LastMessageID)
	}
	return nil
}

func (s *Store) loadMember(ctx context.Context, v chatr.MemberRow) error {
	row, err := s.getChat(ctx, v.ChatID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Errorf(chatr.EINVALID, "load: chat %s is missing", v.ChatID)
	} else if err != nil {
		return err
	}
	row.data.Members[v.UserID] = memberData{UserID: v.UserID, UserName: v.UserName}
	row.joined[v.UserID] = v.Joined
	delete(row.roles, v.UserID)
	if v.Role == chatr.RoleModerator {
		row.roles[v.UserID] = chatr.RoleModerator
	}
	return upsert(ctx, s.chats, row.entity())
}

func (s *Store) loadMessage(ctx context.Context, m chatr.Message) error {
	ck := key(m.ChatID)
	e := messageEntity(ck, m)
	if !m.Edited.IsZero() {
		setTime(e, "edited", m.Edited)
	}
	if m.Deleted {
		setTime(e, "deleted", m.DeletedAt)
	}
	// A message loaded again keeps the reactions loaded after it the first
	// time: its row holds their summary.
	old, err := s.messages.GetEntity(ctx, ck, rowID(m.ID), nil)
	switch {
	case err == nil:
		var props map[string]any
		if err := json.Unmarshal(old.Value, &props); err != nil {
			return fmt.Errorf("aztables: load message: %w", err)
		}
		for k, v := range props {
			if k == "reactSeq" || strings.HasPrefix(k, "reactions") {
				e[k] = v
			}
		}
	case !notFound(err):
		return fmt.Errorf("aztables: load message: %w", err)
	}
	if err := upsert(ctx, s.messages, e); err != nil {
		return err
	}
	if m.ClientID == "" {
		return nil
	}
	k := map[string]any{"PartitionKey": ck, "RowKey": keyRow(m.FromUserID, m.ClientID)}
	setInt64(k, "messageId", m.ID)
	return upsert(ctx, s.messages, k)
}

// loadReaction adds a user's reaction unless it is there already.
func (s *Store) loadReaction(ctx context.Context, r chatr.ReactionDump) error {
	_, err := s.messages.GetEntity(ctx, key(r.ChatID), reactRow(r.MessageID, r.Emoji, r.UserID), nil)
	if err == nil {
		return nil
	}
	if !notFound(err) {
		return fmt.Errorf("aztables: load reaction: %w", err)
	}
	if _, _, err := s.ToggleReaction(ctx, r.ChatID, r.MessageID, r.UserID, r.Emoji); err != nil {
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			return chatr.Errorf(chatr.EINVALID, "load reactions: message %d of %s is missing", r.MessageID, r.ChatID)
		}
		return err
	}
	return nil
}

var _ chatr.UserDeleter = (*Store)(nil)

// DeleteUser removes the account. Table Storage has no transaction across
// tables, so the user row goes last: a deletion cut off midway leaves the
// user findable, and running it again finishes it.
func (s *Store) DeleteUser(ctx context.Context, userID string, keepMessages bool) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	chats, err := s.allChats(ctx)
	if err != nil {
		return err
	}
	for _, c := range chats {
		ck := key(c.chat.ID)
		es, err := list(ctx, s.messages, "PartitionKey eq "+quote(ck)+" and RowKey lt "+quote("~")+" and fromUserId eq "+quote(userID), "", 0)
		if err != nil {
			return fmt.Errorf("aztables: delete user: %w", err)
		}
		for _, e := range es {
			m := messageOf(c.chat.ID, e)
			if m.ClientID != "" {
				if _, err := s.messages.DeleteEntity(ctx, ck, keyRow(m.FromUserID, m.ClientID), nil); err != nil && !notFound(err) {
					return fmt.Errorf("aztables: delete user: %w", err)
				}
			}
			if keepMessages {
				m.FromUserID, m.FromUserName, m.ClientID = chatr.DeletedUserID, chatr.DeletedUserName, ""
				err = upsert(ctx, s.messages, messageEntity(ck, m))
			} else if _, err = s.messages.DeleteEntity(ctx, ck, rowID(m.ID), nil); notFound(err) {
				err = nil
			}
			if err != nil {
				return fmt.Errorf("aztables: delete user: %w", err)
			}
		}
		if _, ok := c.data.Members[userID]; ok {
			if err := s.RemoveMember(ctx, c.chat.ID, userID); err != nil {
				return err
			}
		}
	}
	markers, err := list(ctx, s.marker, "PartitionKey eq "+quote(key(userID)), "PartitionKey,RowKey", 0)
	if err != nil {
		return fmt.Errorf("aztables: delete user: %w", err)
	}
	for _, e := range markers {
		if _, err := s.marker.DeleteEntity(ctx, e.str("PartitionKey"), e.str("RowKey"), nil); err != nil && !notFound(err) {
			return fmt.Errorf("aztables: delete user: %w", err)
		}
	}
	if err := s.DeleteUserSessions(ctx, userID); err != nil {
		return err
	}
	if u.Handle != "" {
		s.releaseHandle(ctx, u.Handle, userID)
	}
	if _, err := s.users.DeleteEntity(ctx, partition, key(userID), nil); err != nil && !notFound(err) {
		return fmt.Errorf("aztables: delete user: %w", err)
	}
	return nil
}

package aztables

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/chatr/chatr"
)

// Rooms on Table Storage. Extra columns on chats: topic, visibility,
// invitePolicy and roles (JSON {userId: "moderator"}; the owner is the
// original's data.owner). Table Storage has no unique index, so the names
// of public chats are claimed in a table of their own:
//
//   - chatrnames: PartitionKey "chatr", RowKey the NameKey of a public
//     group chat's name, column chatId: the chat that holds the name.
//
// A claim is written before the chat (AddEntity fails on a taken name) and
// removed when the chat lets the name go. A claim left behind by a crash is
// stale a minute after it was written if its chat no longer exists or no
// longer has that name; the next claimant takes it over.

const staleClaim = time.Minute

// readRooms reads the room columns of a chats entity, with the defaults of
// rows written before them (and by the original).
func (c *chatRow) readRooms(e entity) {
	if c.chat.Visibility == "" {
		c.chat.Visibility = chatr.VisibilityPublic
		if c.chat.Private {
			c.chat.Visibility = chatr.VisibilityPrivate
		}
	}
	if c.chat.InvitePolicy == "" {
		c.chat.InvitePolicy = chatr.InviteByMembers
	}
	c.roles = map[string]string{}
	json.Unmarshal([]byte(e.str("roles")), &c.roles)
}

func (c *chatRow) writeRooms(e map[string]any) {
	e["topic"], e["visibility"], e["invitePolicy"] = c.chat.Topic, c.chat.Visibility, c.chat.InvitePolicy
	if len(c.roles) > 0 {
		b, _ := json.Marshal(c.roles)
		e["roles"] = string(b)
	}
}

// role is the member's role (the caller knows uid is a member).
func (c *chatRow) role(uid string) string {
	switch {
	case uid == c.data.Owner:
		return chatr.RoleOwner
	case c.roles[uid] == chatr.RoleModerator:
		return chatr.RoleModerator
	default:
		return chatr.RoleMember
	}
}

// addMember adds m unless they are a member; only the owner is an owner.
func (c *chatRow) addMember(m chatr.Member) bool {
	if _, ok := c.data.Members[m.UserID]; ok {
		return false
	}
	c.data.Members[m.UserID] = memberData{UserID: m.UserID, UserName: m.UserName}
	c.joined[m.UserID] = m.Joined
	delete(c.roles, m.UserID)
	if m.Role == chatr.RoleModerator && m.UserID != c.data.Owner {
		c.roles[m.UserID] = chatr.RoleModerator
	}
	return true
}

// claimName makes c the holder of its name if it is a public group chat;
// ECONFLICT when another chat holds it.
func (s *Store) claimName(ctx context.Context, c chatr.Chat) error {
	if !c.IsPublic() {
		return nil
	}
	nk := key(chatr.NameKey(c.Name))
	claim := marshal(map[string]any{"PartitionKey": partition, "RowKey": nk, "chatId": c.ID})
	for range maxRetries {
		_, err := s.names.AddEntity(ctx, claim, nil)
		if err == nil {
			return nil
		}
		if !conflict(err) {
			return fmt.Errorf("aztables: claim chat name: %w", err)
		}
		r, err := s.names.GetEntity(ctx, partition, nk, nil)
		if notFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("aztables: claim chat name: %w", err)
		}
		e, err := decode(r.Value)
		if err != nil {
			return err
		}
		holder := e.str("chatId")
		if holder == c.ID {
			return nil
		}
		if !s.staleClaim(ctx, e, holder) {
			return chatr.ErrChatNameTaken
		}
		_, err = s.names.UpdateEntity(ctx, claim, &aztables.UpdateEntityOptions{IfMatch: &r.ETag, UpdateMode: aztables.UpdateModeReplace})
		if err == nil {
			return nil
		}
		if !stale(err) && !notFound(err) {
			return fmt.Errorf("aztables: claim chat name: %w", err)
		}
	}
	return fmt.Errorf("aztables: claim chat name: too much contention")
}

// staleClaim reports whether the claim e of holder no longer stands. A
// young claim always stands: its chat may not be written yet.
func (s *Store) staleClaim(ctx context.Context, e entity, holder string) bool {
	if ts := e.time("Timestamp"); ts.IsZero() || time.Since(ts) < staleClaim {
		return false
	}
	hc, err := s.getChat(ctx, holder)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return true
	}
	if err != nil {
		return false
	}
	return !hc.chat.IsPublic() || key(chatr.NameKey(hc.chat.Name)) != e.str("RowKey")
}

// releaseName removes c's claim on its name, if c holds it.
func (s *Store) releaseName(ctx context.Context, c chatr.Chat) {
	nk := key(chatr.NameKey(c.Name))
	r, err := s.names.GetEntity(ctx, partition, nk, nil)
	if err != nil {
		return
	}
	if e, err := decode(r.Value); err == nil && e.str("chatId") == c.ID {
		s.names.DeleteEntity(ctx, partition, nk, &aztables.DeleteEntityOptions{IfMatch: &r.ETag})
	}
}

// deleteChatRooms removes what belongs to a deleted chat: its invites, its
// outgoing webhooks and its claim on its name.
func (s *Store) deleteChatRooms(ctx context.Context, c chatr.Chat) error {
	s.releaseName(ctx, c)
	if err := s.deleteChatOutgoing(ctx, c.ID); err != nil {
		return err
	}
	invites, err := list(ctx, s.invites, "PartitionKey eq "+quote(partition)+" and chatId eq "+quote(c.ID), "RowKey", 0)
	if err != nil {
		return fmt.Errorf("aztables: list invites: %w", err)
	}
	for _, e := range invites {
		if _, err := s.invites.DeleteEntity(ctx, partition, e.str("RowKey"), nil); err != nil && !notFound(err) {
			return fmt.Errorf("aztables: delete invite: %w", err)
		}
	}
	return nil
}

// UpdateChat claims a new name before it writes the chat, and lets the old
// one go after.
func (s *Store) UpdateChat(ctx context.Context, id string, u chatr.ChatUpdate) (chatr.Chat, error) {
	for range maxRetries {
		c, err := s.getChat(ctx, id)
		if err != nil {
			return chatr.Chat{}, err
		}
		old := c.chat
		changed, err := chatr.ApplyChatUpdate(&c.chat, u)
		if err != nil {
			return chatr.Chat{}, err
		}
		c.data.Name = c.chat.Name
		if changed {
			if err := s.claimName(ctx, c.chat); err != nil {
				return chatr.Chat{}, err
			}
		}
		_, err = s.chats.UpdateEntity(ctx, marshal(c.entity()), &aztables.UpdateEntityOptions{IfMatch: &c.etag, UpdateMode: aztables.UpdateModeReplace})
		if err != nil && changed && chatr.NameKey(old.Name) != chatr.NameKey(c.chat.Name) {
			s.releaseName(ctx, c.chat)
		}
		if notFound(err) {
			return chatr.Chat{}, chatr.Errorf(chatr.ENOTFOUND, "no chat %s", id)
		}
		if stale(err) {
			continue
		}
		if err != nil {
			return chatr.Chat{}, fmt.Errorf("aztables: update chat: %w", err)
		}
		if changed && (!c.chat.IsPublic() || chatr.NameKey(old.Name) != chatr.NameKey(c.chat.Name)) {
			s.releaseName(ctx, old)
		}
		return c.chat, nil
	}
	return chatr.Chat{}, fmt.Errorf("aztables: update chat: too much contention")
}

// GetMember returns the membership with its role.
func (s *Store) GetMember(ctx context.Context, chatID, userID string) (chatr.Member, error) {
	c, err := s.getChat(ctx, chatID)
	if err != nil {
		return chatr.Member{}, err
	}
	md, ok := c.data.Members[userID]
	if !ok {
		return chatr.Member{}, chatr.Errorf(chatr.ENOTFOUND, "%s is not a member of %s", userID, chatID)
	}
	joined, ok := c.joined[userID]
	if !ok {
		joined = c.chat.Created
	}
	return chatr.Member{UserID: userID, UserName: md.UserName, Joined: joined, Role: c.role(userID)}, nil
}

// SetMemberRole changes a role; a new owner takes the chat's owner field.
func (s *Store) SetMemberRole(ctx context.Context, chatID, userID, role string) error {
	if !chatr.ValidRole(role) {
		return chatr.Errorf(chatr.EINVALID, "unknown role %q", role)
	}
	var refused error
	err := s.updateChat(ctx, chatID, func(c *chatRow) bool {
		refused = nil
		if _, ok := c.data.Members[userID]; !ok {
			refused = chatr.Errorf(chatr.ENOTFOUND, "%s is not a member of %s", userID, chatID)
			return false
		}
		switch {
		case c.data.Owner == userID && role != chatr.RoleOwner:
			refused = chatr.Errorf(chatr.EINVALID, "the owner's role changes only with a new owner")
			return false
		case c.data.Owner == userID:
			return false
		case role == chatr.RoleOwner:
			if _, ok := c.data.Members[c.data.Owner]; ok {
				c.roles[c.data.Owner] = chatr.RoleModerator
			}
			c.data.Owner, c.chat.Owner = userID, userID
			delete(c.roles, userID)
		case role == chatr.RoleModerator:
			c.roles[userID] = role
		default:
			delete(c.roles, userID)
		}
		return true
	})
	if err != nil {
		return err
	}
	return refused
}

// fillLastMessageAt sets each chat's LastMessageAt from its message
// counter and newest message: two point reads per chat, a few chats at a time.
func (s *Store) fillLastMessageAt(ctx context.Context, chats []chatr.Chat) error {
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 8)
		mu   sync.Mutex
		errs error
	)
	for i := range chats {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t, err := s.lastMessageAt(ctx, chats[i].ID)
			if err != nil {
				mu.Lock()
				errs = err
				mu.Unlock()
				return
			}
			chats[i].LastMessageAt = t
		})
	}
	wg.Wait()
	return errs
}

func (s *Store) lastMessageAt(ctx context.Context, chatID string) (time.Time, error) {
	ck := key(chatID)
	last, _, exists, err := s.counter(ctx, ck)
	if err != nil || !exists || last == 0 {
		return time.Time{}, err
	}
	r, err := s.messages.GetEntity(ctx, ck, rowID(last), nil)
	if notFound(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("aztables: read newest message: %w", err)
	}
	e, err := decode(r.Value)
	if err != nil {
		return time.Time{}, err
	}
	return e.time("time"), nil
}

// backfill gives the rows of earlier releases (and of the original) what
// this release adds: users a handle (oldest first, so that the first "Bob"
// stays "bob"), and public group chats their claim on their name (the
// oldest of a set of duplicates holds it; the others keep theirs unclaimed).
func (s *Store) backfill(ctx context.Context) error {
	users, err := list(ctx, s.users, "PartitionKey eq "+quote(partition), "", 0)
	if err != nil {
		return err
	}
	var bare []chatr.User
	for _, e := range users {
		if e.str("handle") == "" {
			bare = append(bare, userOf(e))
		}
	}
	sortUsersByCreated(bare)
	for _, u := range bare {
		if err := s.giveHandle(ctx, u.ID, u.Name); err != nil {
			return err
		}
	}
	chats, err := s.allChats(ctx) // ordered by creation
	if err != nil {
		return err
	}
	claims, err := list(ctx, s.names, "PartitionKey eq "+quote(partition), "chatId", 0)
	if err != nil {
		return err
	}
	holders := map[string]bool{}
	for _, e := range claims {
		holders[e.str("chatId")] = true
	}
	for _, c := range chats {
		if !c.chat.IsPublic() || holders[c.chat.ID] {
			continue
		}
		if err := s.claimName(ctx, c.chat); err != nil && chatr.ErrorCode(err) != chatr.ECONFLICT {
			return err
		}
	}
	return nil
}

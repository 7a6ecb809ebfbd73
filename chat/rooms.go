package chat

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// Limits of the room events.
const (
	MaxTopicLength = 300 // characters of a chat's topic
	MaxInviteBatch = 50  // users one inviteMembers adds
)

// access is what one user may do in one chat. It is the single policy of
// the WebSocket events and the HTTP API: every room action asks it.
type access struct {
	chat  chatr.Chat
	user  chatr.User
	role  string // the user's role in the chat, "" for a non-member
	admin bool
}

func (x access) member() bool { return x.role != "" }

// moderates: the owner, moderators, and the server's admins (who moderate
// every group chat).
func (x access) moderates() bool {
	return x.admin || x.role == chatr.RoleOwner || x.role == chatr.RoleModerator
}

// owns: the owner and admins, who alone hand out roles.
func (x access) owns() bool { return x.admin || x.role == chatr.RoleOwner }

// mayInvite: members, or only the owner and moderators when the chat says
// so; group chats only (a DM's members are fixed).
func (x access) mayInvite() bool {
	if x.chat.Kind() != chatr.KindGroup {
		return false
	}
	return x.moderates() || (x.member() && x.chat.InvitePolicy != chatr.InviteByModerators)
}

// access loads the chat and the user's standing in it. A chat that is not
// public is answered errNoSuchChat to a non-member (an admin sees private
// group chats, which they moderate, but never others' direct messages).
func (a *App) access(ctx context.Context, userID, chatID string) (access, error) {
	c, err := a.store.GetChat(ctx, chatID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return access{}, errNoSuchChat
	} else if err != nil {
		return access{}, err
	}
	u, err := a.store.GetUser(ctx, userID)
	if err != nil {
		return access{}, err
	}
	x := access{chat: c, user: u, admin: a.admins.Has(u)}
	m, err := a.store.GetMember(ctx, chatID, userID)
	switch {
	case err == nil:
		x.role = memberRole(c, m)
	case chatr.ErrorCode(err) != chatr.ENOTFOUND:
		return access{}, err
	}
	if !c.IsPublic() && !x.member() && !(x.admin && c.Kind() == chatr.KindGroup) {
		return access{}, errNoSuchChat
	}
	return x, nil
}

// permission is a room action's rule: who may take it, and who to name
// when someone else tries.
type permission struct {
	may func(access) bool
	who func(chatr.Chat) string
}

var (
	toModerate = permission{access.moderates, func(chatr.Chat) string { return "the chat's owner, its moderators and admins" }}
	toOwn      = permission{access.owns, func(chatr.Chat) string { return "the chat's owner and admins" }}
	toInvite   = permission{access.mayInvite, inviters}
)

// roomAccess is access for an action on a group chat that p allows:
// EINVALID for a direct message or group DM, Forbidden to anyone p does
// not name.
func (a *App) roomAccess(ctx context.Context, userID, chatID string, p permission) (access, error) {
	x, err := a.access(ctx, userID, chatID)
	if err != nil {
		return access{}, err
	}
	if err := groupOnly(x.chat); err != nil {
		return access{}, err
	}
	if !p.may(x) {
		return access{}, forbidden(p.who(x.chat))
	}
	return x, nil
}

// forbidden is the answer to a member (or anyone, in a public chat) who
// may not do what they asked.
func forbidden(what string) error {
	return chatr.Errorf(chatr.EFORBIDDEN, "only %s may do this", what)
}

// groupOnly refuses room actions on direct messages and group DMs.
func groupOnly(c chatr.Chat) error {
	if c.Kind() != chatr.KindGroup {
		return chatr.Errorf(chatr.EINVALID, "only group chats can be changed this way")
	}
	return nil
}

// logMod records a moderation action; the action has happened already,
// so a failure to record it is logged, not returned.
func (a *App) logMod(ctx context.Context, e chatr.ModEvent) {
	e.At = a.now().UTC()
	if _, err := a.store.AddModEvent(ctx, e); err != nil {
		a.log.Error("moderation log", "action", e.Action, "actor", e.Actor, "chat", e.ChatID, "err", err)
	}
}

// cleanTopic trims a topic and checks its length and characters (line
// breaks are allowed, other control characters are not).
func (a *App) cleanTopic(topic string) (string, error) {
	topic = strings.TrimSpace(topic)
	if !utf8.ValidString(topic) || utf8.RuneCountInString(topic) > MaxTopicLength {
		return "", chatr.Errorf(chatr.EINVALID, "topic must be at most %d characters of UTF-8", MaxTopicLength)
	}
	for _, r := range topic {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return "", chatr.Errorf(chatr.EINVALID, "topic must not contain control characters")
		}
	}
	return topic, nil
}

// chatViewEvent is a chat view event for many connections at once: Joined
// and Role are each viewer's own, so they are left out.
func chatViewEvent(name string, v ChatView) hub.Message {
	v.Joined, v.Role = false, ""
	return userEvent(name, func(esc func(string) string) any { return v.escaped(esc) })
}

// announceChat tells who may see it that a chat exists: for a public chat
// the connections that list public chats and the creator's own, for a
// private one the creator's own.
func (a *App) announceChat(ctx context.Context, c chatr.Chat, userID string) error {
	if c.IsPublic() {
		created := chatViewEvent("chatCreated", baseView(c))
		if err := a.toChatList(ctx, created); err != nil {
			return err
		}
		return a.hub.SendToUser(ctx, userID, created)
	}
	v, err := a.View(ctx, c, userID)
	if err != nil {
		return err
	}
	return a.hub.SendToUser(ctx, userID, userEvent("chatCreated", func(esc func(string) string) any { return v.escaped(esc) }))
}

// updateChat handles {"chatId","name"?,"topic"?,"visibility"?,"invitePolicy"?}.
func (a *App) updateChat(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		ChatID       string  `json:"chatId"`
		Name         *string `json:"name"`
		Topic        *string `json:"topic"`
		Visibility   *string `json:"visibility"`
		InvitePolicy *string `json:"invitePolicy"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	x, err := a.roomAccess(ctx, conn.UserID, in.ChatID, toModerate)
	if err != nil {
		return err
	}
	u := chatr.ChatUpdate{Visibility: in.Visibility, InvitePolicy: in.InvitePolicy}
	if in.Name != nil {
		name, err := a.cleanChatName(*in.Name)
		if err != nil {
			return err
		}
		u.Name = &name
	}
	if in.Topic != nil {
		topic, err := a.cleanTopic(*in.Topic)
		if err != nil {
			return err
		}
		u.Topic = &topic
	}
	c, err := a.store.UpdateChat(ctx, x.chat.ID, u)
	if err != nil {
		return err
	}
	a.logMod(ctx, chatr.ModEvent{Actor: x.user.ID, Action: "updateChat", ChatID: c.ID, Detail: changes(x.chat, c)})
	if err := a.toMembers(ctx, c.ID, "chat", chatViewEvent("chatUpdated", baseView(c))); err != nil {
		return err
	}
	if c.IsPublic() && !x.chat.IsPublic() {
		// Now in the list of public chats.
		return a.toChatList(ctx, chatViewEvent("chatCreated", baseView(c)))
	}
	return nil
}

// changes describes an update for the moderation log.
func changes(before, after chatr.Chat) string {
	var d []string
	for _, f := range []struct{ name, was, is string }{
		{"name", before.Name, after.Name}, {"topic", before.Topic, after.Topic},
		{"visibility", before.Visibility, after.Visibility}, {"invitePolicy", before.InvitePolicy, after.InvitePolicy},
	} {
		if f.was != f.is {
			d = append(d, f.name+": "+f.is)
		}
	}
	return strings.Join(d, "; ")
}

// inviteMembers handles {"chatId","userIds":[...]}: the users become
// members at once.
func (a *App) inviteMembers(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		ChatID  string   `json:"chatId"`
		UserIDs []string `json:"userIds"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if len(in.UserIDs) == 0 || len(in.UserIDs) > MaxInviteBatch {
		return chatr.Errorf(chatr.EINVALID, "userIds names 1 to %d users", MaxInviteBatch)
	}
	x, err := a.roomAccess(ctx, conn.UserID, in.ChatID, toInvite)
	if err != nil {
		return err
	}
	users := make([]chatr.User, 0, len(in.UserIDs))
	for _, id := range in.UserIDs {
		if len(id) > maxUserIDBytes {
			return chatr.Errorf(chatr.EINVALID, "a user id is at most %d bytes", maxUserIDBytes)
		}
		u, err := a.store.GetUser(ctx, id)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			return chatr.Errorf(chatr.ENOTFOUND, "no such user")
		} else if err != nil {
			return err
		}
		users = append(users, u)
	}
	for _, u := range users {
		if err := a.addMember(ctx, x.chat, u); err != nil {
			return err
		}
	}
	return nil
}

// inviters names who may invite into c, for an error message.
func inviters(c chatr.Chat) string {
	if c.InvitePolicy == chatr.InviteByModerators {
		return "the chat's owner and moderators"
	}
	return "the chat's members"
}

// addMember makes u a member of c (if not one already) and tells everyone
// concerned.
func (a *App) addMember(ctx context.Context, c chatr.Chat, u chatr.User) error {
	member, err := a.store.IsMember(ctx, c.ID, u.ID)
	if err != nil || member {
		return err
	}
	if err := a.store.AddMember(ctx, c.ID, chatr.Member{UserID: u.ID, UserName: u.Name, Role: chatr.RoleMember, Joined: a.now().UTC()}); err != nil {
		return err
	}
	return a.announceJoined(ctx, c, u)
}

// announceJoined tells a user who was just added to a chat (by an invite,
// not by their own joinChat) and the chat's members: the user's
// connections get addedToChat and join the chat's group, the members
// memberJoined.
func (a *App) announceJoined(ctx context.Context, c chatr.Chat, u chatr.User) error {
	v, err := a.View(ctx, c, u.ID)
	if err != nil {
		return err
	}
	if err := a.hub.SendToUser(ctx, u.ID, userEvent("addedToChat", func(esc func(string) string) any { return v.escaped(esc) })); err != nil {
		return err
	}
	if err := a.hub.AddUserToGroup(ctx, u.ID, c.ID); err != nil {
		return err
	}
	return a.welcome(ctx, c, u)
}

// welcome announces a new member u of c to its members: memberJoined, and
// in a small chat the "has joined" announcement and presence watching.
func (a *App) welcome(ctx context.Context, c chatr.Chat, u chatr.User) error {
	// Only a small chat hears each join, the announcement, and starts
	// showing the newcomer's presence (and the newcomer theirs): in a large
	// one each would cost every member a frame or an item per join. Its
	// members hear the count once per window, the newcomer's other
	// connections the join.
	members, small, err := a.smallChatMembers(ctx, c)
	if err != nil {
		return err
	}
	joined := membership("memberJoined", c.ID, u.ID, u.Name)
	if !small {
		a.crowdChanged(c.ID)
		return a.toSelf(ctx, u.ID, joined)
	}
	if err := a.toMembers(ctx, c.ID, u.ID, joined); err != nil {
		return err
	}
	if err := a.watchEachOther(ctx, u.ID, members); err != nil {
		return err
	}
	// The members, who now watch the newcomer, hear that the newcomer is
	// online in the batch of memberJoined: no frame of its own.
	if err := a.snapshot(ctx, []string{u.ID}, func(m hub.Message) error { return a.toMembers(ctx, c.ID, "online:"+u.ID, m) }); err != nil {
		return err
	}
	return a.hub.SendToGroup(ctx, c.ID, announcement("💬 "+escape(u.Name)+" has joined the chat"))
}

// removedFromChat is the payload of removedFromChat.
type removedFromChat struct {
	ChatID string `json:"chatId"`
	By     string `json:"by"`
}

// removeMember handles {"chatId","userId"}.
func (a *App) removeMember(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		ChatID string `json:"chatId"`
		UserID string `json:"userId"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	x, err := a.roomAccess(ctx, conn.UserID, in.ChatID, toModerate)
	if err != nil {
		return err
	}
	if in.UserID == x.user.ID {
		return chatr.Errorf(chatr.EINVALID, "leave the chat with leaveChat")
	}
	target, err := a.store.GetMember(ctx, x.chat.ID, in.UserID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Errorf(chatr.ENOTFOUND, "no such member")
	} else if err != nil {
		return err
	}
	switch memberRole(x.chat, target) {
	case chatr.RoleOwner:
		return chatr.Errorf(chatr.EFORBIDDEN, "the owner cannot be removed")
	case chatr.RoleModerator:
		if !x.owns() {
			return forbidden(toOwn.who(x.chat))
		}
	}
	if err := a.store.RemoveMember(ctx, x.chat.ID, target.UserID); err != nil {
		return err
	}
	a.logMod(ctx, chatr.ModEvent{Actor: x.user.ID, Action: "removeMember", TargetUser: target.UserID, ChatID: x.chat.ID})
	// The removed user hears memberLeft with the others, then
	// removedFromChat, and leaves the group last.
	if err := a.toMembers(ctx, x.chat.ID, target.UserID, membership("memberLeft", x.chat.ID, target.UserID, target.UserName)); err != nil {
		return err
	}
	if err := a.hub.SendToUser(ctx, target.UserID, serverEvent("removedFromChat", removedFromChat{x.chat.ID, x.user.ID})); err != nil {
		return err
	}
	return a.hub.RemoveUserFromGroup(ctx, target.UserID, x.chat.ID)
}

// roleChanged is the payload of memberRoleChanged.
type roleChanged struct {
	ChatID string `json:"chatId"`
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

// setRole handles {"chatId","userId","role"}.
func (a *App) setRole(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		ChatID string `json:"chatId"`
		UserID string `json:"userId"`
		Role   string `json:"role"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if !chatr.ValidRole(in.Role) {
		return chatr.Errorf(chatr.EINVALID, "role must be %q, %q or %q", chatr.RoleOwner, chatr.RoleModerator, chatr.RoleMember)
	}
	x, err := a.roomAccess(ctx, conn.UserID, in.ChatID, toOwn)
	if err != nil {
		return err
	}
	return a.changeRole(ctx, x.chat, x.user.ID, in.UserID, in.Role)
}

// changeRole gives a member a role (RoleOwner hands the chat over, the
// previous owner becoming a moderator), logs it and tells the members.
func (a *App) changeRole(ctx context.Context, c chatr.Chat, actor, userID, role string) error {
	if _, err := a.store.GetMember(ctx, c.ID, userID); chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Errorf(chatr.ENOTFOUND, "no such member")
	} else if err != nil {
		return err
	}
	if err := a.store.SetMemberRole(ctx, c.ID, userID, role); err != nil {
		return err
	}
	a.logMod(ctx, chatr.ModEvent{Actor: actor, Action: "setRole", TargetUser: userID, ChatID: c.ID, Detail: role})
	changed := []roleChanged{{c.ID, userID, role}}
	if role == chatr.RoleOwner && c.Owner != "" && c.Owner != userID {
		if prev, err := a.store.GetMember(ctx, c.ID, c.Owner); err == nil {
			changed = append(changed, roleChanged{c.ID, c.Owner, memberRole(chatr.Chat{}, prev)})
		}
	}
	for _, rc := range changed {
		if err := a.toMembers(ctx, c.ID, "role:"+rc.UserID, serverEvent("memberRoleChanged", rc)); err != nil {
			return err
		}
	}
	return nil
}

// handOver gives c, whose owner is leaving, to a moderator, else to the
// member who joined first; a chat whose last member leaves keeps its owner.
func (a *App) handOver(ctx context.Context, c chatr.Chat, leaver string) error {
	members, err := a.store.ListMembers(ctx, c.ID)
	if err != nil {
		return err
	}
	var heir string
	for _, m := range members {
		if m.UserID == leaver {
			continue
		}
		if memberRole(c, m) == chatr.RoleModerator {
			heir = m.UserID
			break
		}
		if heir == "" {
			heir = m.UserID
		}
	}
	if heir == "" {
		return nil
	}
	return a.changeRole(ctx, c, leaver, heir, chatr.RoleOwner)
}

// createGroupDM handles {"userIds":[...]}: a private chat of the caller and
// 2 to 8 others, the same chat for the same people in any order.
func (a *App) createGroupDM(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		UserIDs []string `json:"userIds"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if len(in.UserIDs) > chatr.MaxGroupDM {
		return chatr.Errorf(chatr.EINVALID, "a group DM has %d to %d people", chatr.MinGroupDM, chatr.MaxGroupDM)
	}
	ids := append([]string{conn.UserID}, in.UserIDs...)
	id, err := chatr.GroupDMID(ids)
	if err != nil {
		return err
	}
	var users []chatr.User
	for _, uid := range ids {
		if containsUser(users, uid) {
			continue
		}
		u, err := a.store.GetUser(ctx, uid)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			return chatr.Errorf(chatr.ENOTFOUND, "no such user")
		} else if err != nil {
			return err
		}
		users = append(users, u)
	}
	now := a.now().UTC()
	c := chatr.Chat{ID: id, Name: "group", Private: true, Created: now}
	if err := a.store.CreateChat(ctx, c); err != nil && chatr.ErrorCode(err) != chatr.ECONFLICT {
		return err
	}
	members := make([]chatr.Member, len(users))
	for i, u := range users {
		members[i] = chatr.Member{UserID: u.ID, UserName: u.Name, Role: chatr.RoleMember, Joined: now}
		if err := a.store.AddMember(ctx, id, members[i]); err != nil {
			return err
		}
		if err := a.hub.AddUserToGroup(ctx, u.ID, id); err != nil {
			return err
		}
	}
	for i, m := range members {
		if err := a.watchEachOther(ctx, m.UserID, members[i+1:]); err != nil {
			return err
		}
	}
	for _, m := range members {
		if err := a.announceOnline(ctx, m.UserID); err != nil {
			return err
		}
	}
	for _, u := range users {
		v := viewWith(c, members, u.ID)
		m := userEvent("joinPrivateChat", func(esc func(string) string) any {
			e := v.escaped(esc)
			return privateChat{ID: id, Name: e.Name, GrabFocus: u.ID == conn.UserID, Members: e.Members}
		})
		if err := a.hub.SendToUser(ctx, u.ID, m); err != nil {
			return err
		}
	}
	return nil
}

func containsUser(us []chatr.User, id string) bool {
	for _, u := range us {
		if u.ID == id {
			return true
		}
	}
	return false
}

// isNameTaken tells the ECONFLICT of a taken public name from others.
func isNameTaken(err error) bool { return errors.Is(err, chatr.ErrChatNameTaken) }

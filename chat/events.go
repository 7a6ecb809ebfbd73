package chat

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// Event dispatches a user event by name. Each handler takes the caller's
// identity from conn, never from the event's data.
func (a *App) Event(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) (_ *hub.Payload, err error) {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	defer func() { err = timedOut(ctx, err) }()
	switch ev.Name {
	case "createChat", "joinChat", "leaveChat", "deleteChat", "createPrivateChat", "userEnterIdle", "userExitIdle", "watchPresence", "watchChats",
		"updateChat", "inviteMembers", "removeMember", "setRole", "createGroupDM", "editMessage", "deleteMessage":
		// Each writes to the store, most are broadcast: a flood is slowed
		// down like a flood of messages. typing has its own throttle.
		if !a.events.Allow(conn.UserID, a.now()) {
			return nil, &hub.AckError{Name: "TooManyRequests", Message: "slow down: too many events"}
		}
	case "react":
		// Its own budget: a burst of reactions must not use up the others.
		if !a.reactions.Allow(conn.UserID, a.now()) {
			return nil, &hub.AckError{Name: "TooManyRequests", Message: "slow down: too many reactions"}
		}
	case "typing":
		// Checked before anything else: a flood of typing frames must cost
		// neither store reads nor broadcasts.
		if !a.typingBudget.Allow(conn.UserID, a.now()) {
			return nil, &hub.AckError{Name: "TooManyRequests", Message: "slow down: too many typing events"}
		}
	case "markRead":
		// The browser sends one per message it shows: in a busy chat these
		// may be refused (the next one catches up, markers only move
		// forward) but must not use up the budget of the events above.
		if !a.reads.Allow(conn.UserID, a.now()) {
			return nil, &hub.AckError{Name: "TooManyRequests", Message: "slow down: too many read markers"}
		}
	}
	switch ev.Name {
	case "userConnected":
		// The original client announces itself; the server knows already.
	case "createChat":
		err = a.createChat(ctx, conn, ev)
	case "joinChat":
		err = a.joinChat(ctx, conn, ev)
	case "leaveChat":
		err = a.leaveChat(ctx, conn, ev)
	case "deleteChat":
		err = a.deleteChat(ctx, conn, ev)
	case "createPrivateChat":
		err = a.createPrivateChat(ctx, conn, ev)
	case "userEnterIdle":
		err = a.setIdle(ctx, conn, true)
	case "userExitIdle":
		err = a.setIdle(ctx, conn, false)
	case "typing":
		err = a.typingEvent(ctx, conn, ev)
	case "markRead":
		err = a.markRead(ctx, conn, ev)
	case "watchPresence":
		err = a.watchPresence(ctx, conn, ev)
	case "watchChats":
		err = a.watchChats(ctx, conn, ev)
	case "updateChat":
		err = a.updateChat(ctx, conn, ev)
	case "inviteMembers":
		err = a.inviteMembers(ctx, conn, ev)
	case "removeMember":
		err = a.removeMember(ctx, conn, ev)
	case "setRole":
		err = a.setRole(ctx, conn, ev)
	case "createGroupDM":
		err = a.createGroupDM(ctx, conn, ev)
	case "editMessage":
		err = a.editMessage(ctx, conn, ev)
	case "deleteMessage":
		err = a.deleteMessage(ctx, conn, ev)
	case "react":
		err = a.react(ctx, conn, ev)
	default:
		err = chatr.Errorf(chatr.EINVALID, "unknown event %q", truncate(ev.Name, 64))
	}
	return nil, ackError(err)
}

// chatIDPattern is what a client-chosen chat id may look like (UUIDs and
// similar); "private_" ids are the server's own.
var chatIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func (a *App) createChat(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		Name       string `json:"name"`
		ID         string `json:"id"`
		Visibility string `json:"visibility"`
		Topic      string `json:"topic"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	name, err := a.cleanChatName(in.Name)
	if err != nil {
		return err
	}
	topic, err := a.cleanTopic(in.Topic)
	if err != nil {
		return err
	}
	id := in.ID
	if id == "" {
		id = newUUID()
	} else if !chatIDPattern.MatchString(id) || strings.HasPrefix(id, "private_") || strings.HasPrefix(id, "dm_") {
		return chatr.Errorf(chatr.EINVALID, "chat id must be 1-64 letters, digits, - or _")
	}
	c := chatr.Chat{ID: id, Name: name, Owner: conn.UserID, Created: a.now().UTC(), Visibility: in.Visibility, Topic: topic}
	if err := a.store.CreateChat(ctx, c); err != nil {
		if chatr.ErrorCode(err) == chatr.ECONFLICT && !isNameTaken(err) {
			// As the original answers: clients take it for "use that chat".
			return &hub.AckError{Name: "Duplicate", Message: "a chat with this id exists already"}
		}
		return err
	}
	if c, err = a.store.GetChat(ctx, id); err != nil {
		return err
	}
	if !c.IsPublic() {
		// No one else may see a private chat: its creator is its first
		// member.
		u, err := a.store.GetUser(ctx, conn.UserID)
		if err != nil {
			return err
		}
		if err := a.store.AddMember(ctx, id, chatr.Member{UserID: u.ID, UserName: u.Name, Role: chatr.RoleOwner, Joined: c.Created}); err != nil {
			return err
		}
		if err := a.hub.AddUserToGroup(ctx, u.ID, id); err != nil {
			return err
		}
	}
	return a.announceChat(ctx, c, conn.UserID)
}

// cleanChatName trims a chat name and checks its length and characters.
func (a *App) cleanChatName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", chatr.Errorf(chatr.EINVALID, "chat name must not be empty")
	case !utf8.ValidString(name):
		return "", chatr.Errorf(chatr.EINVALID, "chat name must be valid UTF-8")
	case utf8.RuneCountInString(name) > a.limits.MaxChatNameLength:
		return "", chatr.Errorf(chatr.EINVALID, "chat name must be at most %d characters", a.limits.MaxChatNameLength)
	}
	for _, r := range name {
		// Format characters (bidi overrides, zero-width joiners) would let a
		// name pose as another one in the chat list, as user names may not.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", chatr.Errorf(chatr.EINVALID, "chat name must not contain control characters")
		}
	}
	return name, nil
}

func (a *App) joinChat(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	chatID, err := decodeChatID(ev)
	if err != nil {
		return err
	}
	// A member's client re-joining (every chat at every reconnect): its
	// connection takes the group, nothing is stored or told. A connection
	// that Connect put in the chat's group is a member's (see inGroup);
	// otherwise one read decides it (a chat's members go with the chat).
	if a.inGroup(conn, chatID) {
		return a.hub.AddUserToGroup(ctx, conn.UserID, chatID)
	}
	if member, err := a.store.IsMember(ctx, chatID, conn.UserID); err != nil {
		return err
	} else if member {
		return a.hub.AddUserToGroup(ctx, conn.UserID, chatID)
	}
	c, member, err := a.visibleChat(ctx, conn, chatID)
	if err != nil {
		return err
	}
	if member { // joined meanwhile by another connection of the user
		return a.hub.AddUserToGroup(ctx, conn.UserID, chatID)
	}
	u, err := a.store.GetUser(ctx, conn.UserID)
	if err != nil {
		return err
	}
	if err := a.store.AddMember(ctx, chatID, chatr.Member{UserID: u.ID, UserName: u.Name, Joined: a.now().UTC()}); err != nil {
		return err
	}
	if err := a.hub.AddUserToGroup(ctx, u.ID, chatID); err != nil {
		return err
	}
	return a.welcome(ctx, c, u)
}

// errNoSuchChat is the one answer for a chat that does not exist and for
// one the caller may not see (another pair's private chat): two answers
// would tell anyone who talks privately with whom.
var errNoSuchChat = chatr.Errorf(chatr.ENOTFOUND, "no such chat")

// visibleChat returns the chat and whether the caller is a member, or
// errNoSuchChat when the chat does not exist or is a private chat of others
// (a DM, a group DM or a private group chat).
func (a *App) visibleChat(ctx context.Context, conn *hub.ConnInfo, chatID string) (chatr.Chat, bool, error) {
	c, err := a.store.GetChat(ctx, chatID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Chat{}, false, errNoSuchChat
	} else if err != nil {
		return chatr.Chat{}, false, err
	}
	member, err := a.store.IsMember(ctx, chatID, conn.UserID)
	if err != nil {
		return chatr.Chat{}, false, err
	}
	if !c.IsPublic() && !member {
		return chatr.Chat{}, false, errNoSuchChat
	}
	return c, member, nil
}

// membership is a memberJoined or memberLeft event (name) about the user
// in the chat.
func membership(name, chatID, userID, userName string) hub.Message {
	return userEvent(name, func(esc func(string) string) any { return memberEvent{chatID, userID, esc(userName)} })
}

// memberEvent is the payload of memberJoined and memberLeft.
type memberEvent struct {
	ChatID   string `json:"chatId"`
	UserID   string `json:"userId"`
	UserName string `json:"userName"`
}

func (a *App) leaveChat(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	chatID, err := decodeChatID(ev)
	if err != nil {
		var in struct {
			ChatID string `json:"chatId"`
		}
		if decodeObject(ev, &in) != nil || in.ChatID == "" {
			return chatr.Errorf(chatr.EINVALID, `leaveChat takes "<chatId>" or {"chatId": "..."}`)
		}
		chatID = in.ChatID
	}
	me, err := a.store.GetMember(ctx, chatID, conn.UserID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Errorf(chatr.ENOTFOUND, "you are not a member of this chat")
	} else if err != nil {
		return err
	}
	u, err := a.store.GetUser(ctx, conn.UserID)
	if err != nil {
		return err
	}
	c, err := a.store.GetChat(ctx, chatID)
	if err != nil {
		return err
	}
	if c.Kind() == chatr.KindGroup && memberRole(c, me) == chatr.RoleOwner {
		if err := a.handOver(ctx, c, u.ID); err != nil {
			return err
		}
	}
	if err := a.store.RemoveMember(ctx, chatID, u.ID); err != nil {
		return err
	}
	// The leaver hears memberLeft too (its other tabs drop the chat), so
	// the event goes before the group is left. A large chat's members hear
	// the count once per window instead.
	left := membership("memberLeft", chatID, u.ID, u.Name)
	if a.large.is(chatID) {
		a.crowdChanged(chatID)
		if err := a.toSelf(ctx, u.ID, left); err != nil {
			return err
		}
		return a.hub.RemoveUserFromGroup(ctx, u.ID, chatID)
	}
	if err := a.toMembers(ctx, chatID, u.ID, left); err != nil {
		return err
	}
	if err := a.hub.RemoveUserFromGroup(ctx, u.ID, chatID); err != nil {
		return err
	}
	return a.hub.SendToGroup(ctx, chatID, announcement("💨 "+escape(u.Name)+" has left the chat"))
}

func (a *App) deleteChat(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	chatID, err := decodeChatID(ev)
	if err != nil {
		return err
	}
	x, err := a.access(ctx, conn.UserID, chatID)
	if err != nil {
		return err
	}
	if x.chat.Kind() != chatr.KindGroup {
		return chatr.Errorf(chatr.EFORBIDDEN, "private chats cannot be deleted")
	}
	if !x.moderates() {
		return forbidden(toModerate.who(x.chat))
	}
	if err := a.store.DeleteChat(ctx, chatID); err != nil {
		return err
	}
	a.logMod(ctx, chatr.ModEvent{Actor: x.user.ID, Action: "deleteChat", ChatID: chatID, Detail: x.chat.Name})
	deleted := serverEvent("chatDeleted", chatID)
	if x.chat.IsPublic() {
		// Those who list public chats know it too.
		if err := a.toChatList(ctx, deleted); err != nil {
			return err
		}
	}
	// The members hear it before the group goes.
	deleted.AsServer = true
	if err := a.hub.SendToGroup(ctx, chatID, deleted); err != nil {
		return err
	}
	return a.hub.RemoveGroup(ctx, chatID)
}

// privateChat is the payload of joinPrivateChat.
type privateChat struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	GrabFocus bool   `json:"grabFocus"`
	// Members lists a group DM's members, so that every member's client
	// can show the chat at once.
	Members map[string]MemberView `json:"members,omitempty"`
}

func (a *App) createPrivateChat(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		TargetUserID string `json:"targetUserId"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if in.TargetUserID == "" || in.TargetUserID == conn.UserID {
		return chatr.Errorf(chatr.EINVALID, "targetUserId must name another user")
	}
	me, err := a.store.GetUser(ctx, conn.UserID)
	if err != nil {
		return err
	}
	target, err := a.store.GetUser(ctx, in.TargetUserID)
	if err != nil {
		return err
	}
	id := chatr.PrivateChatID(me.ID, target.ID)
	now := a.now().UTC()
	err = a.store.CreateChat(ctx, chatr.Chat{ID: id, Name: "private", Private: true, Created: now})
	if err != nil && chatr.ErrorCode(err) != chatr.ECONFLICT {
		return err
	}
	for _, u := range []chatr.User{target, me} {
		if err := a.store.AddMember(ctx, id, chatr.Member{UserID: u.ID, UserName: u.Name, Joined: now}); err != nil {
			return err
		}
		if err := a.hub.AddUserToGroup(ctx, u.ID, id); err != nil {
			return err
		}
	}
	// DM partners always show each other's presence.
	if err := a.watchEachOther(ctx, me.ID, []chatr.Member{{UserID: target.ID}}); err != nil {
		return err
	}
	for _, id := range []string{me.ID, target.ID} {
		if err := a.announceOnline(ctx, id); err != nil {
			return err
		}
	}
	if err := a.hub.SendToUser(ctx, target.ID, userEvent("joinPrivateChat", func(esc func(string) string) any { return privateChat{ID: id, Name: "Chat with " + esc(me.Name)} })); err != nil {
		return err
	}
	if err := a.hub.SendToUser(ctx, me.ID, userEvent("joinPrivateChat", func(esc func(string) string) any {
		return privateChat{ID: id, Name: "Chat with " + esc(target.Name), GrabFocus: true}
	})); err != nil {
		return err
	}
	return a.hub.SendToGroup(ctx, id, announcement("💬 "+escape(me.Name)+" wants to chat"))
}

func (a *App) setIdle(ctx context.Context, conn *hub.ConnInfo, idle bool) error {
	if err := a.store.SetIdle(ctx, conn.UserID, idle, a.now()); err != nil {
		return err
	}
	name := "userNotIdle"
	if idle {
		name = "userIsIdle"
	}
	return a.toWatchers(ctx, conn.UserID, "idle", serverEvent(name, conn.UserID))
}

// typingEvent forwards a typing indicator to the chat's group. It reads
// nothing from the store: membership is the connection's own group (the
// chat puts a connection in a group only for a member, see inGroup) and
// the name is the one held for the connected user.
func (a *App) typingEvent(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		ChatID string `json:"chatId"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if !a.inGroup(conn, in.ChatID) {
		return chatr.Errorf(chatr.EFORBIDDEN, "you are not in this chat")
	}
	name, ok := a.names.get(conn.UserID)
	if !ok {
		return chatr.Errorf(chatr.EFORBIDDEN, "you are not in this chat")
	}
	key := conn.UserID + "\x00" + in.ChatID
	now := a.now()
	a.mu.Lock()
	if len(a.typing) > 10000 {
		for k, t := range a.typing {
			if now.Sub(t) > typingInterval {
				delete(a.typing, k)
			}
		}
	}
	last, throttled := a.typing[key]
	throttled = throttled && now.Sub(last) < typingInterval
	if !throttled {
		a.typing[key] = now
	}
	a.mu.Unlock()
	if throttled {
		return nil
	}
	m := userEvent("typing", func(esc func(string) string) any { return memberEvent{in.ChatID, conn.UserID, esc(name)} })
	m.AsServer, m.ExcludeConn = true, conn.ID
	return a.hub.SendToGroup(ctx, in.ChatID, m)
}

func (a *App) markRead(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		ChatID    string `json:"chatId"`
		MessageID int64  `json:"messageId"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if in.MessageID < 0 {
		return chatr.Errorf(chatr.EINVALID, "messageId must not be negative")
	}
	member, err := a.store.IsMember(ctx, in.ChatID, conn.UserID)
	if err != nil {
		return err
	}
	if !member {
		return chatr.Errorf(chatr.ENOTFOUND, "you are not a member of this chat")
	}
	if err := a.store.MarkRead(ctx, conn.UserID, in.ChatID, in.MessageID); err != nil {
		return err
	}
	return a.tellRead(ctx, conn, in.ChatID)
}

// decodeObject decodes a JSON object event payload into v.
func decodeObject(ev *hub.Event, v any) error {
	if (ev.DataType != "" && ev.DataType != "json") || len(ev.Data) == 0 || ev.Data[0] != '{' {
		return chatr.Errorf(chatr.EINVALID, "%s takes a JSON object", truncate(ev.Name, 64))
	}
	if err := json.Unmarshal(ev.Data, v); err != nil {
		return chatr.Errorf(chatr.EINVALID, "%s: bad field types", truncate(ev.Name, 64))
	}
	return nil
}

// decodeChatID reads a chat id sent as text or as a JSON string.
func decodeChatID(ev *hub.Event) (string, error) {
	id := string(ev.Data)
	if ev.DataType == "" || ev.DataType == "json" {
		if err := json.Unmarshal(ev.Data, &id); err != nil {
			return "", chatr.Errorf(chatr.EINVALID, "%s takes a chat id", ev.Name)
		}
	}
	if id == "" || len(id) > 300 || !utf8.ValidString(id) {
		return "", chatr.Errorf(chatr.EINVALID, "%s takes a chat id", ev.Name)
	}
	return id, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

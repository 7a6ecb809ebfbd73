package chat

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// Budgets of the message events.
const (
	reactionsPerSecond = 5  // sustained reactions per user
	reactionBurst      = 20 // reactions a user may make at once
	maxEmojiRunes      = 16 // code points of one emoji (a family with skin tones is 11)
	maxMentionHandles  = 20 // distinct @handles of one message looked up; the rest are text
)

// messageRef is the data of deleteMessage, and the start of editMessage and
// react: which message.
type messageRef struct {
	ChatID string `json:"chatId"`
	ID     int64  `json:"id"`
}

// messageEdited, messageDeleted and reactionChanged are the chat events
// members receive about a message.
type messageEdited struct {
	ChatID   string         `json:"chatId"`
	ID       int64          `json:"id"`
	Message  string         `json:"message"`
	Edited   string         `json:"edited"`
	Mentions chatr.Mentions `json:"mentions,omitzero"`
}

type messageDeleted struct {
	ChatID    string `json:"chatId"`
	ID        int64  `json:"id"`
	DeletedAt string `json:"deletedAt"`
	By        string `json:"by"`
}

type reactionChanged struct {
	ChatID    string           `json:"chatId"`
	ID        int64            `json:"id"`
	Reactions []chatr.Reaction `json:"reactions"`
}

// errNoSuchMessage is the one answer for a missing message and for one in
// a chat the caller is not a member of.
var errNoSuchMessage = chatr.Errorf(chatr.ENOTFOUND, "no such message")

// decodeRef checks the chat and id of a message event.
func decodeRef(r messageRef) error {
	if r.ChatID == "" || len(r.ChatID) > 300 || !utf8.ValidString(r.ChatID) || r.ID <= 0 {
		return chatr.Errorf(chatr.EINVALID, "chatId and id must name a message")
	}
	return nil
}

// member returns the caller's membership of the chat, or errNoSuchMessage
// when there is none.
func (a *App) member(ctx context.Context, conn *hub.ConnInfo, chatID string) (chatr.Member, error) {
	m, err := a.store.GetMember(ctx, chatID, conn.UserID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Member{}, errNoSuchMessage
	}
	return m, err
}

// getMessage returns the message, ENOTFOUND as errNoSuchMessage.
func (a *App) getMessage(ctx context.Context, chatID string, id int64) (chatr.Message, error) {
	m, err := a.store.GetMessage(ctx, chatID, id)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return chatr.Message{}, errNoSuchMessage
	}
	return m, err
}

// editMessage replaces the text of the caller's own message. Sending the
// text the message has already (a retry) changes and announces nothing.
func (a *App) editMessage(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		messageRef
		Message string `json:"message"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if err := decodeRef(in.messageRef); err != nil {
		return err
	}
	text, err := a.checkText(in.Message)
	if err != nil {
		return err
	}
	if _, err := a.member(ctx, conn, in.ChatID); err != nil {
		return err
	}
	old, err := a.getMessage(ctx, in.ChatID, in.ID)
	if err != nil {
		return err
	}
	switch {
	case old.FromUserID != conn.UserID:
		return chatr.Errorf(chatr.EFORBIDDEN, "only its author may edit a message")
	case old.Deleted:
		return chatr.Errorf(chatr.ECONFLICT, "the message was deleted")
	}
	mentions, err := a.mentions(ctx, in.ChatID, conn.UserID, text)
	if err != nil {
		return err
	}
	if old.Text == text {
		return nil
	}
	m, err := a.store.EditMessage(ctx, chatr.MessageEdit{
		ChatID: in.ChatID, ID: in.ID, EditorID: conn.UserID, Text: text, Mentions: mentions, At: a.now().UTC(),
	})
	if err != nil {
		return err
	}
	ev2 := userEvent("messageEdited", func(esc func(string) string) any {
		return messageEdited{m.ChatID, m.ID, esc(m.Text), stamp(m.Edited), m.Mentions}
	})
	return a.announce(ctx, m.ChatID, m.ID, ev2)
}

// deleteMessage deletes a message: its author's own, or any for the chat's
// owner and moderators and the server's admins, whose deletions of others'
// messages go to the moderation log. Deleting a deleted message (a retry)
// announces nothing.
func (a *App) deleteMessage(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in messageRef
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if err := decodeRef(in); err != nil {
		return err
	}
	role, err := a.moderationRole(ctx, conn, in.ChatID)
	if err != nil {
		return err
	}
	old, err := a.getMessage(ctx, in.ChatID, in.ID)
	if err != nil {
		return err
	}
	if old.FromUserID != conn.UserID && role == chatr.RoleMember {
		return chatr.Errorf(chatr.EFORBIDDEN, "only its author or a moderator may delete a message")
	}
	if old.Deleted {
		return nil
	}
	m, err := a.store.DeleteMessage(ctx, in.ChatID, in.ID, a.now().UTC())
	if err != nil {
		return err
	}
	if m.FromUserID != conn.UserID {
		if _, err := a.store.AddModEvent(ctx, chatr.ModEvent{
			Actor: conn.UserID, Action: "deleteMessage", TargetUser: m.FromUserID, ChatID: m.ChatID, MessageID: m.ID, At: m.DeletedAt,
		}); err != nil {
			return err
		}
	}
	return a.announce(ctx, m.ChatID, m.ID, serverEvent("messageDeleted", messageDeleted{m.ChatID, m.ID, stamp(m.DeletedAt), conn.UserID}))
}

// moderationRole returns the caller's standing in the chat for deleting:
// the member's role, "admin" for a server admin who is not the chat's owner
// or a moderator, errNoSuchMessage for anyone else.
func (a *App) moderationRole(ctx context.Context, conn *hub.ConnInfo, chatID string) (string, error) {
	m, err := a.store.GetMember(ctx, chatID, conn.UserID)
	switch {
	case err == nil && (m.Role == chatr.RoleOwner || m.Role == chatr.RoleModerator):
		return m.Role, nil
	case err != nil && chatr.ErrorCode(err) != chatr.ENOTFOUND:
		return "", err
	}
	member := err == nil
	u, err := a.store.GetUser(ctx, conn.UserID)
	if err != nil {
		return "", err
	}
	switch {
	case a.IsAdmin(u):
		return "admin", nil
	case !member:
		return "", errNoSuchMessage
	}
	return chatr.RoleMember, nil
}

// react sets or toggles the caller's reaction on a message. With "on" the
// reaction is made to be on or off, so that a retry whose first attempt
// took effect changes nothing; without it, it is toggled.
func (a *App) react(ctx context.Context, conn *hub.ConnInfo, ev *hub.Event) error {
	var in struct {
		messageRef
		Emoji string `json:"emoji"`
		On    *bool  `json:"on"`
	}
	if err := decodeObject(ev, &in); err != nil {
		return err
	}
	if err := decodeRef(in.messageRef); err != nil {
		return err
	}
	if !isEmoji(in.Emoji) {
		return chatr.Errorf(chatr.EINVALID, "emoji must be one emoji")
	}
	if _, err := a.member(ctx, conn, in.ChatID); err != nil {
		return err
	}
	on, reactions, err := a.store.ToggleReaction(ctx, in.ChatID, in.ID, conn.UserID, in.Emoji)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		return errNoSuchMessage
	} else if err != nil {
		return err
	}
	if in.On != nil && on != *in.On {
		// It was as asked already: toggle it back, and nothing changed.
		_, _, err := a.store.ToggleReaction(ctx, in.ChatID, in.ID, conn.UserID, in.Emoji)
		return err
	}
	if reactions == nil {
		reactions = []chatr.Reaction{}
	}
	m := serverEvent("reactionChanged", reactionChanged{in.ChatID, in.ID, reactions})
	// Each change carries the message's reactions whole: a burst on one
	// message goes out as the latest state to clients that take batches.
	m.Batch = &hub.Batch{Name: "reactions", Key: in.ChatID + "\x00" + strconv.FormatInt(in.ID, 10)}
	return a.announce(ctx, in.ChatID, in.ID, m)
}

// announce sends an event about message id to the chat's members, after
// the message itself and the events about the chat before it (see
// sequencer.after).
func (a *App) announce(ctx context.Context, chatID string, id int64, m hub.Message) error {
	m.AsServer = true
	sent := a.order.after(chatID, id, func() error {
		// Released perhaps by another call whose deadline is not this one's.
		ctx, cancel := context.WithTimeout(context.Background(), a.storeTimeout)
		defer cancel()
		return a.hub.SendToGroup(ctx, chatID, m)
	})
	select {
	case err := <-sent:
		return err
	case <-ctx.Done():
		// Stored, and sent when its turn comes.
		return ctx.Err()
	}
}

// tellRead tells every connection of the user (the one that moved the
// marker too) where the chat's read marker is now and how many of its
// messages are left unread and mention the user, as the store counts them
// (chatRead): the browser counts only the messages it has loaded, and
// every device shows the same numbers.
func (a *App) tellRead(ctx context.Context, conn *hub.ConnInfo, chatID string) error {
	u, err := a.store.ChatUnread(ctx, conn.UserID, chatID)
	if err != nil {
		return err
	}
	m := serverEvent("chatRead", struct {
		ChatID    string `json:"chatId"`
		MessageID int64  `json:"messageId"`
		Unread    int    `json:"unread"`
		Mentions  int    `json:"mentions"`
	}{chatID, u.ReadUpTo, u.Unread, u.Mentions})
	return a.hub.SendToUser(ctx, conn.UserID, m)
}

// checkText trims a message text and checks it as Publish does.
func (a *App) checkText(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", chatr.Errorf(chatr.EINVALID, "message must not be empty")
	case len(s) > a.limits.MaxMessageBytes:
		return "", chatr.Errorf(chatr.EINVALID, "message too long")
	case !utf8.ValidString(s):
		return "", chatr.Errorf(chatr.EINVALID, "message must be valid UTF-8")
	}
	return s, nil
}

// mentionPattern finds @handles: an @ not inside a word or an address,
// then the characters of a handle (see chatr.HandleBase).
var mentionPattern = regexp.MustCompile(`(?:^|[^A-Za-z0-9_@.\-])@([A-Za-z0-9_\-]{1,40})`)

// codePattern finds code spans and blocks, whose @ is not a mention.
var codePattern = regexp.MustCompile("(?s)```.*?```|`[^`\n]*`")

// mentions resolves the @handles of text to the members of the chat they
// name. Only the first maxMentionHandles distinct handles are looked up.
func (a *App) mentions(ctx context.Context, chatID, senderID, text string) (chatr.Mentions, error) {
	if !strings.Contains(text, "@") {
		return chatr.Mentions{}, nil
	}
	text = codePattern.ReplaceAllString(text, " ")
	seen := map[string]bool{}
	var out chatr.Mentions
	for _, m := range mentionPattern.FindAllStringSubmatch(text, -1) {
		h := chatr.NormalHandle(m[1])
		if seen[h] {
			continue
		}
		if len(seen) == maxMentionHandles {
			break
		}
		seen[h] = true
		switch h {
		case chatr.MentionHere:
			out.Here = true
			continue
		case chatr.MentionAll:
			out.All = true
			continue
		}
		u, err := a.store.GetUserByHandle(ctx, h)
		if chatr.ErrorCode(err) == chatr.ENOTFOUND {
			continue
		} else if err != nil {
			return chatr.Mentions{}, err
		}
		if ok, err := a.store.IsMember(ctx, chatID, u.ID); err != nil {
			return chatr.Mentions{}, err
		} else if ok {
			out.Users = append(out.Users, u.ID)
		}
	}
	if out.Here || out.All {
		if err := a.mentionMany(ctx, chatID, senderID, &out); err != nil {
			return chatr.Mentions{}, err
		}
	}
	return chatr.NormalMentions(out), nil
}

// mentionMany resolves @here and @all. @all mentions every member (the
// stores count it for each); in a chat of more than Limits.MentionAllMax
// members only its owner, moderators and admins may use it. @here lists
// the members online now, the sender aside, in Users: stores count a
// mention for the users listed there.
func (a *App) mentionMany(ctx context.Context, chatID, senderID string, m *chatr.Mentions) error {
	members, err := a.store.ListMembers(ctx, chatID)
	if err != nil {
		return err
	}
	if m.All && len(members) > a.limits.MentionAllMax {
		x, err := a.access(ctx, senderID, chatID)
		if err != nil {
			return err
		}
		if !x.moderates() {
			return chatr.Errorf(chatr.EFORBIDDEN, "in a chat of more than %d members only its owner and moderators may mention @all", a.limits.MentionAllMax)
		}
	}
	if !m.Here {
		return nil
	}
	online, err := a.presence.Online(ctx)
	if err != nil {
		return err
	}
	isOnline := make(map[string]bool, len(online))
	for _, id := range online {
		isOnline[id] = true
	}
	for _, mem := range members {
		if isOnline[mem.UserID] && mem.UserID != senderID && len(m.Users) < chatr.MaxMentionUsers {
			m.Users = append(m.Users, mem.UserID)
		}
	}
	return nil
}

// isEmoji reports whether s is one emoji: a short sequence of pictographs
// with their modifiers, joiners, variation selectors and tags, a flag, or
// a keycap. Letters, words and markup are not.
func isEmoji(s string) bool {
	if s == "" || len(s) > chatr.MaxEmoji || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxEmojiRunes {
		return false
	}
	pictographs, keycap := 0, strings.ContainsRune(s, 0x20E3)
	for _, r := range s {
		switch {
		case r == 0x200D, r == 0xFE0E, r == 0xFE0F, r == 0x20E3, r >= 0xE0020 && r <= 0xE007F, r >= 0x1F3FB && r <= 0x1F3FF:
			// joiner, variation selectors, keycap, tags, skin tones
		case keycap && (r == '#' || r == '*' || r >= '0' && r <= '9'):
			pictographs++
		case r >= 0x80 && unicode.Is(unicode.So, r):
			pictographs++
		default:
			return false
		}
	}
	return pictographs > 0
}

// stamp is the wire form of a stored time.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

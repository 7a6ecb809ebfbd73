package chat

import (
	"context"
	"strings"
	"time"

	"github.com/chatr/chatr"
)

// ChatView is a chat as clients see it: in GET /api/chats and
// /api/chats/{id}, and in the chatCreated, chatUpdated and addedToChat
// events. Joined and Role are the viewer's; they are left out of events
// that go to many connections at once.
type ChatView struct {
	ID            string                `json:"id"`
	Name          string                `json:"name"`
	Owner         string                `json:"owner,omitempty"`
	Members       map[string]MemberView `json:"members"`
	Private       bool                  `json:"private,omitempty"`
	Kind          string                `json:"kind"`
	Visibility    string                `json:"visibility"`
	Topic         string                `json:"topic,omitempty"`
	InvitePolicy  string                `json:"invitePolicy,omitempty"`
	Joined        bool                  `json:"joined,omitempty"`
	Role          string                `json:"role,omitempty"`
	LastMessageAt time.Time             `json:"lastMessageAt,omitzero"`
}

// MemberView is one member in a ChatView.
type MemberView struct {
	UserID   string `json:"userId"`
	UserName string `json:"userName"`
	Role     string `json:"role,omitempty"`
}

// baseView is the chat's own fields, without members or the viewer's.
func baseView(c chatr.Chat) ChatView {
	v := ChatView{
		ID: c.ID, Name: c.Name, Owner: c.Owner, Private: c.Private, Kind: c.Kind(),
		Visibility: c.Visibility, Topic: c.Topic, InvitePolicy: c.InvitePolicy,
		LastMessageAt: c.LastMessageAt, Members: map[string]MemberView{},
	}
	if v.Visibility == "" {
		v.Visibility = chatr.VisibilityPublic
		if !c.IsPublic() {
			v.Visibility = chatr.VisibilityPrivate
		}
	}
	return v
}

// viewWith is the chat as viewer sees it, given its members: direct
// messages and group DMs are named after the others in them.
func viewWith(c chatr.Chat, members []chatr.Member, viewer string) ChatView {
	v := baseView(c)
	var others []string
	for _, m := range members {
		role := memberRole(c, m)
		v.Members[m.UserID] = MemberView{m.UserID, m.UserName, role}
		if m.UserID == viewer {
			v.Joined, v.Role = true, role
		} else {
			others = append(others, m.UserName)
		}
	}
	if c.Private && len(others) > 0 {
		v.Name = "Chat with " + strings.Join(others, ", ")
	}
	return v
}

// escaped is v with every user-written text HTML-escaped by esc.
func (v ChatView) escaped(esc func(string) string) ChatView {
	v.Name, v.Topic = esc(v.Name), esc(v.Topic)
	ms := make(map[string]MemberView, len(v.Members))
	for id, m := range v.Members {
		m.UserName = esc(m.UserName)
		ms[id] = m
	}
	v.Members = ms
	return v
}

// memberRole is the member's role, for memberships stored before roles
// existed too.
func memberRole(c chatr.Chat, m chatr.Member) string {
	switch {
	case m.Role != "":
		return m.Role
	case m.UserID == c.Owner:
		return chatr.RoleOwner
	default:
		return chatr.RoleMember
	}
}

// View returns the chat as viewer sees it, with its members.
func (a *App) View(ctx context.Context, c chatr.Chat, viewer string) (ChatView, error) {
	members, err := a.store.ListMembers(ctx, c.ID)
	if err != nil {
		return ChatView{}, err
	}
	return viewWith(c, members, viewer), nil
}

package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/hub"
)

// getToken mints a hub access token for the caller. The original took the
// user id from the query; here it comes from the session, and a query
// naming anyone else is refused.
func (h *Handler) getToken(w http.ResponseWriter, r *http.Request, u chatr.User) {
	if q := r.URL.Query().Get("userId"); q != "" && q != u.ID {
		h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "a token can only be had for yourself"))
		return
	}
	scheme, wsScheme := "http", "ws"
	if h.cfg.Auth.IsTLS(r) {
		scheme, wsScheme = "https", "wss"
	}
	path := "/client/hubs/" + h.cfg.HubName
	now := time.Now()
	token, err := hub.MintToken(h.cfg.HubKey, hub.Claims{
		UserID:   u.ID,
		Roles:    []string{"webpubsub.sendToGroup", "webpubsub.joinLeaveGroup"},
		Audience: scheme + "://" + h.host(r) + path,
		IssuedAt: now,
		Expires:  now.Add(h.cfg.TokenTTL),
	})
	if err != nil {
		h.Error(w, r, err)
		return
	}
	base := wsScheme + "://" + h.host(r) + path
	writeJSON(w, http.StatusOK, map[string]string{
		"token": token, "baseUrl": base, "url": base + "?access_token=" + url.QueryEscape(token),
	})
}

// userView is a user as /api/users shows it.
type userView struct {
	UserID       string    `json:"userId"`
	UserName     string    `json:"userName"`
	UserProvider string    `json:"userProvider"`
	Idle         bool      `json:"idle"`
	LastSeen     time.Time `json:"lastSeen,omitzero"`
}

// users lists the users online now, the original's answer; with ?all=1 or
// ?q= it pages through the people directory instead (people.go).
func (h *Handler) users(w http.ResponseWriter, r *http.Request, u chatr.User) {
	if q := r.URL.Query(); q.Has("all") || q.Has("q") {
		h.directory(w, r, u)
		return
	}
	online, err := h.cfg.App.Online(r.Context())
	if err != nil {
		h.Error(w, r, err)
		return
	}
	users := make(map[string]userView, len(online))
	for _, u := range online {
		users[u.ID] = userView{u.ID, u.Name, u.Provider, u.Idle, u.LastSeen}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}

type memberView struct {
	UserID   string `json:"userId"`
	UserName string `json:"userName"`
}

type chatView struct {
	ID      string                `json:"id"`
	Name    string                `json:"name"`
	Owner   string                `json:"owner,omitempty"`
	Members map[string]memberView `json:"members"`
	Private bool                  `json:"private,omitempty"`
}

// chats lists every group chat, plus the caller's private chats and unread
// counts under keys of their own so that the original client is unaffected.
func (h *Handler) chats(w http.ResponseWriter, r *http.Request, u chatr.User) {
	ctx := r.Context()
	groups, err := h.cfg.Store.ListGroupChats(ctx)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	mine, err := h.cfg.Store.ListUserChats(ctx, u.ID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	unread, err := h.cfg.Store.UnreadCounts(ctx, u.ID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	chats := make(map[string]chatView, len(groups))
	for _, c := range groups {
		v, err := h.chatView(ctx, c, u.ID)
		if err != nil {
			h.Error(w, r, err)
			return
		}
		chats[c.ID] = v
	}
	private := make(map[string]chatView)
	for _, c := range mine {
		if !c.Private {
			continue
		}
		v, err := h.chatView(ctx, c, u.ID)
		if err != nil {
			h.Error(w, r, err)
			return
		}
		private[c.ID] = v
	}
	if unread == nil {
		unread = map[string]int{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"chats": chats, "privateChats": private, "unread": unread})
}

func (h *Handler) chatView(ctx context.Context, c chatr.Chat, viewer string) (chatView, error) {
	members, err := h.cfg.Store.ListMembers(ctx, c.ID)
	if err != nil {
		return chatView{}, err
	}
	v := chatView{ID: c.ID, Name: c.Name, Owner: c.Owner, Private: c.Private, Members: make(map[string]memberView, len(members))}
	for _, m := range members {
		v.Members[m.UserID] = memberView{m.UserID, m.UserName}
		if c.Private && m.UserID != viewer {
			v.Name = "Chat with " + m.UserName
		}
	}
	return v, nil
}

// Page size bounds of the history API.
const (
	defaultPage = 50
	maxPage     = 200
)

// messages pages through a chat's history; members only, and a chat the
// caller may not read is reported as not found.
func (h *Handler) messages(w http.ResponseWriter, r *http.Request, u chatr.User) {
	ctx := r.Context()
	chatID := r.PathValue("id")
	ok, err := h.cfg.Store.IsMember(ctx, chatID, u.ID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if !ok {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "no such chat, or you are not a member"))
		return
	}
	q := r.URL.Query()
	var page chatr.MessageQuery
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"before", &page.Before}, {"after", &page.After}} {
		if s := q.Get(f.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				h.Error(w, r, chatr.Errorf(chatr.EINVALID, "%s must be a message id", f.name))
				return
			}
			*f.dst = n
		}
	}
	page.Limit = defaultPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			h.Error(w, r, chatr.Errorf(chatr.EINVALID, "limit must be 1 to %d", maxPage))
			return
		}
		page.Limit = n
	}
	// One more than asked tells whether there is more.
	want := page.Limit
	page.Limit++
	msgs, err := h.cfg.Store.ListMessages(ctx, chatID, page)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	hasMore := len(msgs) > want
	if hasMore {
		if page.After != 0 && page.Before == 0 {
			msgs = msgs[:want] // oldest first: the extra one is the newest
		} else {
			msgs = msgs[1:] // newest page: the extra one is the oldest
		}
	}
	if msgs == nil {
		msgs = []chatr.Message{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs, "hasMore": hasMore})
}

func (h *Handler) config(w http.ResponseWriter, r *http.Request, _ chatr.User) {
	l := h.cfg.App.Limits()
	writeJSON(w, http.StatusOK, map[string]any{
		"idleTimeoutSeconds": int(h.cfg.IdleTimeout / time.Second),
		"maxMessageBytes":    l.MaxMessageBytes,
		"maxChatNameLength":  l.MaxChatNameLength,
		"hub":                h.cfg.HubName,
	})
}

// readyz reports whether the store answers within a second.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := h.cfg.Store.Ping(ctx); err != nil {
		h.log.Warn("readyz: store not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "storage is not answering"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

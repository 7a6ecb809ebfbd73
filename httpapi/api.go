package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
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

// chats lists the public group chats and the caller's private group
// chats (each with joined and role), the caller's direct messages and
// group DMs (most recent first), and unread and mention counts.
func (h *Handler) chats(w http.ResponseWriter, r *http.Request, u chatr.User) {
	ctx := r.Context()
	public, err := h.cfg.Store.ListGroupChats(ctx)
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
	mentions, err := h.cfg.Store.MentionCounts(ctx, u.ID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	groups := make(map[string]chat.ChatView, len(public))
	var private []chat.ChatView
	// Public chats, then the caller's own: private group chats are listed
	// to their members only.
	for _, c := range append(public, mine...) {
		if _, seen := groups[c.ID]; seen {
			continue
		}
		v, err := h.cfg.App.View(ctx, c, u.ID)
		if err != nil {
			h.Error(w, r, err)
			return
		}
		if c.Kind() == chatr.KindGroup {
			groups[c.ID] = v
		} else {
			private = append(private, v)
		}
	}
	// Most recent first; JSON objects keep their order in browsers.
	slices.SortStableFunc(private, func(a, b chat.ChatView) int { return b.LastMessageAt.Compare(a.LastMessageAt) })
	writeJSON(w, http.StatusOK, map[string]any{"chats": groups, "privateChats": orderedChats(private),
		"unread": nonNil(unread), "mentions": nonNil(mentions)})
}

// orderedChats encodes chats as a JSON object keyed by id, in their order.
type orderedChats []chat.ChatView

func (o orderedChats) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, v := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(v.ID)
		e, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), e...)
	}
	return append(b, '}'), nil
}

func nonNil(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

func (h *Handler) config(w http.ResponseWriter, r *http.Request, _ chatr.User) {
	l := h.cfg.App.Limits()
	writeJSON(w, http.StatusOK, map[string]any{
		"idleTimeoutSeconds": int(h.cfg.IdleTimeout / time.Second),
		"maxMessageBytes":    l.MaxMessageBytes,
		"maxChatNameLength":  l.MaxChatNameLength,
		"mentionAllMax":      l.MentionAllMax,
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

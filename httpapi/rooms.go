package httpapi

import (
	"net/http"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
)

// The room endpoints: one chat, its members, its invite links. Who may do
// what is chat.App's to decide, as for the WebSocket events.

// authedWrite wraps a handler that changes state: a browser may call it from
// the server's own pages only (a cross-site form must not spend the
// caller's session).
func (h *Handler) authedWrite(next func(http.ResponseWriter, *http.Request, chatr.User)) http.HandlerFunc {
	return h.authed(func(w http.ResponseWriter, r *http.Request, u chatr.User) {
		if !h.SameOrigin(r) {
			h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "cross-origin request refused"))
			return
		}
		next(w, r, u)
	})
}

// chat answers GET /api/chats/{id}: the chat as the caller sees it.
func (h *Handler) chat(w http.ResponseWriter, r *http.Request, u chatr.User) {
	v, err := h.cfg.App.Chat(r.Context(), u.ID, r.PathValue("id"))
	if err != nil {
		h.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// members answers GET /api/chats/{id}/members.
func (h *Handler) members(w http.ResponseWriter, r *http.Request, u chatr.User) {
	ms, err := h.cfg.App.Members(r.Context(), u.ID, r.PathValue("id"))
	if err != nil {
		h.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
}

// inviteView is an invite as GET /api/chats/{id}/invites lists it; its id
// is the token's hash, never the token.
type inviteView struct {
	ID        string    `json:"id"`
	CreatedBy string    `json:"createdBy"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`
	MaxUses   int       `json:"maxUses"`
	Uses      int       `json:"uses"`
	Revoked   bool      `json:"revoked"`
}

// createInvite answers POST /api/chats/{id}/invites
// {"expiresInSeconds"?,"maxUses"?} with the new link.
func (h *Handler) createInvite(w http.ResponseWriter, r *http.Request, u chatr.User) {
	var in struct {
		ExpiresInSeconds int64 `json:"expiresInSeconds"`
		MaxUses          int   `json:"maxUses"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &in); err != nil {
			h.Error(w, r, err)
			return
		}
	}
	if in.ExpiresInSeconds < 0 || in.ExpiresInSeconds > int64(chat.MaxInviteLifetime/time.Second) {
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, "expiresInSeconds must be %d to %d",
			int64(chat.MinInviteLifetime/time.Second), int64(chat.MaxInviteLifetime/time.Second)))
		return
	}
	o := chat.InviteOptions{Lifetime: time.Duration(in.ExpiresInSeconds) * time.Second, MaxUses: in.MaxUses}
	token, inv, err := h.cfg.App.CreateInvite(r.Context(), u.ID, r.PathValue("id"), o)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	scheme := "http"
	if h.cfg.Auth.IsTLS(r) {
		scheme = "https"
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": token, "url": scheme + "://" + h.host(r) + "/invite/" + token,
		"id": inv.TokenHash, "expires": inv.Expires, "maxUses": inv.MaxUses,
	})
}

// invites answers GET /api/chats/{id}/invites.
func (h *Handler) invites(w http.ResponseWriter, r *http.Request, u chatr.User) {
	all, err := h.cfg.App.Invites(r.Context(), u.ID, r.PathValue("id"))
	if err != nil {
		h.Error(w, r, err)
		return
	}
	out := make([]inviteView, len(all))
	for i, inv := range all {
		out[i] = inviteView{inv.TokenHash, inv.CreatedBy, inv.Created, inv.Expires, inv.MaxUses, inv.Uses, inv.Revoked}
	}
	writeJSON(w, http.StatusOK, map[string]any{"invites": out})
}

// revokeInvite answers DELETE /api/chats/{id}/invites/{inviteId}.
func (h *Handler) revokeInvite(w http.ResponseWriter, r *http.Request, u chatr.User) {
	if err := h.cfg.App.RevokeInvite(r.Context(), u.ID, r.PathValue("id"), r.PathValue("inviteId")); err != nil {
		h.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// useInvite answers POST /api/invites/{token}: the caller joins the chat.
func (h *Handler) useInvite(w http.ResponseWriter, r *http.Request, u chatr.User) {
	v, err := h.cfg.App.UseInvite(r.Context(), u.ID, r.PathValue("token"))
	if err != nil {
		h.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

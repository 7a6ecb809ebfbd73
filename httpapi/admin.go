package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/chatr/chatr"
)

// Moderation log actions recorded here.
const (
	actionBan   = "ban"
	actionUnban = "unban"
)

// routeAdmin registers the administrators' endpoints: everything under
// /api/admin/ answers 403 to anyone else.
func (h *Handler) routeAdmin(m *http.ServeMux) {
	m.HandleFunc("POST /api/admin/users/{id}/ban", h.admin(h.ban))
	m.HandleFunc("DELETE /api/admin/users/{id}/ban", h.admin(h.unban))
	m.HandleFunc("GET /api/admin/modlog", h.admin(h.modlog))
	m.HandleFunc("/api/admin/", h.admin(func(w http.ResponseWriter, r *http.Request, _ chatr.User) {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "no such admin endpoint"))
	}))
	// Without this, ServeMux would answer /api/admin with an HTML redirect
	// to /api/admin/.
	m.HandleFunc("/api/admin", func(w http.ResponseWriter, r *http.Request) {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "no such API endpoint"))
	})
}

// admin wraps a handler for administrators only; a state-changing request
// must also come from the server's own origin.
func (h *Handler) admin(next func(http.ResponseWriter, *http.Request, chatr.User)) http.HandlerFunc {
	return h.authed(func(w http.ResponseWriter, r *http.Request, u chatr.User) {
		if !h.cfg.App.IsAdmin(u) {
			h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "only administrators may do this"))
			return
		}
		if r.Method != http.MethodGet && !h.SameOrigin(r) {
			h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "cross-origin request refused"))
			return
		}
		next(w, r, u)
	})
}

// ban bans a user from the server: sign-in is refused from now on, every
// session ends, the user's access tokens are revoked and every socket of
// the user, on every node, closes with 1008 "banned".
func (h *Handler) ban(w http.ResponseWriter, r *http.Request, actor chatr.User) {
	ctx := r.Context()
	target, err := h.cfg.Store.GetUser(ctx, r.PathValue("id"))
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if h.cfg.App.IsAdmin(target) {
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, "an administrator cannot be banned; take them out of --admins first"))
		return
	}
	now := time.Now()
	// Banned first: from here on no new session starts, and a session that
	// does not end below is refused when it is used.
	if err := h.cfg.Store.SetBanned(ctx, target.ID, true, actor.ID, now); err != nil {
		h.Error(w, r, err)
		return
	}
	if err := h.cfg.Store.DeleteUserSessions(ctx, target.ID); err != nil {
		h.Error(w, r, err)
		return
	}
	if err := h.closeSockets(r, target.ID, "banned"); err != nil {
		h.Error(w, r, err)
		return
	}
	h.record(w, r, chatr.ModEvent{Actor: actor.ID, Action: actionBan, TargetUser: target.ID, At: now})
}

// closeSockets revokes the user's access tokens and closes their sockets
// on every node.
func (h *Handler) closeSockets(r *http.Request, userID, reason string) error {
	if h.cfg.CloseUserConnections == nil {
		return h.cfg.App.RevokeTokens(r.Context(), userID, time.Now())
	}
	return h.cfg.CloseUserConnections(r.Context(), userID, reason)
}

// unban lifts a ban: the user may sign in again.
func (h *Handler) unban(w http.ResponseWriter, r *http.Request, actor chatr.User) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := time.Now()
	if err := h.cfg.Store.SetBanned(ctx, id, false, actor.ID, now); err != nil {
		h.Error(w, r, err)
		return
	}
	h.record(w, r, chatr.ModEvent{Actor: actor.ID, Action: actionUnban, TargetUser: id, At: now})
}

// record writes a moderation event and answers 204.
func (h *Handler) record(w http.ResponseWriter, r *http.Request, e chatr.ModEvent) {
	if _, err := h.cfg.Store.AddModEvent(r.Context(), e); err != nil {
		h.Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// modlog pages through the moderation log, newest first.
func (h *Handler) modlog(w http.ResponseWriter, r *http.Request, _ chatr.User) {
	q := r.URL.Query()
	query := chatr.ModEventQuery{Limit: defaultPage}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			h.Error(w, r, chatr.Errorf(chatr.EINVALID, "before must be an event id"))
			return
		}
		query.Before = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			h.Error(w, r, chatr.Errorf(chatr.EINVALID, "limit must be 1 to %d", maxPage))
			return
		}
		query.Limit = n
	}
	events, err := h.cfg.Store.ListModEvents(r.Context(), query)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if events == nil {
		events = []chatr.ModEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
}

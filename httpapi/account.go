package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/chatr/chatr"
)

// Account deletion: by the user (DELETE /api/me) or by an administrator
// (DELETE /api/admin/users/{id}). What happens to the user's messages is
// the server's --on-account-delete, applied by Config.DeleteUser.

const actionDeleteUser = "deleteUser"

// routeAccount registers the account-deletion endpoints.
func (h *Handler) routeAccount(m *http.ServeMux) {
	m.HandleFunc("DELETE /api/me", h.authed(h.deleteMe))
	m.HandleFunc("DELETE /api/admin/users/{id}", h.admin(h.deleteUserByAdmin))
}

// deleteMe deletes the caller's account. The body must repeat the caller's
// handle, {"confirm": "alice"}, so that no stray request deletes an
// account; the request must come from the server's own origin.
func (h *Handler) deleteMe(w http.ResponseWriter, r *http.Request, u chatr.User) {
	if !h.SameOrigin(r) {
		h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "cross-origin request refused"))
		return
	}
	var in struct {
		Confirm string `json:"confirm"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		h.Error(w, r, err)
		return
	}
	if u.Handle == "" || chatr.NormalHandle(in.Confirm) != chatr.NormalHandle(u.Handle) {
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, `to delete your account, send {"confirm": "<your handle>"}`))
		return
	}
	if err := h.deleteAccount(r.Context(), u); err != nil {
		h.Error(w, r, err)
		return
	}
	if _, err := h.cfg.Auth.SignOut(w, r); err != nil {
		h.log.Info("account deleted; clearing the cookie", "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// deleteUserByAdmin deletes another user's account and records it.
func (h *Handler) deleteUserByAdmin(w http.ResponseWriter, r *http.Request, actor chatr.User) {
	target, err := h.cfg.Store.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if h.cfg.App.IsAdmin(target) {
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, "an administrator cannot be deleted; take them out of --admins first"))
		return
	}
	if err := h.deleteAccount(r.Context(), target); err != nil {
		h.Error(w, r, err)
		return
	}
	h.record(w, r, chatr.ModEvent{Actor: actor.ID, Action: actionDeleteUser, TargetUser: target.ID, Detail: target.Name, At: time.Now()})
}

// deleteAccount closes the user's sockets on every node (so nothing more
// is sent as them), deletes the account and tells the members of their
// chats.
func (h *Handler) deleteAccount(ctx context.Context, u chatr.User) error {
	if h.cfg.DeleteUser == nil {
		return chatr.Errorf(chatr.ENOTIMPLEMENTED, "this store cannot delete accounts")
	}
	chats, err := h.cfg.Store.ListUserChats(ctx, u.ID)
	if err != nil {
		return err
	}
	if h.cfg.CloseUserConnections != nil {
		if err := h.cfg.CloseUserConnections(ctx, u.ID, "account deleted"); err != nil {
			return err
		}
	}
	if err := h.cfg.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	return h.cfg.App.AccountDeleted(ctx, u, chats)
}

package httpapi

import (
	"net/http"
	"time"

	"github.com/chatr/chatr"
)

// routeOutgoing adds the outgoing webhooks of a chat, which its owner,
// moderators and admins manage.
func (h *Handler) routeOutgoing(m *http.ServeMux) {
	if h.cfg.Outgoing == nil {
		return
	}
	m.HandleFunc("GET /api/chats/{id}/outgoing-webhooks", h.authed(h.outgoingWebhooks))
	m.HandleFunc("POST /api/chats/{id}/outgoing-webhooks", h.authedWrite(h.createOutgoingWebhook))
	m.HandleFunc("DELETE /api/chats/{id}/outgoing-webhooks/{webhookId}", h.authedWrite(h.deleteOutgoingWebhook))
}

// outgoingView is an outgoing webhook as the API shows it: the secret only
// in the answer to its creation.
type outgoingView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Triggers  []string  `json:"triggerWords"`
	CreatedBy string    `json:"createdBy"`
	Created   time.Time `json:"created"`
	Secret    string    `json:"secret,omitempty"`
}

func viewOutgoing(w chatr.OutgoingWebhook) outgoingView {
	return outgoingView{ID: w.ID, Name: w.Name, URL: w.URL, Triggers: w.Triggers, CreatedBy: w.CreatedBy, Created: w.Created}
}

// outgoingWebhooks answers GET /api/chats/{id}/outgoing-webhooks.
func (h *Handler) outgoingWebhooks(w http.ResponseWriter, r *http.Request, u chatr.User) {
	chatID := r.PathValue("id")
	if err := h.cfg.App.ManageOutgoingWebhooks(r.Context(), u.ID, chatID, false); err != nil {
		h.Error(w, r, err)
		return
	}
	all, err := h.cfg.Outgoing.List(r.Context(), chatID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	out := make([]outgoingView, len(all))
	for i, hook := range all {
		out[i] = viewOutgoing(hook)
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

// createOutgoingWebhook answers POST /api/chats/{id}/outgoing-webhooks
// with the new webhook and its secret.
func (h *Handler) createOutgoingWebhook(w http.ResponseWriter, r *http.Request, u chatr.User) {
	var in struct {
		Name     string   `json:"name"`
		URL      string   `json:"url"`
		Triggers []string `json:"triggerWords"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		h.Error(w, r, err)
		return
	}
	chatID := r.PathValue("id")
	if err := h.cfg.App.ManageOutgoingWebhooks(r.Context(), u.ID, chatID, true); err != nil {
		h.Error(w, r, err)
		return
	}
	hook, err := h.cfg.Outgoing.Create(r.Context(), chatr.OutgoingWebhook{
		ChatID: chatID, Name: in.Name, URL: in.URL, Triggers: in.Triggers, CreatedBy: u.ID,
	})
	if err != nil {
		h.Error(w, r, err)
		return
	}
	v := viewOutgoing(hook)
	v.Secret = hook.Secret
	writeJSON(w, http.StatusCreated, v)
}

// deleteOutgoingWebhook answers DELETE
// /api/chats/{id}/outgoing-webhooks/{webhookId}.
func (h *Handler) deleteOutgoingWebhook(w http.ResponseWriter, r *http.Request, u chatr.User) {
	chatID := r.PathValue("id")
	if err := h.cfg.App.ManageOutgoingWebhooks(r.Context(), u.ID, chatID, true); err != nil {
		h.Error(w, r, err)
		return
	}
	if err := h.cfg.Outgoing.Delete(r.Context(), chatID, r.PathValue("webhookId")); err != nil {
		h.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

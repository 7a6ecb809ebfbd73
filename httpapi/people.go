package httpapi

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
)

// Bounds of the people directory's query.
const (
	maxSearchChars = 64 // ?q=, in characters
	maxCursorBytes = 128
)

// routePeople registers the people directory and the caller's profile.
func (h *Handler) routePeople(m *http.ServeMux) {
	m.HandleFunc("GET /api/users/{id}", h.authed(h.person))
	m.HandleFunc("GET /api/me", h.authed(h.profile))
	m.HandleFunc("PATCH /api/me", h.authed(h.rename))
}

// personView is a user as the people directory shows it.
type personView struct {
	UserID       string    `json:"userId"`
	UserName     string    `json:"userName"`
	UserProvider string    `json:"userProvider"`
	Handle       string    `json:"handle"`
	Online       bool      `json:"online"`
	Idle         bool      `json:"idle"`
	LastSeen     time.Time `json:"lastSeen,omitzero"`
}

func personOf(u chatr.User, online bool) personView {
	return personView{UserID: u.ID, UserName: u.Name, UserProvider: u.Provider, Handle: u.Handle,
		Online: online, Idle: online && u.Idle, LastSeen: u.LastSeen}
}

// directory answers GET /api/users?all=1 or ?q=: a page of every user,
// ordered by handle, with presence; "next" is the cursor of the next page
// ("" on the last).
func (h *Handler) directory(w http.ResponseWriter, r *http.Request, _ chatr.User) {
	q := r.URL.Query()
	query := chatr.UserQuery{Search: q.Get("q"), After: q.Get("after"), Limit: defaultPage}
	if utf8.RuneCountInString(query.Search) > maxSearchChars || !utf8.ValidString(query.Search) {
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, "q must be at most %d characters of valid UTF-8", maxSearchChars))
		return
	}
	if len(query.After) > maxCursorBytes {
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, "after is not a cursor this server gave"))
		return
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			h.Error(w, r, chatr.Errorf(chatr.EINVALID, "limit must be 1 to %d", maxPage))
			return
		}
		query.Limit = n
	}
	users, next, err := h.cfg.Store.SearchUsers(r.Context(), query)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	online, err := h.cfg.App.OnlineIDs(r.Context())
	if err != nil {
		h.Error(w, r, err)
		return
	}
	out := make(map[string]personView, len(users))
	for _, u := range users {
		out[u.ID] = personOf(u, online[u.ID])
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "next": next})
}

// person answers GET /api/users/{id}.
func (h *Handler) person(w http.ResponseWriter, r *http.Request, _ chatr.User) {
	u, err := h.cfg.Store.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		h.Error(w, r, err)
		return
	}
	online, err := h.cfg.App.IsOnline(r.Context(), u.ID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, personOf(u, online))
}

// profileView is the caller as GET /api/me shows them.
type profileView struct {
	UserID       string `json:"userId"`
	UserName     string `json:"userName"`
	Handle       string `json:"handle"`
	UserProvider string `json:"userProvider"`
	Admin        bool   `json:"admin"`
}

func (h *Handler) profileOf(u chatr.User) profileView {
	return profileView{UserID: u.ID, UserName: u.Name, Handle: u.Handle, UserProvider: u.Provider, Admin: h.cfg.App.IsAdmin(u)}
}

func (h *Handler) profile(w http.ResponseWriter, r *http.Request, u chatr.User) {
	writeJSON(w, http.StatusOK, h.profileOf(u))
}

// rename answers PATCH /api/me {"userName"}: the caller, and only the
// caller, changes their display name, under the guest name rule.
func (h *Handler) rename(w http.ResponseWriter, r *http.Request, u chatr.User) {
	if !h.SameOrigin(r) {
		h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "cross-origin request refused"))
		return
	}
	var in struct {
		UserName *string `json:"userName"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		h.Error(w, r, err)
		return
	}
	if in.UserName == nil {
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, `send {"userName": "..."}`))
		return
	}
	name, err := auth.CleanName(*in.UserName, h.cfg.Auth.MaxNameLength())
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if !h.cfg.App.AllowRename(u.ID) {
		w.Header().Set("Retry-After", "1")
		h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "too many changes; try again shortly"))
		return
	}
	ctx := r.Context()
	if err := h.cfg.Store.SetUserName(ctx, u.ID, name); err != nil {
		h.Error(w, r, err)
		return
	}
	u.Name = name
	if err := h.cfg.App.UserRenamed(ctx, u); err != nil {
		// The name is stored: clients see it on their next load.
		h.log.Error("rename: announce", "user", u.ID, "err", err)
	}
	writeJSON(w, http.StatusOK, h.profileOf(u))
}

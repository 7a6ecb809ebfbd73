package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/chatr/chatr"
)

// principal is the Static Web Apps client principal.
type principal struct {
	IdentityProvider string   `json:"identityProvider"`
	UserID           string   `json:"userId"`
	UserDetails      string   `json:"userDetails"`
	UserRoles        []string `json:"userRoles"`
	Claims           []claim  `json:"claims"`
}

type claim struct {
	Typ string `json:"typ"`
	Val string `json:"val"`
}

func principalOf(u chatr.User) *principal {
	return &principal{
		IdentityProvider: u.Provider, UserID: u.ID, UserDetails: u.Name,
		UserRoles: []string{"anonymous", "authenticated"},
		Claims:    []claim{{Typ: "name", Val: u.Name}},
	}
}

// me answers the Static Web Apps /.auth/me: the principal, or null.
func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	u, _, err := h.cfg.Auth.Authenticate(w, r)
	switch code := chatr.ErrorCode(err); code {
	case "":
		writeJSON(w, http.StatusOK, map[string]any{"clientPrincipal": principalOf(u)})
	case chatr.EUNAUTH:
		writeJSON(w, http.StatusOK, map[string]any{"clientPrincipal": nil})
	default:
		h.Error(w, r, err)
	}
}

// ClientPrincipalHeader encodes the principal as the platform forwarded it to
// backends in x-ms-client-principal: base64 of the JSON without claims.
func ClientPrincipalHeader(u chatr.User) string {
	p := principalOf(u)
	p.Claims = nil
	b, _ := json.Marshal(p)
	return base64.StdEncoding.EncodeToString(b)
}

func (h *Handler) providers(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		Provider
		LoginURL string `json:"loginUrl"`
	}
	list := make([]entry, 0, len(h.cfg.Providers))
	for _, p := range h.cfg.Providers {
		list = append(list, entry{p, "/.auth/login/" + url.PathEscape(p.Name)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": list, "guest": !h.cfg.NoGuests,
		"maxNameLength": h.cfg.Auth.MaxNameLength()})
}

// guestLogin signs a guest in with a chosen name, from JSON or a form.
func (h *Handler) guestLogin(w http.ResponseWriter, r *http.Request) {
	if h.cfg.NoGuests {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "guest sign-in is turned off"))
		return
	}
	if !h.SameOrigin(r) {
		h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "cross-origin sign-in refused"))
		return
	}
	if !h.allowSignIn(r) {
		w.Header().Set("Retry-After", "10")
		h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "too many sign-in attempts; try again shortly"))
		return
	}
	var name, redirect string
	isForm := false
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var in struct {
			Name string `json:"name"`
		}
		if err := decodeBody(w, r, &in); err != nil {
			h.Error(w, r, err)
			return
		}
		name = in.Name
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		var err error
		if ct == "multipart/form-data" {
			// ParseForm alone leaves a multipart body unread.
			err = r.ParseMultipartForm(maxBodyBytes)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			h.Error(w, r, chatr.Errorf(chatr.EINVALID, "bad form"))
			return
		}
		isForm = true
		name, redirect = r.PostForm.Get("name"), r.PostForm.Get("post_login_redirect_uri")
	default:
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, "send JSON {\"name\": ...} or a form with a name field"))
		return
	}
	u, err := h.cfg.Auth.Guest(name)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if err := h.cfg.Auth.SignIn(r.Context(), w, r, u); err != nil {
		h.Error(w, r, err)
		return
	}
	if isForm {
		http.Redirect(w, r, SafeRedirect(redirect), http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"clientPrincipal": principalOf(u)})
}

// logout ends the session, closes the user's sockets and redirects.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && !h.SameOrigin(r) {
		h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "cross-origin sign-out refused"))
		return
	}
	// A GET sign-out from a foreign page (an <img> tag, say) must not sign
	// anyone out: browsers send Sec-Fetch-Site on every request.
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		h.Error(w, r, chatr.Errorf(chatr.EFORBIDDEN, "cross-site sign-out refused"))
		return
	}
	userID, err := h.cfg.Auth.SignOut(w, r)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if userID != "" && h.cfg.CloseUserConnections != nil {
		if err := h.cfg.CloseUserConnections(r.Context(), userID, "signed out"); err != nil {
			h.log.Error("sign-out: close sockets", "user", userID, "err", err)
		}
	}
	http.Redirect(w, r, SafeRedirect(r.URL.Query().Get("post_logout_redirect_uri")), http.StatusFound)
}

// SafeRedirect returns target if it is a path on this site, else "/": no
// scheme, no host, no protocol-relative "//" or "/\" tricks.
func SafeRedirect(target string) string {
	if target == "" || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") || strings.HasPrefix(target, `/\`) {
		return "/"
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	for _, c := range target {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	return target
}

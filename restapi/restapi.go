// Package restapi serves the subset of the Azure Web PubSub service REST API
// that the official server SDK (npm @azure/web-pubsub) uses to drive a hub:
// send to all, a user, a connection or a group; add and remove users and
// connections to and from groups; existence checks; closing connections;
// and client access tokens. Requests carry the JWT the SDK signs with the
// access key (HS256, aud = the request URL).
//
// It knows hubs only through *hub.Hub and HubSet; it knows nothing of chats.
//
// Existence checks, listings and "close all but" operations see every node
// of a cluster when the hub has a cluster-wide index (a ClusterIndex, see
// hub.Index; Redis keeps one for each drop-in hub of a cluster), and this
// node's connections otherwise.
package restapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chatr/chatr/hub"
)

// maxBodyBytes is the largest message the API accepts (the service's frame limit).
const maxBodyBytes = 1 << 20

// Hubs finds the hub that a request names.
type Hubs interface {
	// Get returns the hub if it is being served, nil otherwise.
	Get(name string) *hub.Hub
	// Open returns the hub, starting it if needed; an error for a name that
	// is not valid or not served.
	Open(name string) (*hub.Hub, error)
}

// Config configures the API.
type Config struct {
	// AccessKey verifies the SDK's bearer tokens and signs client tokens.
	AccessKey []byte
	Hubs      Hubs
	// StrictAudience also compares the token audience's host with the
	// request's; by default only the path is compared (proxies rewrite Host).
	StrictAudience bool
	Logger         *slog.Logger
}

// Handler serves /api/hubs/.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger
}

// New returns the API handler; mount it at /api/hubs/.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Handler{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	m := a.mux
	m.HandleFunc("POST /api/hubs/{hub}/:send", a.send(scopeAll))
	m.HandleFunc("POST /api/hubs/{hub}/users/{user}/:send", a.send(scopeUser))
	m.HandleFunc("POST /api/hubs/{hub}/connections/{conn}/:send", a.send(scopeConn))
	m.HandleFunc("POST /api/hubs/{hub}/groups/{group}/:send", a.send(scopeGroup))

	m.HandleFunc("HEAD /api/hubs/{hub}/connections/{conn}", a.exists(func(q ClusterIndex, r *http.Request) (bool, error) {
		return q.ConnectionExists(r.Context(), r.PathValue("conn"))
	}))
	m.HandleFunc("HEAD /api/hubs/{hub}/users/{user}", a.exists(func(q ClusterIndex, r *http.Request) (bool, error) {
		return q.UserExists(r.Context(), r.PathValue("user"))
	}))
	m.HandleFunc("HEAD /api/hubs/{hub}/groups/{group}", a.exists(func(q ClusterIndex, r *http.Request) (bool, error) {
		return q.GroupExists(r.Context(), r.PathValue("group"))
	}))

	m.HandleFunc("PUT /api/hubs/{hub}/users/{user}/groups/{group}", a.do(http.StatusOK, func(h *hub.Hub, r *http.Request) error {
		return h.AddUserToGroup(r.Context(), r.PathValue("user"), r.PathValue("group"))
	}))
	m.HandleFunc("DELETE /api/hubs/{hub}/users/{user}/groups/{group}", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		return h.RemoveUserFromGroup(r.Context(), r.PathValue("user"), r.PathValue("group"))
	}))
	m.HandleFunc("DELETE /api/hubs/{hub}/users/{user}/groups", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		user := r.PathValue("user")
		groups, err := view(h).UserGroups(r.Context(), user)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := h.RemoveUserFromGroup(r.Context(), user, g); err != nil {
				return err
			}
		}
		return nil
	}))
	m.HandleFunc("PUT /api/hubs/{hub}/groups/{group}/connections/{conn}", a.do(http.StatusOK, func(h *hub.Hub, r *http.Request) error {
		if ok, err := view(h).ConnectionExists(r.Context(), r.PathValue("conn")); err != nil {
			return err
		} else if !ok {
			return errNotFound("connection " + r.PathValue("conn") + " does not exist")
		}
		return h.AddConnectionToGroup(r.Context(), r.PathValue("conn"), r.PathValue("group"))
	}))
	m.HandleFunc("DELETE /api/hubs/{hub}/groups/{group}/connections/{conn}", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		return h.RemoveConnectionFromGroup(r.Context(), r.PathValue("conn"), r.PathValue("group"))
	}))
	m.HandleFunc("DELETE /api/hubs/{hub}/connections/{conn}/groups", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		conn := r.PathValue("conn")
		groups, err := view(h).ConnectionGroups(r.Context(), conn)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := h.RemoveConnectionFromGroup(r.Context(), conn, g); err != nil {
				return err
			}
		}
		return nil
	}))

	m.HandleFunc("DELETE /api/hubs/{hub}/connections/{conn}", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		return h.CloseConnection(r.Context(), r.PathValue("conn"), r.URL.Query().Get("reason"))
	}))
	m.HandleFunc("POST /api/hubs/{hub}/:closeConnections", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		ids, err := view(h).ConnectionIDs(r.Context(), "")
		if err != nil {
			return err
		}
		return closeAllBut(h, r, ids)
	}))
	m.HandleFunc("POST /api/hubs/{hub}/groups/{group}/:closeConnections", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		ids, err := view(h).ConnectionIDs(r.Context(), r.PathValue("group"))
		if err != nil {
			return err
		}
		return closeAllBut(h, r, ids)
	}))
	m.HandleFunc("POST /api/hubs/{hub}/users/{user}/:closeConnections", a.do(http.StatusNoContent, func(h *hub.Hub, r *http.Request) error {
		if len(excluded(r)) == 0 {
			return h.CloseUserConnections(r.Context(), r.PathValue("user"), r.URL.Query().Get("reason"))
		}
		ids, err := view(h).UserConnectionIDs(r.Context(), r.PathValue("user"))
		if err != nil {
			return err
		}
		return closeAllBut(h, r, ids)
	}))

	m.HandleFunc("GET /api/hubs/{hub}/groups/{group}/connections", a.authed(a.listGroup))
	m.HandleFunc("POST /api/hubs/{hub}/:generateToken", a.authed(a.generateToken))
	m.HandleFunc("/api/hubs/", a.authed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", "this operation is not supported by Chatr")
	}))
	return a
}

func (a *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// apiError is an error with the status and code the API answers with.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errNotFound(msg string) error { return &apiError{http.StatusNotFound, "NotFound", msg} }
func errBadRequest(msg string) error {
	return &apiError{http.StatusBadRequest, "InvalidRequest", msg}
}

// writeError answers with the service's ErrorDetail shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func (a *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if ae, ok := err.(*apiError); ok {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	var he *hub.AckError
	if errors.As(err, &he) {
		writeError(w, http.StatusBadRequest, "InvalidRequest", he.Message)
		return
	}
	a.log.Error("restapi: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "InternalServerError", "internal error")
}

// authed checks the bearer token: HS256 with the access key, not expired,
// and an audience naming this request's path.
func (a *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := ""
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			tok = strings.TrimSpace(h[7:])
		}
		if tok == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "Unauthorized", "missing bearer token")
			return
		}
		claims, err := hub.ParseToken(a.cfg.AccessKey, tok, time.Now())
		if err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "Unauthorized", "invalid bearer token")
			return
		}
		if !a.audienceOK(claims.Audience, r) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "Unauthorized", "token audience does not match the request URL")
			return
		}
		next(w, r)
	}
}

func (a *Handler) audienceOK(aud string, r *http.Request) bool {
	u, err := url.Parse(aud)
	if err != nil || aud == "" {
		return false
	}
	if !strings.EqualFold(strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(r.URL.Path, "/")) {
		return false
	}
	return !a.cfg.StrictAudience || strings.EqualFold(u.Host, r.Host)
}

// hubFor returns the request's hub: started if create, else nil when it
// is not running (then there is nothing to act on).
func (a *Handler) hubFor(r *http.Request, create bool) (*hub.Hub, error) {
	name := r.PathValue("hub")
	if !create {
		return a.cfg.Hubs.Get(name), nil
	}
	h, err := a.cfg.Hubs.Open(name)
	if err != nil {
		return nil, errBadRequest(err.Error())
	}
	return h, nil
}

// do runs a command on the request's hub and answers status.
func (a *Handler) do(status int, f func(h *hub.Hub, r *http.Request) error) http.HandlerFunc {
	return a.authed(func(w http.ResponseWriter, r *http.Request) {
		h, err := a.hubFor(r, true)
		if err == nil {
			err = f(h, r)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(status)
	})
}

// exists answers a HEAD query with 200 or 404. It starts the hub on this
// node if needed: in a cluster the answer may lie on another node.
func (a *Handler) exists(f func(q ClusterIndex, r *http.Request) (bool, error)) http.HandlerFunc {
	return a.authed(func(w http.ResponseWriter, r *http.Request) {
		h, err := a.hubFor(r, true)
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		ok, err := f(view(h), r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

type scope int

const (
	scopeAll scope = iota
	scopeUser
	scopeConn
	scopeGroup
)

// send delivers the request body to the scope's connections: typed json
// for application/json, text for text/plain, binary for anything else.
// Only a single "excluded" connection is supported, and no OData "filter".
func (a *Handler) send(sc scope) http.HandlerFunc {
	return a.do(http.StatusAccepted, func(h *hub.Hub, r *http.Request) error {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			return errBadRequest("could not read the message")
		}
		if len(body) > maxBodyBytes {
			return &apiError{http.StatusRequestEntityTooLarge, "PayloadTooLarge", "message larger than 1 MB"}
		}
		if f := r.URL.Query().Get("filter"); f != "" {
			return errBadRequest("OData filters are not supported by Chatr")
		}
		ex := excluded(r)
		if len(ex) > 1 {
			return errBadRequest("Chatr supports at most one excluded connection per send")
		}
		m := hub.Message{}
		if len(ex) == 1 {
			m.ExcludeConn = ex[0]
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch mt {
		case "application/json", "text/json":
			if !json.Valid(body) {
				return errBadRequest("the message is not valid JSON")
			}
			m.DataType, m.Data = "json", body
		case "text/plain":
			m.DataType, m.Data = "text", body
		default:
			m.DataType, m.Data = "binary", body
		}
		ctx := r.Context()
		switch sc {
		case scopeUser:
			return h.SendToUser(ctx, r.PathValue("user"), m)
		case scopeConn:
			return h.SendToConnection(ctx, r.PathValue("conn"), m)
		case scopeGroup:
			return h.SendToGroup(ctx, r.PathValue("group"), m)
		}
		return h.SendToAll(ctx, m)
	})
}

// excluded returns the request's excluded connection ids (repeated or
// comma-separated).
func excluded(r *http.Request) []string {
	var l []string
	for _, v := range r.URL.Query()["excluded"] {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				l = append(l, id)
			}
		}
	}
	return l
}

func closeAllBut(h *hub.Hub, r *http.Request, ids []string) error {
	skip := map[string]bool{}
	for _, id := range excluded(r) {
		skip[id] = true
	}
	reason := r.URL.Query().Get("reason")
	for _, id := range ids {
		if !skip[id] {
			if err := h.CloseConnection(r.Context(), id, reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// generateToken answers {"token"}: a client access token for the hub with
// the userId, role and group query parameters, valid minutesToExpire
// (default 60).
func (a *Handler) generateToken(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("hub")
	if _, err := a.cfg.Hubs.Open(name); err != nil {
		a.fail(w, r, errBadRequest(err.Error()))
		return
	}
	q := r.URL.Query()
	if ct := q.Get("clientType"); ct != "" && !strings.EqualFold(ct, "Default") {
		a.fail(w, r, errBadRequest("only the default client type is supported"))
		return
	}
	ttl := time.Hour
	if v := q.Get("minutesToExpire"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			a.fail(w, r, errBadRequest("minutesToExpire must be a positive number"))
			return
		}
		ttl = time.Duration(n) * time.Minute
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	now := time.Now()
	tok, err := hub.MintToken(a.cfg.AccessKey, hub.Claims{
		UserID: q.Get("userId"), Roles: nonEmpty(q["role"]), Groups: nonEmpty(q["group"]),
		Audience: scheme + "://" + r.Host + "/client/hubs/" + name, IssuedAt: now, Expires: now.Add(ttl),
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// listGroup answers the group's connections as one page:
// {"value":[{"connectionId","userId"}]}, at most "top" of them.
func (a *Handler) listGroup(w http.ResponseWriter, r *http.Request) {
	type member struct {
		ConnectionID string  `json:"connectionId"`
		UserID       *string `json:"userId,omitempty"`
	}
	value := []member{}
	h, err := a.hubFor(r, true)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	members, err := view(h).GroupMembers(r.Context(), r.PathValue("group"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, c := range members {
		m := member{ConnectionID: c.ID}
		if c.UserID != "" {
			uid := c.UserID
			m.UserID = &uid
		}
		value = append(value, m)
	}
	sort.Slice(value, func(i, j int) bool { return value[i].ConnectionID < value[j].ConnectionID })
	if top, err := strconv.Atoi(r.URL.Query().Get("top")); err == nil && top >= 0 && top < len(value) {
		value = value[:top]
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"value": value})
}

// nonEmpty drops empty values of a repeated query parameter.
func nonEmpty(vs []string) []string {
	var l []string
	for _, v := range vs {
		if v != "" {
			l = append(l, v)
		}
	}
	return l
}

// Package httpapi serves Chatr over HTTP: the REST API under /api, the
// Static Web Apps style sign-in endpoints under /.auth, health and metrics,
// the hub's WebSocket endpoint and the browser app.
//
// It maps application errors to HTTP statuses in one place (Error) and
// takes the caller's identity only from the session cookie.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/ratelimit"
	"github.com/chatr/chatr/outgoing"
)

// Defaults for Config.
const (
	DefaultTokenTTL          = time.Hour        // lifetime of a hub access token (checked at connect only)
	DefaultRequestsPerSecond = 50               // HTTP requests per client IP, sustained (burst: 4 times as many)
	DefaultSignInsPerMinute  = 20               // sign-in attempts per client IP
	maxBodyBytes             = 64 << 10         // request bodies the API reads
	DefaultStoreTimeout      = 10 * time.Second // storage work of one request; past it: 503
)

// Provider is a sign-in provider as the sign-in page lists it.
type Provider struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

// Config wires the HTTP layer. Store, Auth, App, Hub and HubKey are required.
type Config struct {
	Store   chatr.Store
	Auth    *auth.Service
	App     *chat.App
	Hub     http.Handler // serves /client/hubs/{hub}
	HubKey  []byte       // signs access tokens for the hub
	HubName string       // default "chat"

	// CloseUserConnections closes a user's sockets on sign-out.
	CloseUserConnections func(ctx context.Context, userID, reason string) error
	// DeleteUser deletes an account, keeping or removing its messages as
	// the server is configured (--on-account-delete); nil when the store
	// cannot.
	DeleteUser func(ctx context.Context, userID string) error
	// ShareRename, when set, tells the other nodes of a cluster that a user
	// changed their display name (see chat.App.RenameHeld).
	ShareRename func(ctx context.Context, userID, name string) error

	Providers    []Provider   // external sign-in providers, in display order
	ProviderAuth http.Handler // serves /.auth/login/{provider} and its callback; nil = none
	NoGuests     bool         // turn guest sign-in off
	// NoUserTokens keeps API tokens for bots (made by admins): users may
	// not make their own (--user-tokens=false).
	NoUserTokens bool

	// FileRoutes serves uploads (POST /api/chats/{id}/files) and the
	// files (GET /api/files/...); Files gives messages their attachments
	// in history. nil: no files.
	FileRoutes http.Handler
	Files      chatr.FileStore

	// Outgoing keeps and calls chats' outgoing webhooks; nil: none.
	Outgoing *outgoing.Dispatcher

	Static      http.Handler // the browser app, served at /
	Metrics     http.Handler // served at /metrics; nil = none
	IdleTimeout time.Duration
	TokenTTL    time.Duration
	// TrustProxy honours X-Forwarded-Proto and X-Forwarded-Host.
	TrustProxy bool
	// RequestsPerSecond and SignInsPerMinute limit each client IP; negative
	// turns a limit off.
	RequestsPerSecond float64
	SignInsPerMinute  float64
	// StoreTimeout bounds the storage work of one request (0 =
	// DefaultStoreTimeout); a request that runs out of it, or fails while
	// the store does not answer, gets 503.
	StoreTimeout time.Duration
	// ConnectionsPerIP bounds the WebSockets open at once from one client
	// IP (0 = DefaultConnectionsPerIP, negative = no limit).
	ConnectionsPerIP int
	// AllowedOrigins are extra origins (scheme://host[:port]) allowed to sign
	// in and open sockets besides the server's own.
	AllowedOrigins []string
	Logger         *slog.Logger
}

// Handler is Chatr's HTTP handler.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	log      *slog.Logger
	requests *ratelimit.Limiter // per client IP; nil = unlimited
	signIns  *ratelimit.Limiter // per client IP; nil = unlimited

	integrations *integrations // API tokens and webhooks: integrations.go
}

// New returns the handler with every route.
func New(cfg Config) *Handler {
	if cfg.HubName == "" {
		cfg.HubName = "chat"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = chat.DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, integrations: newIntegrations()}
	if cfg.RequestsPerSecond == 0 {
		cfg.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if cfg.SignInsPerMinute == 0 {
		cfg.SignInsPerMinute = DefaultSignInsPerMinute
	}
	if cfg.RequestsPerSecond > 0 {
		h.requests = ratelimit.New(cfg.RequestsPerSecond, int(4*cfg.RequestsPerSecond))
	}
	if cfg.SignInsPerMinute > 0 {
		h.signIns = ratelimit.New(cfg.SignInsPerMinute/60, int(cfg.SignInsPerMinute))
	}
	m := h.mux
	m.HandleFunc("GET /.auth/me", h.me)
	m.HandleFunc("GET /.auth/providers", h.providers)
	m.HandleFunc("POST /.auth/login/guest", h.guestLogin)
	m.HandleFunc("GET /.auth/logout", h.logout)
	m.HandleFunc("POST /.auth/logout", h.logout)
	if cfg.ProviderAuth != nil {
		// Starting a provider sign-in counts against the per-IP sign-in limit.
		limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !h.allowSignIn(r) {
				w.Header().Set("Retry-After", "10")
				h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "too many sign-in attempts; try again shortly"))
				return
			}
			cfg.ProviderAuth.ServeHTTP(w, r)
		})
		m.Handle("GET /.auth/login/{provider}", limited)
		m.Handle("GET /.auth/login/{provider}/callback", cfg.ProviderAuth)
		m.Handle("POST /.auth/login/{provider}/callback", cfg.ProviderAuth)
	}
	m.HandleFunc("/.auth/", func(w http.ResponseWriter, r *http.Request) {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "no such sign-in endpoint"))
	})

	m.HandleFunc("GET /api/getToken", h.authed(h.getToken))
	m.HandleFunc("GET /api/users", h.authed(h.users))
	m.HandleFunc("GET /api/chats", h.authed(h.chats))
	m.HandleFunc("GET /api/chats/{id}/messages", h.authed(h.messages))
	m.HandleFunc("GET /api/chats/{id}", h.authed(h.chat))
	m.HandleFunc("GET /api/chats/{id}/members", h.authed(h.members))
	m.HandleFunc("GET /api/chats/{id}/invites", h.authed(h.invites))
	m.HandleFunc("POST /api/chats/{id}/invites", h.authedWrite(h.createInvite))
	m.HandleFunc("DELETE /api/chats/{id}/invites/{inviteId}", h.authedWrite(h.revokeInvite))
	m.HandleFunc("POST /api/invites/{token}", h.authedWrite(h.useInvite))
	m.HandleFunc("GET /api/config", h.authed(h.config))
	h.routePeople(m)
	h.routeAdmin(m)
	h.routeAccount(m)
	h.routeIntegrations(m)
	h.routeOutgoing(m)
	m.Handle("GET /api/search", NewSearch(SearchConfig{Store: cfg.Store, Auth: cfg.Auth, Logger: cfg.Logger}))
	m.Handle("GET /api/export", NewExportHandler(cfg.Store, cfg.Auth))
	if cfg.FileRoutes != nil {
		m.Handle("POST /api/chats/{id}/files", cfg.FileRoutes)
		m.Handle("GET /api/files/", cfg.FileRoutes)
	}
	m.HandleFunc("/api/", h.authed(func(w http.ResponseWriter, r *http.Request, _ chatr.User) {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "no such API endpoint"))
	}))

	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", h.readyz)
	if cfg.Metrics != nil {
		m.Handle("GET /metrics", cfg.Metrics)
	}
	hubHandler := rawHijack(cfg.Hub)
	if cfg.ConnectionsPerIP == 0 {
		cfg.ConnectionsPerIP = DefaultConnectionsPerIP
	}
	if cfg.ConnectionsPerIP > 0 {
		hubHandler = h.limitSockets(hubHandler, cfg.ConnectionsPerIP)
	}
	m.Handle("GET /client/hubs/{hub}", hubHandler)
	if cfg.Static != nil {
		m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				h.Error(w, r, chatr.Errorf(chatr.EINVALID, "method not allowed"))
				return
			}
			cfg.Static.ServeHTTP(&staticWriter{ResponseWriter: w, h: h, r: r}, r)
		})
	}
	return h
}

// ServeHTTP adds the security headers to every response and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if h.cfg.Auth.IsTLS(r) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}
	if h.requests != nil && !strings.HasPrefix(r.URL.Path, "/healthz") && !strings.HasPrefix(r.URL.Path, "/readyz") {
		if !h.requests.Allow(h.limitKey(r), time.Now()) {
			w.Header().Set("Retry-After", "1")
			h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "too many requests"))
			return
		}
	}
	if r.RequestURI == "*" { // "OPTIONS *": nothing here answers for the whole server
		h.Error(w, r, chatr.Errorf(chatr.EINVALID, "no such resource"))
		return
	}
	if isTransfer(r) {
		// A file's bytes take as long as the network does; the files
		// handler bounds its own storage work.
		h.mux.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.StoreTimeout)
	defer cancel()
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

// isTransfer reports whether r uploads or downloads a file.
func isTransfer(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/files/") || strings.HasPrefix(p, "/api/chats/") && strings.HasSuffix(p, "/files")
}

// ClientIP is the address the request came from: the peer, or with
// TrustProxy the nearest address in X-Forwarded-For.
func (h *Handler) ClientIP(r *http.Request) string {
	if h.cfg.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limitKey is what the per-IP limits count by: the client's IPv4 address,
// or the /64 network of an IPv6 one (a single host is usually given a
// whole /64, and could otherwise pick a fresh address for every request).
func (h *Handler) limitKey(r *http.Request) string { return AddressKey(h.ClientIP(r)) }

// AddressKey is the key per-address limits count by: an IPv4 address as
// is, an IPv6 one by its /64 (IPv4-mapped ones as IPv4).
func AddressKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, _ := addr.WithZone("").Prefix(64)
	return p.String()
}

// allowSignIn reports whether the client may try to sign in now.
func (h *Handler) allowSignIn(r *http.Request) bool {
	return h.signIns == nil || h.signIns.Allow(h.limitKey(r), time.Now())
}

// ContentSecurityPolicy allows only the server's own scripts, styles,
// sockets, service worker and manifest: no inline script, no eval, no
// third-party origin.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// authed wraps a handler that needs a session or an API token (see
// identify); without one it answers 401.
func (h *Handler) authed(next func(http.ResponseWriter, *http.Request, chatr.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := h.identify(w, r)
		if err != nil {
			h.Error(w, r, err)
			return
		}
		next(w, r, u)
	}
}

// Error writes err as {"error": code, "message": text} with the status of
// its code; unexpected errors are logged and shown as "internal error".
func (h *Handler) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := chatr.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == chatr.EINTERNAL {
		h.log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if h.storeUnavailable(err) {
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable",
				"message": "storage is not answering; try again shortly"})
			return
		}
	}
	writeJSON(w, status, map[string]string{"error": code, "message": chatr.ErrorMessage(err)})
}

// storeUnavailable reports whether an unexpected error came from storage
// that is too slow or down: the request ran out of time, or the store does
// not answer a ping now.
func (h *Handler) storeUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return h.cfg.Store.Ping(ctx) != nil
}

var statusOf = map[string]int{
	chatr.ECONFLICT:  http.StatusConflict,
	chatr.EFORBIDDEN: http.StatusForbidden,
	chatr.EGONE:      http.StatusGone,
	chatr.EINVALID:   http.StatusBadRequest,
	chatr.ELIMIT:     http.StatusTooManyRequests,
	chatr.ENOTFOUND:  http.StatusNotFound,
	chatr.EUNAUTH:    http.StatusUnauthorized,
	chatr.EINTERNAL:  http.StatusInternalServerError,
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// SameOrigin reports whether r's Origin header, if any, is the server's own
// origin or an allowed one. Requests without Origin (non-browser clients,
// same-origin GETs) pass.
func (h *Handler) SameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, h.host(r)) {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// host is the host the client addressed.
func (h *Handler) host(r *http.Request) string {
	if h.cfg.TrustProxy {
		if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
			return fh
		}
	}
	return r.Host
}

// decodeBody reads a JSON body of at most maxBodyBytes into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return chatr.Errorf(chatr.EINVALID, "request body too large")
		}
		return chatr.Errorf(chatr.EINVALID, "request body could not be read")
	}
	return decodeJSON(b, v)
}

// decodeJSON decodes a JSON object into v. Invalid UTF-8 is refused rather
// than silently turned into U+FFFD, as encoding/json would.
func decodeJSON(b []byte, v any) error {
	if !utf8.Valid(b) {
		return chatr.Errorf(chatr.EINVALID, "request body must be valid UTF-8")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return chatr.Errorf(chatr.EINVALID, "request body must be a JSON object")
	}
	return nil
}

// CheckOrigin is the hub's upgrade check: browsers may open sockets only from
// the server's own (or an allowed) origin.
func (h *Handler) CheckOrigin(r *http.Request) bool { return h.SameOrigin(r) }

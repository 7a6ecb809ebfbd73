// Package oauth signs users in with external identity providers: GitHub
// (OAuth 2 and its user API), Microsoft Entra ID (OpenID Connect, any tenant
// or a fixed one), X (OAuth 2 with PKCE and its users/me API) and any OpenID
// Connect issuer found by discovery.
//
// It serves /.auth/login/<name>, which sends the browser to the provider with
// a fresh state, a PKCE challenge and (for OpenID Connect) a nonce, and
// /.auth/login/<name>/callback, which checks them, exchanges the code,
// verifies the identity (id token or user API) and hands the user to a
// SignIn function. What it keeps between the two requests lives in an
// encrypted, HttpOnly cookie of that browser, accepted once.
//
// It knows nothing of sessions, chats or storage: the server wires SignIn.
package oauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
	"github.com/chatr/chatr/httpapi"
)

// Timings of a sign-in.
const (
	flowTTL         = 10 * time.Minute // how long a started sign-in may take at the provider
	providerTimeout = 15 * time.Second // each call to a provider (discovery, token, user API)
)

// Config lists the providers to offer. A provider is enabled when its client
// id and secret are set. The fields under "Wiring" are set by the server.
type Config struct {
	GitHub  GitHub
	AAD     AAD
	Twitter Twitter
	OIDC    []OIDC // any number of OpenID Connect issuers, each with its own name

	// Who may sign in through these providers (empty: anyone a provider
	// vouches for). AllowEmailDomains admits users with a verified email
	// address in one of the domains (GitHub's verified addresses, an OpenID
	// Connect email with email_verified; Entra ID and X tell none, so their
	// users are refused). AllowGitHubOrgs admits GitHub users who are active
	// members of one of the organisations. Both apply when both are set.
	AllowEmailDomains []string
	AllowGitHubOrgs   []string

	// PublicURL is the origin users reach Chatr at ("https://chat.example.com").
	// Callback URLs are built from it; when empty, from each request's own
	// origin (X-Forwarded-Proto/-Host count only with TrustProxy).
	PublicURL string

	// Wiring.

	// SignIn starts a session for a user a provider vouched for.
	SignIn func(ctx context.Context, w http.ResponseWriter, r *http.Request, u chatr.User) error
	// Key encrypts the sign-in cookie; nodes of a cluster share it. When
	// empty a random key is used, good for one node only.
	Key        []byte
	TrustProxy bool
	HTTPClient *http.Client     // for calls to providers; default: a client with a 15 s timeout
	Logger     *slog.Logger     // default slog.Default()
	Now        func() time.Time // clock for token expiry checks; default time.Now
}

// Handler serves the sign-in endpoints of the configured providers.
type Handler struct {
	cfg       Config
	providers []provider
	byName    map[string]provider
	aead      cipher.AEAD
	// tokenClient asks token endpoints for JSON (GitHub answers a form
	// otherwise).
	tokenClient *http.Client
	log         *slog.Logger
	used        usedStates
}

// provider is one configured identity provider.
type provider interface {
	name() string
	label() string
	// oauth2Config returns the client configuration (without RedirectURL),
	// discovering the provider's endpoints on first use.
	oauth2Config(ctx context.Context) (*oauth2.Config, error)
	// authParams are extra parameters of the authorization request.
	authParams(f *flow) []oauth2.AuthCodeOption
	// identify turns the token response into the signed-in user.
	identify(ctx context.Context, tok *oauth2.Token, f *flow) (chatr.User, error)
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// New checks cfg and returns the handler; with no provider enabled it answers
// 404 to every sign-in path.
func New(cfg Config) (*Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: providerTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("oauth: public URL %q: want scheme://host[:port]", cfg.PublicURL)
		}
		cfg.PublicURL = u.Scheme + "://" + u.Host
	}
	if cfg.SignIn == nil {
		cfg.SignIn = func(context.Context, http.ResponseWriter, *http.Request, chatr.User) error {
			return errors.New("oauth: no SignIn configured")
		}
	}
	key := cfg.Key
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	sum := sha256.Sum256(append([]byte("chatr oauth sign-in cookie\x00"), key...))
	block, _ := aes.NewCipher(sum[:])
	aead, _ := cipher.NewGCM(block)
	h := &Handler{cfg: cfg, byName: map[string]provider{}, aead: aead, log: cfg.Logger}
	pol := newPolicy(cfg)
	if len(pol.orgs) > 0 && !cfg.GitHub.enabled() {
		return nil, errors.New("oauth: GitHub organisations are allowed, but sign-in with GitHub is not configured")
	}
	tc := *cfg.HTTPClient
	tc.Transport = acceptJSON{next: cfg.HTTPClient.Transport}
	h.tokenClient = &tc

	add := func(p provider) error {
		n := p.name()
		if !nameRE.MatchString(n) {
			return fmt.Errorf("oauth: provider name %q: use 1 to 32 lower-case letters, digits and dashes", n)
		}
		if n == "guest" || n == "me" || n == "logout" || n == "providers" {
			return fmt.Errorf("oauth: provider name %q is reserved", n)
		}
		if _, dup := h.byName[n]; dup {
			return fmt.Errorf("oauth: two providers are named %q", n)
		}
		h.byName[n] = p
		h.providers = append(h.providers, p)
		return nil
	}
	if cfg.GitHub.enabled() {
		if err := add(newGitHub(cfg.GitHub, cfg.HTTPClient, pol)); err != nil {
			return nil, err
		}
	}
	if cfg.AAD.enabled() {
		if err := add(newAAD(cfg.AAD, cfg.HTTPClient, cfg.Now, pol)); err != nil {
			return nil, err
		}
	}
	if cfg.Twitter.enabled() {
		if err := add(newTwitter(cfg.Twitter, cfg.HTTPClient, pol)); err != nil {
			return nil, err
		}
	}
	for _, o := range cfg.OIDC {
		if o.ClientID == "" && o.ClientSecret == "" && o.Issuer == "" {
			continue
		}
		if o.ClientID == "" || o.ClientSecret == "" || o.Issuer == "" {
			return nil, fmt.Errorf("oauth: OIDC provider %q needs an issuer, a client id and a client secret", o.Name)
		}
		p, err := newOIDC(o, cfg.HTTPClient, cfg.Now, pol)
		if err != nil {
			return nil, err
		}
		if err := add(p); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Providers lists the enabled providers in display order, for the sign-in page.
func (h *Handler) Providers() []httpapi.Provider {
	list := make([]httpapi.Provider, 0, len(h.providers))
	for _, p := range h.providers {
		list = append(list, httpapi.Provider{Name: p.name(), Label: p.label()})
	}
	return list
}

// ServeHTTP serves GET /.auth/login/<name> and GET|POST /.auth/login/<name>/callback.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/.auth/login/")
	if !ok {
		writeError(w, http.StatusNotFound, chatr.ENOTFOUND, "no such sign-in endpoint")
		return
	}
	name, tail, _ := strings.Cut(rest, "/")
	p, ok := h.byName[name]
	if !ok {
		writeError(w, http.StatusNotFound, chatr.ENOTFOUND, "no such sign-in provider")
		return
	}
	switch {
	case tail == "" && r.Method == http.MethodGet:
		h.login(w, r, p)
	case tail == "callback" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		h.callback(w, r, p)
	default:
		writeError(w, http.StatusNotFound, chatr.ENOTFOUND, "no such sign-in endpoint")
	}
}

// flow is what a sign-in carries from its start to its callback, in the
// browser's encrypted cookie.
type flow struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Verifier string `json:"v"`           // PKCE code verifier
	Nonce    string `json:"n,omitempty"` // OpenID Connect nonce
	Redirect string `json:"r"`           // the redirect_uri sent to the provider
	Target   string `json:"t"`           // same-origin path to land on afterwards
	Expires  int64  `json:"e"`           // unix seconds
}

// login starts a sign-in: it keeps a new flow in the cookie and sends the
// browser to the provider.
func (h *Handler) login(w http.ResponseWriter, r *http.Request, p provider) {
	ctx, cancel := context.WithTimeout(r.Context(), providerTimeout)
	defer cancel()
	oc, err := p.oauth2Config(ctx)
	if err != nil {
		h.log.Warn("sign-in provider unavailable", "provider", p.name(), "err", err)
		writeError(w, http.StatusBadGateway, chatr.EINTERNAL, "the sign-in provider cannot be reached; try again later")
		return
	}
	f := &flow{
		Provider: p.name(),
		State:    randomString(32),
		Verifier: oauth2.GenerateVerifier(),
		Redirect: h.origin(r) + "/.auth/login/" + p.name() + "/callback",
		Target:   h.target(r, r.URL.Query().Get("post_login_redirect_uri")),
		Expires:  time.Now().Add(flowTTL).Unix(),
	}
	if _, isOIDC := p.(*oidcProvider); isOIDC {
		f.Nonce = randomString(32)
	}
	h.setFlowCookie(w, r, f)
	c := *oc
	c.RedirectURL = f.Redirect
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier)}, p.authParams(f)...)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, c.AuthCodeURL(f.State, opts...), http.StatusFound)
}

// callback finishes a sign-in that login started in this browser.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request, p provider) {
	f, err := h.takeFlow(w, r, p.name())
	if err != nil {
		h.log.Info("sign-in callback refused", "provider", p.name(), "err", err)
		writeError(w, http.StatusBadRequest, chatr.EINVALID, "this sign-in is unknown, expired or already used; start again")
		return
	}
	if state := r.FormValue("state"); subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		h.log.Info("sign-in callback refused: state mismatch", "provider", p.name())
		writeError(w, http.StatusBadRequest, chatr.EINVALID, "sign-in state does not match; start again")
		return
	}
	if !h.used.take(f.State, time.Unix(f.Expires, 0)) {
		h.log.Warn("sign-in callback replayed", "provider", p.name())
		writeError(w, http.StatusBadRequest, chatr.EINVALID, "this sign-in was already used; start again")
		return
	}
	if e := r.FormValue("error"); e != "" {
		h.log.Info("provider refused sign-in", "provider", p.name(), "error", e, "description", r.FormValue("error_description"))
		writeError(w, http.StatusUnauthorized, chatr.EUNAUTH, fmt.Sprintf("%s did not sign you in (%s)", p.label(), clip(e, 64)))
		return
	}
	code := r.FormValue("code")
	if code == "" {
		writeError(w, http.StatusBadRequest, chatr.EINVALID, "the provider sent no authorization code")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*providerTimeout)
	defer cancel()
	oc, err := p.oauth2Config(ctx)
	if err != nil {
		h.log.Warn("sign-in provider unavailable", "provider", p.name(), "err", err)
		writeError(w, http.StatusBadGateway, chatr.EINTERNAL, "the sign-in provider cannot be reached; try again later")
		return
	}
	c := *oc
	c.RedirectURL = f.Redirect
	tok, err := c.Exchange(context.WithValue(ctx, oauth2.HTTPClient, h.tokenClient), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		h.log.Info("sign-in code exchange failed", "provider", p.name(), "err", err)
		writeError(w, http.StatusUnauthorized, chatr.EUNAUTH, fmt.Sprintf("%s did not accept the sign-in code; start again", p.label()))
		return
	}
	u, err := p.identify(ctx, tok, f)
	if code := auth.RefusalCode(err); code != "" {
		h.refused(w, r, p, code, err)
		return
	}
	if err != nil {
		h.log.Info("sign-in identity refused", "provider", p.name(), "err", err)
		msg := chatr.ErrorMessage(err)
		if chatr.ErrorCode(err) == chatr.EINTERNAL {
			msg = p.label() + " did not tell who you are"
		}
		writeError(w, http.StatusUnauthorized, chatr.EUNAUTH, "sign-in failed: "+msg)
		return
	}
	if err := h.cfg.SignIn(r.Context(), w, r, u); err != nil {
		if code := auth.RefusalCode(err); code != "" {
			h.refused(w, r, p, code, err)
			return
		}
		h.log.Error("sign-in: start session", "provider", p.name(), "user", u.ID, "err", err)
		writeError(w, http.StatusInternalServerError, chatr.EINTERNAL, "internal error")
		return
	}
	h.log.Info("signed in", "provider", p.name(), "user", u.ID)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, f.Target, http.StatusFound)
}

// refused sends a browser whose sign-in the server's policy refused to the
// app's page, which says why.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, p provider, code string, err error) {
	h.log.Info("sign-in refused by policy", "provider", p.name(), "code", code, "err", err)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, refusedAt(code), http.StatusFound)
}

// origin is the scheme://host browsers reach this server at.
func (h *Handler) origin(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return h.cfg.PublicURL
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if h.cfg.TrustProxy {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
			scheme = p
		}
		if fh := firstValue(r.Header.Get("X-Forwarded-Host")); fh != "" {
			host = fh
		}
	}
	return scheme + "://" + host
}

func (h *Handler) isTLS(r *http.Request) bool {
	return strings.HasPrefix(h.origin(r), "https:")
}

// target returns where to land after sign-in: a path on this site. An
// absolute URL of this very origin is reduced to its path; anything else
// (another host, "//host", a scheme) gives "/".
func (h *Handler) target(r *http.Request, t string) string {
	if o := h.origin(r); strings.HasPrefix(t, o+"/") || t == o {
		t = strings.TrimPrefix(t, o)
		if t == "" {
			t = "/"
		}
	}
	return httpapi.SafeRedirect(t)
}

func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(v))
}

func cookieName(provider string) string { return "chatr_oauth_" + provider }

func callbackPath(provider string) string { return "/.auth/login/" + provider + "/callback" }

func (h *Handler) setFlowCookie(w http.ResponseWriter, r *http.Request, f *flow) {
	plain, _ := json.Marshal(f)
	nonce := make([]byte, h.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := h.aead.Seal(nonce, nonce, plain, []byte(cookieName(f.Provider)))
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(f.Provider), Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: callbackPath(f.Provider), MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.isTLS(r),
	})
}

// takeFlow reads and clears the flow cookie: whatever happens next, this
// browser's cookie is not accepted twice.
func (h *Handler) takeFlow(w http.ResponseWriter, r *http.Request, provider string) (*flow, error) {
	name := cookieName(provider)
	c, err := r.Cookie(name)
	if err != nil {
		return nil, errors.New("no sign-in cookie")
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: callbackPath(provider), MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.isTLS(r)})
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(sealed) < h.aead.NonceSize() {
		return nil, errors.New("malformed sign-in cookie")
	}
	ns := h.aead.NonceSize()
	plain, err := h.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(name))
	if err != nil {
		return nil, errors.New("sign-in cookie fails authentication")
	}
	var f flow
	if err := json.Unmarshal(plain, &f); err != nil {
		return nil, errors.New("malformed sign-in cookie")
	}
	if f.Provider != provider {
		return nil, errors.New("sign-in cookie of another provider")
	}
	if time.Now().Unix() > f.Expires {
		return nil, errors.New("sign-in cookie expired")
	}
	return &f, nil
}

// usedStates remembers the states of finished callbacks until they expire,
// so that a captured callback URL and cookie cannot be replayed on this node
// (across nodes the provider's one-time codes still stop it).
type usedStates struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	pruneAt int // prune expired entries when the map reaches this size
}

// maxUsedStates bounds the memory a flood of sign-ins can take; past it the
// oldest protection is dropped and the providers' one-time codes remain.
const maxUsedStates = 100_000

// take marks state used and reports whether it was unused.
func (u *usedStates) take(state string, expires time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := time.Now()
	if u.seen == nil {
		u.seen, u.pruneAt = map[string]time.Time{}, 1024
	}
	if exp, ok := u.seen[state]; ok && now.Before(exp) {
		return false
	}
	if len(u.seen) >= u.pruneAt {
		for s, exp := range u.seen {
			if now.After(exp) {
				delete(u.seen, s)
			}
		}
		if len(u.seen) >= maxUsedStates {
			clear(u.seen)
		}
		u.pruneAt = max(1024, 2*len(u.seen))
	}
	u.seen[state] = expires
	return true
}

// acceptJSON adds "Accept: application/json" to requests that name no type.
type acceptJSON struct{ next http.RoundTripper }

func (a acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	next := a.next
	if next == nil {
		next = http.DefaultTransport
	}
	if r.Header.Get("Accept") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Accept", "application/json")
	}
	return next.RoundTrip(r)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": message})
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clip shortens s to at most n bytes of printable ASCII, for messages that
// echo what a provider sent.
func clip(s string, n int) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= n {
			break
		}
		if c >= 0x20 && c < 0x7f {
			b.WriteRune(c)
		}
	}
	return b.String()
}

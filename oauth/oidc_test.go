package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/chatr/chatr/oauth"
	"github.com/chatr/chatr/server"
)

// The OpenID Connect tests run against a real provider process (see
// requireOP). Chatr is configured with three OIDC providers on it:
//
//   - "op": issuer a, as anyone would configure it;
//   - "mixup": discovery and keys of issuer a, but the authorization and
//     token endpoints of issuer b, which signs with the same key: its
//     tokens verify but name the wrong issuer;
//   - "swap": issuer a, its token endpoint behind a proxy that can replace
//     the identity token by another token a really issued (for another
//     client, or already expired).

type discovery struct {
	Issuer string `json:"issuer"`
	Auth   string `json:"authorization_endpoint"`
	Token  string `json:"token_endpoint"`
}

func discover(t *testing.T, issuer string) discovery {
	t.Helper()
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery of %s: %v", issuer, err)
	}
	defer resp.Body.Close()
	var d discovery
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.Token == "" {
		t.Fatalf("discovery of %s: %v", issuer, err)
	}
	return d
}

// tokenSwap forwards token requests to the provider and, when armed,
// replaces the identity token in the answer.
type tokenSwap struct {
	target string
	mu     sync.Mutex
	idTok  string
}

func (s *tokenSwap) arm(idToken string) {
	s.mu.Lock()
	s.idTok = idToken
	s.mu.Unlock()
}

func (s *tokenSwap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, s.target, bytes.NewReader(body))
	for _, h := range []string{"Authorization", "Content-Type", "Accept"} {
		req.Header.Set(h, r.Header.Get(h))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	s.mu.Lock()
	if s.idTok != "" && out["id_token"] != nil {
		out["id_token"] = s.idTok
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_ = json.NewEncoder(w).Encode(out)
}

type oidcEnv struct {
	base string
	a, b discovery
	swap *tokenSwap
}

func startOIDC(t *testing.T) *oidcEnv {
	t.Helper()
	issuerA, issuerB := requireOP(t)
	env := &oidcEnv{a: discover(t, issuerA), b: discover(t, issuerB)}
	env.swap = &tokenSwap{target: env.a.Token}
	proxy := httptest.NewServer(env.swap)
	t.Cleanup(proxy.Close)
	env.base = startNode(t, server.Config{OAuth: oauth.Config{OIDC: []oauth.OIDC{
		{Name: "op", Label: "Test OP", Issuer: issuerA, ClientID: "chatr", ClientSecret: "chatr-secret"},
		{Name: "mixup", Issuer: issuerA, ClientID: "chatr", ClientSecret: "chatr-secret", AuthURL: env.b.Auth, TokenURL: env.b.Token},
		{Name: "swap", Issuer: issuerA, ClientID: "chatr", ClientSecret: "chatr-secret", TokenURL: proxy.URL},
	}}})
	return env
}

// mintIDToken signs account in at the provider as client and returns the
// identity token the provider issued, as another application would get it.
func mintIDToken(t *testing.T, d discovery, client, secret, redirectPath, account string) string {
	t.Helper()
	const appBase = "http://127.0.0.1:9" // never contacted: the code is taken from the redirect
	b := newBrowser(t, appBase)
	verifier := oauth2.GenerateVerifier()
	c := oauth2.Config{
		ClientID: client, ClientSecret: secret, RedirectURL: appBase + redirectPath, Scopes: []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: d.Auth, TokenURL: d.Token, AuthStyle: oauth2.AuthStyleInHeader},
	}
	authURL, _ := url.Parse(c.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", "some-other-nonce"), oauth2.SetAuthURLParam("login_hint", account)))
	cb := b.authorize(authURL)
	tok, err := c.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("mint a token for %s: %v", client, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("mint a token for %s: no id_token", client)
	}
	return raw
}

func TestOIDCSignIn(t *testing.T) {
	env := startOIDC(t)
	b := newBrowser(t, env.base)

	// The sign-in page lists the provider.
	var list struct {
		Providers []struct{ Name, Label, LoginURL string }
	}
	if err := json.Unmarshal(b.get("/.auth/providers").Body, &list); err != nil || len(list.Providers) != 3 ||
		list.Providers[0].Name != "op" || list.Providers[0].Label != "Test OP" || list.Providers[0].LoginURL != "/.auth/login/op" {
		t.Fatalf("providers = %+v (%v), want op, mixup, swap", list.Providers, err)
	}

	// The login redirect: state, PKCE and nonce, our own callback.
	auth := b.startSignIn("op", "/?chat=general")
	q := auth.Query()
	if got, want := auth.Scheme+"://"+auth.Host+auth.Path, env.a.Auth; got != want {
		t.Errorf("authorization endpoint %s, want %s", got, want)
	}
	for k, want := range map[string]string{
		"client_id": "chatr", "response_type": "code", "code_challenge_method": "S256",
		"redirect_uri": env.base + "/.auth/login/op/callback",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 32 {
			t.Errorf("%s = %q, want a long random value", k, q.Get(k))
		}
	}
	if !strings.Contains(q.Get("scope"), "openid") {
		t.Errorf("scope %q lacks openid", q.Get("scope"))
	}
	if c := b.cookie("/.auth/login/op/callback", "chatr_oauth_op"); c == nil {
		t.Fatal("no sign-in cookie for the callback")
	} else if strings.Contains(c.Value, q.Get("state")) {
		t.Error("the sign-in cookie shows the state in clear")
	}
	if c := b.cookie("/", "chatr_oauth_op"); c != nil {
		t.Error("the sign-in cookie is sent beyond the callback path")
	}

	// The callback signs in and lands on the saved target.
	cb := b.authorize(auth)
	if cb.Path != "/.auth/login/op/callback" || cb.Query().Get("code") == "" {
		t.Fatalf("provider came back to %s", cb)
	}
	r := b.get(cb.String())
	if r.Status != http.StatusFound || r.Location != "/?chat=general" {
		t.Fatalf("callback: status %d, Location %q, want 302 to /?chat=general; body %s", r.Status, r.Location, r.Body)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "chatr_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie %+v, want HttpOnly and SameSite=Lax", session)
	}
	if c := b.cookie("/.auth/login/op/callback", "chatr_oauth_op"); c != nil {
		t.Error("the sign-in cookie outlived its callback")
	}

	// /.auth/me shows who signed in, and the API accepts the session.
	p := b.me()
	if p == nil || p.IdentityProvider != "op" || p.UserID != "oidc-op:alice" || p.UserDetails != "alice" {
		t.Fatalf("/.auth/me = %+v, want op / oidc-op:alice / alice", p)
	}
	if r := b.get("/api/getToken"); r.Status != 200 {
		t.Errorf("/api/getToken with the new session: status %d", r.Status)
	}

	// Signing in again keeps the same user id.
	b2 := newBrowser(t, env.base)
	b2.signIn("op", "")
	if p2 := b2.me(); p2 == nil || p2.UserID != p.UserID {
		t.Errorf("second sign-in: %+v, want the same user %s", p2, p.UserID)
	}

	// Logout ends the session.
	if r := b.get("/.auth/logout?post_logout_redirect_uri=/bye"); r.Status != http.StatusFound || r.Location != "/bye" {
		t.Errorf("logout: status %d, Location %q", r.Status, r.Location)
	}
	if p := b.me(); p != nil {
		t.Errorf("after logout /.auth/me = %+v, want null", p)
	}
	if r := b.get("/api/getToken"); r.Status != http.StatusUnauthorized {
		t.Errorf("/api/getToken after logout: status %d, want 401", r.Status)
	}
}

func TestOIDCBadState(t *testing.T) {
	env := startOIDC(t)

	t.Run("tampered state", func(t *testing.T) {
		b := newBrowser(t, env.base)
		cb := b.authorize(b.startSignIn("op", ""))
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		b.wantRefused(b.get(cb.String()), http.StatusBadRequest, "state does not match")
	})
	t.Run("missing state", func(t *testing.T) {
		b := newBrowser(t, env.base)
		cb := b.authorize(b.startSignIn("op", ""))
		q := cb.Query()
		q.Del("state")
		cb.RawQuery = q.Encode()
		b.wantRefused(b.get(cb.String()), http.StatusBadRequest, "state does not match")
	})
	t.Run("callback in another browser", func(t *testing.T) {
		// Login CSRF: an attacker's own callback URL opened by a victim.
		attacker := newBrowser(t, env.base)
		cb := attacker.authorize(attacker.startSignIn("op", ""))
		victim := newBrowser(t, env.base)
		victim.wantRefused(victim.get(cb.String()), http.StatusBadRequest, "start again")
	})
	t.Run("forged cookie", func(t *testing.T) {
		b := newBrowser(t, env.base)
		cb := b.authorize(b.startSignIn("op", ""))
		u, _ := url.Parse(env.base + "/.auth/login/op/callback")
		c := b.cookie("/.auth/login/op/callback", "chatr_oauth_op")
		c.Value = c.Value[:len(c.Value)-2] + "AA"
		c.Path = "/.auth/login/op/callback"
		b.jar.SetCookies(u, []*http.Cookie{c})
		b.wantRefused(b.get(cb.String()), http.StatusBadRequest, "start again")
	})
	t.Run("provider error", func(t *testing.T) {
		b := newBrowser(t, env.base)
		auth := b.startSignIn("op", "")
		r := b.get("/.auth/login/op/callback?error=access_denied&state=" + url.QueryEscape(auth.Query().Get("state")))
		b.wantRefused(r, http.StatusUnauthorized, "access_denied")
	})
	t.Run("unknown provider", func(t *testing.T) {
		b := newBrowser(t, env.base)
		if r := b.get("/.auth/login/nope"); r.Status != http.StatusNotFound {
			t.Errorf("unknown provider: status %d, want 404", r.Status)
		}
	})
}

func TestOIDCReplayedCode(t *testing.T) {
	env := startOIDC(t)
	b := newBrowser(t, env.base)
	auth := b.startSignIn("op", "")
	cookie := *b.cookie("/.auth/login/op/callback", "chatr_oauth_op")
	cb := b.authorize(auth)
	if r := b.get(cb.String()); r.Status != http.StatusFound {
		t.Fatalf("first callback: status %d, body %s", r.Status, r.Body)
	}

	t.Run("same browser", func(t *testing.T) {
		r := b.get(cb.String())
		if r.Status != http.StatusBadRequest {
			t.Fatalf("replayed callback: status %d, want 400; body %s", r.Status, r.Body)
		}
	})
	t.Run("with the captured cookie", func(t *testing.T) {
		thief := newBrowser(t, env.base)
		u, _ := url.Parse(env.base + "/.auth/login/op/callback")
		cookie.Path = "/.auth/login/op/callback"
		thief.jar.SetCookies(u, []*http.Cookie{&cookie})
		thief.wantRefused(thief.get(cb.String()), http.StatusBadRequest, "already used")
	})
	t.Run("code under a fresh state", func(t *testing.T) {
		// The provider itself refuses a code it already exchanged.
		thief := newBrowser(t, env.base)
		fresh := thief.startSignIn("op", "")
		q := url.Values{"code": {cb.Query().Get("code")}, "state": {fresh.Query().Get("state")}}
		thief.wantRefused(thief.get("/.auth/login/op/callback?"+q.Encode()), http.StatusUnauthorized, "did not accept the sign-in code")
	})
}

func TestOIDCTokenChecks(t *testing.T) {
	env := startOIDC(t)

	t.Run("wrong issuer", func(t *testing.T) {
		b := newBrowser(t, env.base)
		auth := b.startSignIn("mixup", "")
		if got := auth.Scheme + "://" + auth.Host; got != env.b.Issuer {
			t.Fatalf("mixup sends the browser to %s, want issuer b %s", got, env.b.Issuer)
		}
		b.wantRefused(b.get(b.authorize(auth).String()), http.StatusUnauthorized, "wrong issuer")
	})
	t.Run("wrong audience", func(t *testing.T) {
		env.swap.arm(mintIDToken(t, env.a, "other", "other-secret", "/cb", "alice"))
		defer env.swap.arm("")
		b := newBrowser(t, env.base)
		b.wantRefused(b.get(b.authorize(b.startSignIn("swap", "")).String()), http.StatusUnauthorized, "wrong audience")
	})
	t.Run("expired", func(t *testing.T) {
		// The provider gives "shortlived" identity tokens of one second.
		tok := mintIDToken(t, env.a, "chatr", "chatr-secret", "/.auth/login/op/callback", "shortlived")
		time.Sleep(2100 * time.Millisecond)
		env.swap.arm(tok)
		defer env.swap.arm("")
		b := newBrowser(t, env.base)
		b.wantRefused(b.get(b.authorize(b.startSignIn("swap", "")).String()), http.StatusUnauthorized, "expired")
	})
	t.Run("another sign-in's token", func(t *testing.T) {
		// A valid token of this client, issued for another sign-in: its
		// nonce gives it away.
		env.swap.arm(mintIDToken(t, env.a, "chatr", "chatr-secret", "/.auth/login/op/callback", "mallory"))
		defer env.swap.arm("")
		b := newBrowser(t, env.base)
		b.wantRefused(b.get(b.authorize(b.startSignIn("swap", "")).String()), http.StatusUnauthorized, "nonce")
	})
	t.Run("unswapped", func(t *testing.T) {
		// The proxy alone changes nothing: the cases above fail for their
		// token, not for the detour.
		b := newBrowser(t, env.base)
		b.signIn("swap", "")
		if p := b.me(); p == nil || p.UserID != "oidc-swap:alice" || p.IdentityProvider != "swap" {
			t.Errorf("/.auth/me = %+v, want oidc-swap:alice", p)
		}
	})
}

func TestOIDCOpenRedirect(t *testing.T) {
	env := startOIDC(t)
	for _, tc := range []struct{ target, want string }{
		{"https://evil.example", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/" + strings.TrimPrefix(env.base, "http://"), "/"},
		{"javascript:alert(1)", "/"},
		{"", "/"},
		{"/chats?id=1", "/chats?id=1"},
		{env.base + "/chats", "/chats"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			b := newBrowser(t, env.base)
			if got := b.signIn("op", tc.target); got != tc.want {
				t.Errorf("post_login_redirect_uri=%q: landed on %q, want %q", tc.target, got, tc.want)
			}
			if b.me() == nil {
				t.Error("not signed in")
			}
		})
	}
}
